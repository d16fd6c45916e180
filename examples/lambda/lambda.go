// Package lambda receives Wootric webhooks in an AWS Lambda function,
// behind API Gateway (REST API, payload format 1.0) or a function URL.
// There is no *http.Request: the body comes as a string, base64-encoded
// when the platform says so (IsBase64Encoded), and must be decoded back to
// the bytes Wootric signed before wootric.ParseBody verifies it.
//
//	func main() { lambda.Start(wlambda.FunctionURL(os.Getenv("WOOTRIC_SECRET"), store)) }
package lambda

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/wootric-go/wootric"
)

// Store does the work of one verified event; an error answers 500, so
// that Wootric sends the event again.
type Store func(ctx context.Context, e *wootric.Event) error

// APIGateway returns a Lambda handler for API Gateway REST API events.
func APIGateway(secret string, store Store) func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		code := receive(ctx, req.HTTPMethod, req.Body, req.IsBase64Encoded, req.Headers, secret, store)
		return events.APIGatewayProxyResponse{StatusCode: code, Body: http.StatusText(code)}, nil
	}
}

// FunctionURL returns a Lambda handler for function URL events.
func FunctionURL(secret string, store Store) func(context.Context, events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	return func(ctx context.Context, req events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
		code := receive(ctx, req.RequestContext.HTTP.Method, req.Body, req.IsBase64Encoded, req.Headers, secret, store)
		return events.LambdaFunctionURLResponse{StatusCode: code, Body: http.StatusText(code)}, nil
	}
}

// receive verifies and decodes one delivery and stores it, and returns the
// status to answer with.
func receive(ctx context.Context, method, body string, isBase64 bool, headers map[string]string, secret string, store Store) int {
	if method != http.MethodPost {
		return http.StatusMethodNotAllowed
	}
	raw := []byte(body)
	if isBase64 {
		var err error
		if raw, err = base64.StdEncoding.DecodeString(body); err != nil {
			return http.StatusBadRequest
		}
	}
	e, err := wootric.ParseBody(raw, header(headers, wootric.SignatureHeader), secret)
	if err != nil {
		return wootric.StatusCode(err)
	}
	if err := store(ctx, e); err != nil {
		return http.StatusInternalServerError
	}
	return http.StatusOK
}

// header returns the value of name in headers, whatever its case: API
// Gateway keeps the case the client sent, function URLs lower-case it.
func header(headers map[string]string, name string) string {
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
