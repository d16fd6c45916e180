package lambda_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

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
	h := wootric.NewHandler(wootrictest.Secret)
	h.On(wootric.ResponseCreated, func(_ context.Context, e *wootric.Event) error { stored++; return nil })
	gateway := wlambda.APIGateway(h)
	url := wlambda.FunctionURL(h)

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

// TestLambdaDedupAndDeadline: concurrent invocations with copies of one
// event run it once, and a callback past its deadline is answered 503.
func TestLambdaDedupAndDeadline(t *testing.T) {
	e := wootrictest.Sample(t, wootric.ResponseCreated, wootric.NPS)
	body, err := wootric.Encode(e, wootric.JSON)
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	release := make(chan struct{})
	h := wootric.NewHandler(wootrictest.Secret)
	h.Dedup = &wootric.MemoryDeduplicator{}
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error {
		runs.Add(1)
		<-release
		return nil
	})
	url := wlambda.FunctionURL(h)
	invoke := func() int {
		req := events.LambdaFunctionURLRequest{Body: string(body), Headers: map[string]string{"x-wootric-signature": wootric.Sign(wootrictest.Secret, body)}}
		req.RequestContext.HTTP.Method = "POST"
		res, _ := url(context.Background(), req)
		return res.StatusCode
	}
	first := make(chan int)
	go func() { first <- invoke() }()
	for runs.Load() == 0 {
		runtime.Gosched() // until the first invocation runs its callback
	}
	if code := invoke(); code != http.StatusServiceUnavailable {
		t.Errorf("a copy while the first runs answered %d, want 503", code)
	}
	close(release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("the first answered %d, want 200", code)
	}
	if code := invoke(); code != http.StatusOK || runs.Load() != 1 {
		t.Errorf("a copy after it answered %d, and the event ran %d times; want 200 and once", code, runs.Load())
	}

	slow := wootric.NewHandler(wootrictest.Secret)
	slow.CallbackTimeout = 10 * time.Millisecond
	slow.On(wootric.ResponseCreated, func(ctx context.Context, _ *wootric.Event) error { <-ctx.Done(); return ctx.Err() })
	req := events.LambdaFunctionURLRequest{Body: string(body), Headers: map[string]string{"X-Wootric-Signature": wootric.Sign(wootrictest.Secret, body)}}
	req.RequestContext.HTTP.Method = "POST"
	if res, _ := wlambda.FunctionURL(slow)(context.Background(), req); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a callback past its deadline answered %d, want 503", res.StatusCode)
	}
}
