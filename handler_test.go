package wootric_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
)

const testSecret = "s3cr3t-token"

// delivery returns a POST of body signed with secret, as Wootric sends it.
func delivery(t testing.TB, body []byte, secret, contentType string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/wootric", bytes.NewReader(body))
	if secret != "" {
		r.Header.Set(wootric.SignatureHeader, wootric.Sign(secret, body))
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// keepErrors makes h answer refusals and failures as it does by default,
// and keep the error of the last in *got.
func keepErrors(h *wootric.Handler, got *error) {
	h.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		*got = err
		w.WriteHeader(wootric.StatusCode(err))
	}
}

// recorder counts what a Handler ran.
type recorder struct {
	callbacks atomic.Int32
	next      atomic.Int32
}

func (rec *recorder) callback(err error, panics bool) func(context.Context, *wootric.Event) error {
	return func(ctx context.Context, e *wootric.Event) error {
		rec.callbacks.Add(1)
		if panics {
			panic("callback bug with jane@example.com")
		}
		return err
	}
}

func (rec *recorder) nextHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.next.Add(1)
		w.WriteHeader(http.StatusAccepted)
	})
}

// TestHandlerAnswers checks each row of the HTTP contract, for ServeHTTP
// and for Middleware.
func TestHandlerAnswers(t *testing.T) {
	jsonBody := readTestdata(t, "doc-response-created.json")
	formBody := readTestdata(t, "response-created.form")
	malformed := readTestdata(t, "doc-decline-created.json")
	failure := errors.New("database down for jane@example.com")

	tests := []struct {
		name      string
		handler   func(rec *recorder) *wootric.Handler
		request   func(t *testing.T) *http.Request
		status    int // ServeHTTP's answer; Middleware's is 202 from next where status is 200
		callbacks int32
	}{
		{"GET is not allowed", registered(nil, false),
			func(t *testing.T) *http.Request { return httptest.NewRequest(http.MethodGet, "/wootric", nil) },
			http.StatusMethodNotAllowed, 0},
		{"PUT is not allowed", registered(nil, false),
			func(t *testing.T) *http.Request {
				r := delivery(t, jsonBody, testSecret, "")
				r.Method = http.MethodPut
				return r
			},
			http.StatusMethodNotAllowed, 0},
		{"body over the limit by Content-Length", limited(100),
			func(t *testing.T) *http.Request { return delivery(t, jsonBody, testSecret, "") },
			http.StatusRequestEntityTooLarge, 0},
		{"body over the limit without Content-Length", limited(100),
			func(t *testing.T) *http.Request {
				r := delivery(t, jsonBody, testSecret, "")
				r.ContentLength = -1
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(jsonBody)))
				return r
			},
			http.StatusRequestEntityTooLarge, 0},
		{"body at the limit", limited(int64(len(jsonBody))),
			func(t *testing.T) *http.Request { return delivery(t, jsonBody, testSecret, "") },
			http.StatusOK, 1},
		{"signature missing", registered(nil, false),
			func(t *testing.T) *http.Request { return delivery(t, jsonBody, "", "") },
			http.StatusUnauthorized, 0},
		{"signature of another secret", registered(nil, false),
			func(t *testing.T) *http.Request { return delivery(t, jsonBody, "other", "") },
			http.StatusUnauthorized, 0},
		{"signature not hex", registered(nil, false),
			func(t *testing.T) *http.Request {
				r := delivery(t, jsonBody, "", "")
				r.Header.Set(wootric.SignatureHeader, "sha1=not-a-mac")
				return r
			},
			http.StatusUnauthorized, 0},
		{"body changed after signing", registered(nil, false),
			func(t *testing.T) *http.Request {
				r := delivery(t, jsonBody, testSecret, "")
				r.Body = io.NopCloser(bytes.NewReader(bytes.Replace(jsonBody, []byte(`"score": 7`), []byte(`"score": 9`), 1)))
				return r
			},
			http.StatusUnauthorized, 0},
		{"signed but malformed", registered(nil, false),
			func(t *testing.T) *http.Request { return delivery(t, malformed, testSecret, "application/json") },
			http.StatusBadRequest, 0},
		{"valid json", registered(nil, false),
			func(t *testing.T) *http.Request { return delivery(t, jsonBody, testSecret, "application/json") },
			http.StatusOK, 1},
		{"valid form", registered(nil, false),
			func(t *testing.T) *http.Request {
				return delivery(t, formBody, testSecret, "application/x-www-form-urlencoded")
			},
			http.StatusOK, 1},
		{"valid, no callback for its type", registered(nil, false),
			func(t *testing.T) *http.Request {
				return delivery(t, readTestdata(t, "decline-created.json"), testSecret, "")
			},
			http.StatusOK, 0},
		{"valid, no callback at all", func(*recorder) *wootric.Handler { return wootric.NewHandler(testSecret) },
			func(t *testing.T) *http.Request { return delivery(t, jsonBody, testSecret, "") },
			http.StatusOK, 0},
		{"callback fails", registered(failure, false),
			func(t *testing.T) *http.Request { return delivery(t, jsonBody, testSecret, "") },
			http.StatusInternalServerError, 1},
		{"callback panics", registered(nil, true),
			func(t *testing.T) *http.Request { return delivery(t, jsonBody, testSecret, "") },
			http.StatusInternalServerError, 1},
		{"zero Handler has no secret", func(rec *recorder) *wootric.Handler {
			h := &wootric.Handler{}
			h.On(wootric.ResponseCreated, rec.callback(nil, false))
			return h
		},
			func(t *testing.T) *http.Request { return delivery(t, jsonBody, testSecret, "") },
			http.StatusInternalServerError, 0},
		{"empty secret signs nothing", func(rec *recorder) *wootric.Handler {
			h := wootric.NewHandler("")
			h.On(wootric.ResponseCreated, rec.callback(nil, false))
			return h
		},
			func(t *testing.T) *http.Request { return delivery(t, jsonBody, "", "") },
			http.StatusInternalServerError, 0},
	}
	for _, tc := range tests {
		for _, asMiddleware := range []bool{false, true} {
			name := tc.name
			if asMiddleware {
				name += "/middleware"
			}
			t.Run(name, func(t *testing.T) {
				rec := &recorder{}
				h := tc.handler(rec)
				var server http.Handler = h
				wantStatus, wantNext := tc.status, int32(0)
				if asMiddleware {
					server = h.Middleware(rec.nextHandler())
					if tc.status == http.StatusOK {
						wantStatus, wantNext = http.StatusAccepted, 1
					}
				}
				w := httptest.NewRecorder()
				server.ServeHTTP(w, tc.request(t))
				if w.Code != wantStatus {
					t.Errorf("status = %d, want %d", w.Code, wantStatus)
				}
				if got := rec.callbacks.Load(); got != tc.callbacks {
					t.Errorf("callbacks run = %d, want %d", got, tc.callbacks)
				}
				if got := rec.next.Load(); got != wantNext {
					t.Errorf("next run = %d, want %d", got, wantNext)
				}
				if w.Code == http.StatusMethodNotAllowed && w.Header().Get("Allow") != http.MethodPost {
					t.Errorf("Allow = %q, want POST", w.Header().Get("Allow"))
				}
				if w.Code >= 400 {
					want := http.StatusText(w.Code) + "\n"
					if w.Body.String() != want {
						t.Errorf("body = %q, want the generic %q", w.Body.String(), want)
					}
				}
			})
		}
	}
}

