// Package lambda receives Wootric webhooks in an AWS Lambda function,
// behind API Gateway (REST API, payload format 1.0) or a function URL,
// with everything a Handler gives a server: the body is verified with the
// Handler's secrets (Parse), then run through its callbacks (Process),
// claimed from its Dedup, with its deadline, panics recovered, and
// reported to its Observe hook and Logger. Lambda runs invocations
// concurrently, on as many instances as it likes: give the Handler a
// shared Dedup (redisdedup, pgdedup) so that copies of an event run once.
//
// There is no *http.Request: the body comes as a string, base64-encoded
// when the platform says so (IsBase64Encoded), and is decoded back to the
// bytes Wootric signed before it is verified.
//
//	h := wootric.NewHandler(os.Getenv("WOOTRIC_SECRET"))
//	h.Dedup = redisdedup.New(rdb)
//	h.On(wootric.ResponseCreated, save)
//	func main() { lambda.Start(wlambda.FunctionURL(h)) }
package lambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/wootric-go/wootric"
)

// APIGateway returns a Lambda handler for API Gateway REST API events.
func APIGateway(h *wootric.Handler) func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		code := receive(ctx, h, req.HTTPMethod, req.Body, req.IsBase64Encoded, req.Headers)
		return events.APIGatewayProxyResponse{StatusCode: code, Body: http.StatusText(code)}, nil
	}
}

// FunctionURL returns a Lambda handler for function URL events.
func FunctionURL(h *wootric.Handler) func(context.Context, events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	return func(ctx context.Context, req events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
		code := receive(ctx, h, req.RequestContext.HTTP.Method, req.Body, req.IsBase64Encoded, req.Headers)
		return events.LambdaFunctionURLResponse{StatusCode: code, Body: http.StatusText(code)}, nil
	}
}

// receive verifies, decodes and runs one delivery, and returns the status
// to answer with.
func receive(ctx context.Context, h *wootric.Handler, method, body string, isBase64 bool, headers map[string]string) int {
	raw := []byte(body)
	if isBase64 {
		var err error
		if raw, err = base64.StdEncoding.DecodeString(body); err != nil {
			return http.StatusBadRequest
		}
	}
	r, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(raw))
	if err != nil {
		return http.StatusBadRequest
	}
	for _, name := range []string{wootric.SignatureHeader, "Content-Type", "Content-Encoding"} {
		if v := header(headers, name); v != "" {
			r.Header.Set(name, v)
		}
	}
	e, err := h.Parse(r)
	if err == nil {
		err = h.Process(ctx, e)
	}
	return wootric.StatusCode(err)
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
