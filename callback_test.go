package wootric_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
)

// TestHandlerCallbackTimeout checks that the Handler answers when
// CallbackTimeout passes, whether the callbacks heed their context or not.
func TestHandlerCallbackTimeout(t *testing.T) {
	tests := []struct {
		name     string
		timeout  time.Duration
		callback func(ctx context.Context) error
		status   int
	}{
		{"returns in time", 5 * time.Second, func(context.Context) error { return nil }, 200},
		{"fails in time", 5 * time.Second, func(context.Context) error { return errors.New("crm down") }, 500},
		{"ignores its context", 50 * time.Millisecond, func(context.Context) error { time.Sleep(300 * time.Millisecond); return nil }, 503},
		{"heeds its context", 50 * time.Millisecond, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, 503},
		{"no timeout", -1, func(context.Context) error { time.Sleep(100 * time.Millisecond); return nil }, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got error
			h := wootric.NewHandler(testSecret)
			h.CallbackTimeout = tc.timeout
			h.OnResponseCreated(func(ctx context.Context, e *wootric.Event) error { return tc.callback(ctx) })
			keepErrors(h, &got)
			w := serve(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON))
			if w.Code != tc.status {
				t.Fatalf("answer %d (%v), want %d", w.Code, got, tc.status)
			}
			if tc.status == 503 && (!errors.Is(got, wootric.ErrCallbackTimeout) || !errors.Is(got, wootric.ErrCallback)) {
				t.Errorf("error %v, want ErrCallbackTimeout and ErrCallback", got)
			}
		})
	}
}

// TestHandlerCallbackTimeoutReleasesTheClaim: the sender's retry of a
// delivery whose callback hung runs the event.
func TestHandlerCallbackTimeoutReleasesTheClaim(t *testing.T) {
	hang := make(chan struct{})
	var runs atomic.Int32
	h := wootric.NewHandler(testSecret)
	h.Dedup = &wootric.MemoryDeduplicator{}
	h.CallbackTimeout = 50 * time.Millisecond
	h.OnResponseCreated(func(context.Context, *wootric.Event) error {
		if runs.Add(1) == 1 {
			<-hang
		}
		return nil
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer close(hang) // before the server closes, which waits for its handlers
	body := encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)
	var codes []int
	for i := 0; i < 3; i++ {
		codes = append(codes, post(t, srv.URL, body))
	}
	if codes[0] != 503 || codes[1] != 200 || codes[2] != 200 || runs.Load() != 2 {
		t.Errorf("answers %v with %d runs, want [503 200 200] and 2 runs: the retry runs while the first hangs", codes, runs.Load())
	}
}

// post sends body, signed, to url and returns the status, failing the test
// if no answer comes within 10 seconds.
func post(t *testing.T, url string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set(wootric.SignatureHeader, wootric.Sign(testSecret, body))
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatalf("answer %d, its body unread: %v", resp.StatusCode, err)
	}
	return resp.StatusCode
}

// TestHandlerAnswersBeforeAHungCallbackReturns is the case a server's
// WriteTimeout does not cover: the client must get its answer when
// CallbackTimeout passes, not when the callback returns.
func TestHandlerAnswersBeforeAHungCallbackReturns(t *testing.T) {
	hang := make(chan struct{})
	h := wootric.NewHandler(testSecret)
	h.CallbackTimeout = 100 * time.Millisecond
	h.OnResponseCreated(func(context.Context, *wootric.Event) error { <-hang; return nil })
	srv := httptest.NewUnstartedServer(h)
	srv.Config.WriteTimeout = time.Second
	srv.Start()
	defer srv.Close()
	defer close(hang) // before the server closes, which waits for its handlers

	if code := post(t, srv.URL, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)); code != http.StatusServiceUnavailable {
		t.Errorf("answer %d while the callback hangs, want 503", code)
	}
}

// TestCallbackContextKeepsTheContract checks the callbacks' context as
// package context documents one: Err is nil until Done is closed, then
// DeadlineExceeded; the deadline is the Handler's; values and the event
// are there; and the sender hanging up does not end it.
func TestCallbackContextKeepsTheContract(t *testing.T) {
	type key struct{}
	h := wootric.NewHandler(testSecret)
	h.CallbackTimeout = 100 * time.Millisecond
	var problems []string
	h.OnResponseCreated(func(ctx context.Context, e *wootric.Event) error {
		if got, _ := wootric.EventFromContext(ctx); got != e {
			problems = append(problems, "EventFromContext is not the event")
		}
		if ctx.Value(key{}) != "v" {
			problems = append(problems, "the request's value is lost")
		}
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > 100*time.Millisecond {
			problems = append(problems, "no deadline within CallbackTimeout")
		}
		done := ctx.Done()
		if ctx.Err() != nil {
			problems = append(problems, "Err before Done is closed")
		}
		<-done
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			problems = append(problems, "Err after Done is not DeadlineExceeded")
		}
		return nil
	})
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	cancel() // the sender has hung up
	r := delivery(t, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON), testSecret, "").WithContext(parent)
	h.ServeHTTP(httptest.NewRecorder(), r)
	if len(problems) > 0 {
		t.Errorf("callback's context: %v", problems)
	}
}

// TestHandlerSurvivesAnErrorHandlerPanicAtTheDeadline: the deadline's answer
// is written outside the request's goroutine, where net/http would not
// recover a panic.
func TestHandlerSurvivesAnErrorHandlerPanicAtTheDeadline(t *testing.T) {
	h := wootric.NewHandler(testSecret)
	h.CallbackTimeout = 20 * time.Millisecond
	h.Logger = slog.New(&logRecords{})
	h.OnResponseCreated(func(context.Context, *wootric.Event) error { time.Sleep(100 * time.Millisecond); return nil })
	h.ErrorHandler = func(http.ResponseWriter, *http.Request, error) { panic("ErrorHandler bug") }
	serve(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)) // must not end the test binary
}