// registered returns a Handler with one response-created callback that
// returns err or panics.
func registered(err error, panics bool) func(rec *recorder) *wootric.Handler {
	return func(rec *recorder) *wootric.Handler {
		h := wootric.NewHandler("old-secret", testSecret)
		h.On(wootric.ResponseCreated, rec.callback(err, panics))
		return h
	}
}

func limited(n int64) func(rec *recorder) *wootric.Handler {
	return func(rec *recorder) *wootric.Handler {
		h := wootric.NewHandler(testSecret)
		h.MaxBodyBytes = n
		h.On(wootric.ResponseCreated, rec.callback(nil, false))
		return h
	}
}

// countingReader is an endless body that counts what is read of it.
type countingReader struct{ n atomic.Int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	c.n.Add(int64(len(p)))
	return len(p), nil
}

func TestHandlerReadsNoMoreThanTheLimitPlusOne(t *testing.T) {
	for _, limit := range []int64{0, 1, 100, 4096, 1 << 16} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			h := wootric.NewHandler(testSecret)
			h.MaxBodyBytes = limit
			body := &countingReader{}
			r := httptest.NewRequest(http.MethodPost, "/", body)
			r.ContentLength = -1
			r.Header.Set(wootric.SignatureHeader, "sha1="+strings.Repeat("0", 40)) // well-formed: the body is read
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if limit == 0 {
				limit = wootric.DefaultMaxBodyBytes
			}
			if w.Code != http.StatusRequestEntityTooLarge || body.n.Load() > limit+1 {
				t.Errorf("endless body: status %d after reading %d bytes, want 413 after at most %d", w.Code, body.n.Load(), limit+1)
			}
		})
	}
}

