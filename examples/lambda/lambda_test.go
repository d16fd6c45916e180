package lambda_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/wootric-go/wootric"
	wlambda "github.com/wootric-go/wootric/examples/lambda"
	"github.com/wootric-go/wootric/wootrictest"
)

func TestLambdaHandlers(t *testing.T) {
	body, err := wootric.Encode(wootrictest.Sample(t, wootric.ResponseCreated, wootric.CES), wootric.Form)
	if err != nil {
		t.Fatal(err)
	}
	sig := wootric.Sign(wootrictest.Secret, body)
	b64 := base64.StdEncoding.EncodeToString(body)
	var stored int
	store := func(_ context.Context, e *wootric.Event) error { stored++; return nil }
	gateway := wlambda.APIGateway(wootrictest.Secret, store)
	url := wlambda.FunctionURL(wootrictest.Secret, store)

	tests := []struct {
		name string
		call func() int
		want int
	}{
		{"API Gateway, plain body", func() int {
			res, _ := gateway(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "POST", Body: string(body),
				Headers: map[string]string{"X-Wootric-Signature": sig}})
			return res.StatusCode
		}, http.StatusOK},
		{"API Gateway, base64 body", func() int {
			res, _ := gateway(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "POST", Body: b64, IsBase64Encoded: true,
				Headers: map[string]string{"X-Wootric-Signature": sig}})
			return res.StatusCode
		}, http.StatusOK},
		{"API Gateway, base64 body taken as sent", func() int {
			res, _ := gateway(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "POST", Body: b64,
				Headers: map[string]string{"X-Wootric-Signature": sig}})
			return res.StatusCode
		}, http.StatusUnauthorized},
		{"function URL, lower-case header, base64 body", func() int {
			req := events.LambdaFunctionURLRequest{Body: b64, IsBase64Encoded: true, Headers: map[string]string{"x-wootric-signature": sig}}
			req.RequestContext.HTTP.Method = "POST"
			res, _ := url(context.Background(), req)
			return res.StatusCode
		}, http.StatusOK},
		{"function URL, a GET", func() int {
			req := events.LambdaFunctionURLRequest{}
			req.RequestContext.HTTP.Method = "GET"
			res, _ := url(context.Background(), req)
			return res.StatusCode
		}, http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		if got := tc.call(); got != tc.want {
			t.Errorf("%s: answered %d, want %d", tc.name, got, tc.want)
		}
	}
	if stored != 3 {
		t.Errorf("stored %d events, want 3", stored)
	}
}