func TestHandlerCallbacksRunInOrderWithTheRequestContext(t *testing.T) {
	type ctxKey struct{}
	var order []string
	h := wootric.NewHandler(testSecret)
	for _, name := range []string{"first", "second", "third"} {
		h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
			if ctx.Value(ctxKey{}) != "request value" {
				t.Errorf("%s callback: context is not the request's", name)
			}
			if got, ok := wootric.EventFromContext(ctx); !ok || got != e {
				t.Errorf("%s callback: EventFromContext = %v, %v", name, got, ok)
			}
			order = append(order, name)
			if name == "second" {
				return errors.New("stop here")
			}
			return nil
		})
	}
	h.On(wootric.ResponseUpdated, func(context.Context, *wootric.Event) error {
		order = append(order, "other type")
		return nil
	})
	r := delivery(t, readTestdata(t, "doc-response-created.json"), testSecret, "")
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, "request value"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusInternalServerError || strings.Join(order, ",") != "first,second" {
		t.Errorf("status %d, callbacks run %v, want 500 after first,second", w.Code, order)
	}
}

func TestHandlerOnAnyType(t *testing.T) {
	body := []byte(`{"response":{"id":5,"score":3},"event_name":"deleted"}`)
	h := wootric.NewHandler(testSecret)
	var got *wootric.Event
	h.On("response.deleted", func(_ context.Context, e *wootric.Event) error {
		got = e
		return nil
	})
	h.ServeHTTP(httptest.NewRecorder(), delivery(t, body, testSecret, ""))
	if got == nil || got.Response.ID != 5 || string(got.Raw) != string(body) {
		t.Errorf("response.deleted callback got %+v, want response 5 with the raw body", got)
	}
}

func TestHandlerOnNilCallbackPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("On(nil) did not panic")
		}
	}()
	wootric.NewHandler(testSecret).On(wootric.ResponseCreated, nil)
}

// TestHandlerKeepsServingAfterAPanic runs a real server: a callback that
// panics gets a 500, and the next delivery is served.
func TestHandlerKeepsServingAfterAPanic(t *testing.T) {
	var calls atomic.Int32
	h := wootric.NewHandler(testSecret)
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error {
		if calls.Add(1) == 1 {
			panic("first delivery panics")
		}
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("POST /wootric", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	body := readTestdata(t, "doc-response-created.json")
	for _, want := range []int{http.StatusInternalServerError, http.StatusOK} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/wootric", bytes.NewReader(body))
		req.Header.Set(wootric.SignatureHeader, wootric.Sign(testSecret, body))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("status = %d, want %d", resp.StatusCode, want)
		}
	}
}

func TestMiddlewareRewindsBodyAndCarriesTheEvent(t *testing.T) {
	for _, file := range []string{"doc-response-created.json", "response-created.form"} {
		t.Run(file, func(t *testing.T) {
			body := readTestdata(t, file)
			h := wootric.NewHandler(testSecret)
			var fromCallback *wootric.Event
			h.On(wootric.ResponseCreated, func(_ context.Context, e *wootric.Event) error {
				fromCallback = e
				return nil
			})
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, err := io.ReadAll(r.Body)
				if err != nil || !bytes.Equal(got, body) {
					t.Errorf("next read %q, %v, want the delivery's body", got, err)
				}
				e, ok := wootric.EventFromContext(r.Context())
				if !ok || e != fromCallback || e.Response.ID != 1128 {
					t.Errorf("EventFromContext = %v, %v, want the callbacks' event", e, ok)
				}
				if r.Header.Get(wootric.SignatureHeader) == "" {
					t.Error("next lost the request's headers")
				}
				w.WriteHeader(http.StatusNoContent)
			})
			w := httptest.NewRecorder()
			h.Middleware(next).ServeHTTP(w, delivery(t, body, testSecret, ""))
			if w.Code != http.StatusNoContent {
				t.Errorf("status = %d, want next's 204", w.Code)
			}
		})
	}
}

func TestMiddlewareWithNilNextAnswers200(t *testing.T) {
	h := wootric.NewHandler(testSecret)
	w := httptest.NewRecorder()
	h.Middleware(nil).ServeHTTP(w, delivery(t, readTestdata(t, "doc-response-created.json"), testSecret, ""))
	if w.Code != http.StatusOK {
		t.Errorf("status = %d, want 200", w.Code)
	}
}

func TestHandlerErrorHandlerGetsTheReason(t *testing.T) {
	failure := errors.New("crm unreachable")
	tests := []struct {
		name   string
		req    func() *http.Request
		target error
		status int
	}{
		{"method", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) }, wootric.ErrMethodNotAllowed, 405},
		{"signature", func() *http.Request { return delivery(t, []byte("x"), "wrong", "") }, wootric.ErrInvalidSignature, 401},
		{"missing signature", func() *http.Request { return delivery(t, []byte("x"), "", "") }, wootric.ErrMissingSignature, 401},
		{"payload", func() *http.Request { return delivery(t, []byte("x"), testSecret, "") }, wootric.ErrMalformedPayload, 400},
		{"gzip", func() *http.Request {
			r := delivery(t, readTestdata(t, "decline-created.json"), testSecret, "")
			r.Header.Set("Content-Encoding", "gzip")
			return r
		}, wootric.ErrUnsupportedEncoding, 415},
		{"callback", func() *http.Request {
			return delivery(t, readTestdata(t, "decline-created.json"), testSecret, "")
		}, failure, 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got error
			h := wootric.NewHandler(testSecret)
			h.On(wootric.DeclineCreated, func(context.Context, *wootric.Event) error { return failure })
			keepErrors(h, &got)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tc.req())
			if !errors.Is(got, tc.target) || w.Code != tc.status {
				t.Errorf("ErrorHandler got %v and answered %d, want %v and %d", got, w.Code, tc.target, tc.status)
			}
			var ce *wootric.CallbackError
			if errors.As(got, &ce) && (ce.Type != wootric.DeclineCreated || ce.ID != 19 || !errors.Is(got, wootric.ErrCallback)) {
				t.Errorf("CallbackError = %+v, want decline.created 19 wrapping ErrCallback", ce)
			}
		})
	}
}

func TestStatusCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 200},
		{wootric.ErrMethodNotAllowed, 405},
		{fmt.Errorf("wrapped: %w", wootric.ErrBodyTooLarge), 413},
		{wootric.ErrMissingSignature, 401},
		{wootric.ErrInvalidSignature, 401},
		{&wootric.PayloadError{Field: "response.id", Reason: "missing"}, 400},
		{wootric.ErrBodyUnreadable, 400},
		{wootric.ErrUnsupportedEncoding, 415},
		{wootric.ErrInProgress, 503},
		{&wootric.CallbackError{Err: wootric.ErrCallbackTimeout}, 503},
		{fmt.Errorf("%w: x", wootric.ErrDedupStore), 500},
		{wootric.ErrNoSecret, 500},
		{&wootric.CallbackError{Err: errors.New("x")}, 500},
		{errors.New("unknown"), 500},
	}
	for _, tc := range tests {
		if got := wootric.StatusCode(tc.err); got != tc.want {
			t.Errorf("StatusCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestHandlerConcurrentDeliveries serves deliveries of every type and
// format from many goroutines while callbacks are being registered; run it
// with -race.
func TestHandlerConcurrentDeliveries(t *testing.T) {
	bodies := []struct {
		body []byte
		typ  wootric.EventType
	}{
		{readTestdata(t, "doc-response-created.json"), wootric.ResponseCreated},
		{readTestdata(t, "response-created.form"), wootric.ResponseCreated},
		{readTestdata(t, "decline-created.json"), wootric.DeclineCreated},
		{readTestdata(t, "decline-created.form"), wootric.DeclineCreated},
		{readTestdata(t, "rails/response-updated-rich.to_json.json"), wootric.ResponseUpdated},
		{readTestdata(t, "rails/response-updated-rich.to_query.form"), wootric.ResponseUpdated},
	}
	h := wootric.NewHandler("old", testSecret)
	var mu sync.Mutex
	seen := map[wootric.EventType]int{}
	count := func(_ context.Context, e *wootric.Event) error {
		mu.Lock()
		seen[e.Type]++
		mu.Unlock()
		return nil
	}
	h.On(wootric.ResponseCreated, count)
	h.On(wootric.ResponseUpdated, count)
	h.On(wootric.DeclineCreated, count)

	const workers, each = 8, 60
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				b := bodies[(g+i)%len(bodies)]
				w := httptest.NewRecorder()
				h.ServeHTTP(w, delivery(t, b.body, testSecret, ""))
				if w.Code != http.StatusOK {
					t.Errorf("status = %d, want 200", w.Code)
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // registrations while serving
		defer wg.Done()
		for i := 0; i < 50; i++ {
			h.On("response.deleted", func(context.Context, *wootric.Event) error { return nil })
		}
	}()
	wg.Wait()
	total := 0
	for _, n := range seen {
		total += n
	}
	if total != workers*each || seen[wootric.ResponseCreated] != workers*each/3 {
		t.Errorf("callbacks saw %v (total %d), want %d deliveries, a third of each type", seen, total, workers*each)
	}
}

func TestHandlerContentEncoding(t *testing.T) {
	body := readTestdata(t, "decline-created.json")
	for _, tc := range []struct {
		encoding string
		status   int
	}{{"", 200}, {"identity", 200}, {"IDENTITY", 200}, {"gzip", 415}, {"br", 415}, {"gzip, identity", 415}} {
		r := delivery(t, body, testSecret, "")
		if tc.encoding != "" {
			r.Header.Set("Content-Encoding", tc.encoding)
		}
		w := httptest.NewRecorder()
		wootric.NewHandler(testSecret).ServeHTTP(w, r)
		if w.Code != tc.status {
			t.Errorf("Content-Encoding %q: answer %d, want %d", tc.encoding, w.Code, tc.status)
		}
	}
}

func eventAt(t *testing.T, ts string) *http.Request {
	body := []byte(`{"response":{"id":7,"score":9,"updated_at":"2016-08-04T13:57:26.558-07:00"},"event_name":"created","timestamp":` + ts + `}`)
	return delivery(t, body, testSecret, "")
}

func TestHandlerReplayWindow(t *testing.T) {
	now := time.Now()
	stamp := func(d time.Duration) string { return `"` + now.Add(d).Format(time.RFC3339Nano) + `"` }
	tests := []struct {
		name   string
		window time.Duration
		ts     string
		status int
	}{
		{"off by default: any age", 0, `"2016-08-04T13:57:31.329-07:00"`, 200},
		{"off by default: no timestamp", 0, `null`, 200},
		{"inside the window", 5 * time.Minute, stamp(-4 * time.Minute), 200},
		{"just now", 5 * time.Minute, stamp(0), 200},
		{"slightly in the future", 5 * time.Minute, stamp(30 * time.Second), 200},
		{"older than the window", 5 * time.Minute, stamp(-6 * time.Minute), 400},
		{"far older", 5 * time.Minute, `"2016-08-04T13:57:31.329-07:00"`, 400},
		{"too far in the future", 5 * time.Minute, stamp(2 * time.Minute), 400},
		{"no timestamp", 5 * time.Minute, `null`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ran atomic.Int32
			var got error
			h := wootric.NewHandler(testSecret)
			h.ReplayWindow = tc.window
			h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { ran.Add(1); return nil })
			keepErrors(h, &got)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, eventAt(t, tc.ts))
			if w.Code != tc.status {
				t.Fatalf("status = %d (%v), want %d", w.Code, got, tc.status)
			}
			if tc.status != 200 && (!errors.Is(got, wootric.ErrOutsideReplayWindow) || ran.Load() != 0) {
				t.Errorf("refusal %v with %d callbacks run, want ErrOutsideReplayWindow and none", got, ran.Load())
			}
		})
	}
}

// FuzzHandler drives the whole Handler with signed and unsigned bodies: it
// must never panic, answer only with the statuses of its contract, and run
// the callback exactly for the deliveries it accepts, with the body as sent.
func FuzzHandler(f *testing.F) {
	for _, name := range []string{"doc-response-created.json", "decline-created.json", "response-created.form", "decline-created.form", "doc-decline-created.json", "rails/response-updated-rich.to_query.form"} {
		body := readTestdata(f, name)
		f.Add(body, "", true)
		f.Add(body, "application/json", false)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string, signed bool) {
		var got *wootric.Event
		h := wootric.NewHandler(testSecret)
		h.MaxBodyBytes = 4096
		for _, typ := range []wootric.EventType{wootric.ResponseCreated, wootric.ResponseUpdated, wootric.DeclineCreated} {
			h.On(typ, func(_ context.Context, e *wootric.Event) error {
				if got != nil {
					t.Fatal("two callbacks for one delivery")
				}
				got = e
				return nil
			})
		}
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		if signed {
			r.Header.Set(wootric.SignatureHeader, wootric.Sign(testSecret, body))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch {
		case w.Code == 200:
			e, err := wootric.Decode(body)
			if !signed || err != nil {
				t.Fatalf("200 for a delivery signed %v that Decode refuses with %v", signed, err)
			}
			known := e.Type == wootric.ResponseCreated || e.Type == wootric.ResponseUpdated || e.Type == wootric.DeclineCreated
			if known != (got != nil) || got != nil && !bytes.Equal(got.Raw, body) {
				t.Fatalf("event %s: callback got %v", e.Type, got)
			}
		case w.Code == 401 && !signed, w.Code == 400 && signed, w.Code == 413 && len(body) > 4096:
			if got != nil {
				t.Fatalf("callback ran for a refused delivery (%d)", w.Code)
			}
		default:
			t.Fatalf("status %d for a delivery signed %v", w.Code, signed)
		}
	})
}

// BenchmarkDecodeManyProperties measures the cost of a hostile flat map of
// 200,000 end-user properties, which Decode accepts rather than counts.

// TestHandlerAnotherObjectType: an object type Wootric may add is
// acknowledged when nothing is registered for it, and reaches a callback
// registered with On.
func TestHandlerAnotherObjectType(t *testing.T) {
	body := []byte(`{"end_user":{"id":5},"event_name":"created"}`)
	h := wootric.NewHandler(testSecret)
	if code := serve(t, h, body).Code; code != 200 {
		t.Errorf("end_user.created with no callback: %d, want 200", code)
	}
	var got *wootric.Event
	h.On("end_user.created", func(_ context.Context, e *wootric.Event) error { got = e; return nil })
	if code := serve(t, h, body).Code; code != 200 || got == nil || string(got.Raw) != string(body) {
		t.Errorf("end_user.created with a callback: %d, callback got %+v; want 200 and the event", code, got)
	}
}

// TestHandlerReadsNothingOfAnUnsignedRequest: a missing or malformed
// signature is refused before any byte of the body is read, and a client
// that asked "Expect: 100-continue" is not invited to send it.
func TestHandlerReadsNothingOfAnUnsignedRequest(t *testing.T) {
	for _, sig := range []string{"", "sha1=not-hex", "md5=" + strings.Repeat("0", 40)} {
		h := wootric.NewHandler(testSecret)
		body := &countingReader{}
		r := httptest.NewRequest(http.MethodPost, "/", body)
		r.ContentLength = -1
		if sig != "" {
			r.Header.Set(wootric.SignatureHeader, sig)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized || body.n.Load() != 0 {
			t.Errorf("signature %q: status %d after reading %d bytes, want 401 after none", sig, w.Code, body.n.Load())
		}
	}

	srv := httptest.NewServer(wootric.NewHandler(testSecret))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n")
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 401") {
		t.Errorf("unsigned request with Expect: 100-continue: first line %q (%v), want a 401 and no 100 Continue", status, err)
	}
}

// TestHandlerWithoutASecretSaysSo: a Handler made with no secret, as with
// an unset variable, logs it once to slog's default logger when it has no
// Logger of its own, rather than answer 500 in silence.
func TestHandlerWithoutASecretSaysSo(t *testing.T) {
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)
	h := wootric.NewHandler("") // os.Getenv of a variable not set
	body := readTestdata(t, "doc-response-created.json")
	for range 3 {
		if w := serve(t, h, body); w.Code != http.StatusInternalServerError {
			t.Fatalf("answered %d, want 500", w.Code)
		}
	}
	if n := strings.Count(logs.String(), "has no secret"); n != 1 {
		t.Errorf("logged %q; want the missing secret said once", logs.String())
	}
}
