package wootric_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/wootrictest"
)

// TestParse reads deliveries at the request level, as a framework's
// handler does: the event, or the error a Handler would answer.
func TestParse(t *testing.T) {
	sample := wootrictest.Sample(t, wootric.ResponseUpdated, wootric.CSAT)
	request := func(edit func(r *http.Request)) func() *http.Request {
		return func() *http.Request {
			r, err := wootrictest.NewRequest("/hook", wootrictest.Secret, sample, wootric.Form)
			if err != nil {
				t.Fatal(err)
			}
			if edit != nil {
				edit(r)
			}
			return r
		}
	}
	tests := []struct {
		name    string
		h       *wootric.Handler
		req     func() *http.Request
		wantErr error
	}{
		{"a delivery", wootric.NewHandler(wootrictest.Secret), request(nil), nil},
		{"the second of two secrets", wootric.NewHandler("old", wootrictest.Secret), request(nil), nil},
		{"a GET", wootric.NewHandler(wootrictest.Secret), request(func(r *http.Request) { r.Method = http.MethodGet }), wootric.ErrMethodNotAllowed},
		{"gzip", wootric.NewHandler(wootrictest.Secret), request(func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }), wootric.ErrUnsupportedEncoding},
		{"over the limit", func() *wootric.Handler {
			h := wootric.NewHandler(wootrictest.Secret)
			h.MaxBodyBytes = 10
			return h
		}(), request(nil), wootric.ErrBodyTooLarge},
		{"another secret", wootric.NewHandler("other"), request(nil), wootric.ErrInvalidSignature},
		{"no signature", wootric.NewHandler(wootrictest.Secret), request(func(r *http.Request) { r.Header.Del(wootric.SignatureHeader) }), wootric.ErrMissingSignature},
		{"no secret", wootric.NewHandler(), request(nil), wootric.ErrNoSecret},
		{"a fresh timestamp in the window", func() *wootric.Handler {
			h := wootric.NewHandler(wootrictest.Secret)
			h.ReplayWindow = time.Hour
			return h
		}(), request(nil), nil},
		{"a stale timestamp", func() *wootric.Handler {
			h := wootric.NewHandler(wootrictest.Secret)
			h.ReplayWindow = time.Hour
			return h
		}(), func() *http.Request {
			stale, _ := wootrictest.SampleEvent(wootric.ResponseUpdated, wootric.CSAT) // 2016
			r, err := wootrictest.NewRequest("/hook", wootrictest.Secret, stale, wootric.Form)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}, wootric.ErrOutsideReplayWindow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := tc.h.Parse(tc.req())
			if !errors.Is(err, tc.wantErr) || tc.wantErr != nil && e != nil {
				t.Fatalf("Parse() = %v, %v, want %v", e, err, tc.wantErr)
			}
			if tc.wantErr == nil && (e.Type != wootric.ResponseUpdated || e.Response.Score != sample.Response.Score || len(e.Raw) == 0) {
				t.Errorf("Parse() = %+v, want the sample", e)
			}
		})
	}
}

// TestParseBodyBase64: a serverless platform that hands the body over
// base64-encoded (API Gateway, Lambda function URLs) must have it decoded
// first: the signature is of the bytes Wootric sent.
func TestParseBodyBase64(t *testing.T) {
	body := `{"decline":{"id":19},"event_name":"created"}`
	sig := wootric.Sign(wootrictest.Secret, []byte(body))
	encoded := base64.StdEncoding.EncodeToString([]byte(body))
	if _, err := wootric.ParseBody([]byte(encoded), sig, wootrictest.Secret); !errors.Is(err, wootric.ErrInvalidSignature) {
		t.Errorf("ParseBody(base64 body) = %v, want ErrInvalidSignature", err)
	}
	raw, _ := base64.StdEncoding.DecodeString(encoded)
	if e, err := wootric.ParseBody(raw, sig, wootrictest.Secret); err != nil || e.Decline.ID != 19 {
		t.Errorf("ParseBody(decoded body) = %v, %v", e, err)
	}
	if _, err := wootric.ParseBody([]byte(strings.Replace(body, "19", "20", 1)), sig, wootrictest.Secret); !errors.Is(err, wootric.ErrInvalidSignature) {
		t.Errorf("ParseBody(changed body) = %v, want ErrInvalidSignature", err)
	}
}

// TestParseThenAnswer shows the shape of a framework's handler: Parse,
// then StatusCode for a refusal.
func TestParseThenAnswer(t *testing.T) {
	h := wootric.NewHandler(wootrictest.Secret)
	handler := func(w http.ResponseWriter, r *http.Request) {
		e, err := h.Parse(r)
		if err != nil {
			http.Error(w, http.StatusText(wootric.StatusCode(err)), wootric.StatusCode(err))
			return
		}
		w.Header().Set("X-Event", string(e.Type))
	}
	r, _ := wootrictest.NewRequest("/", "wrong", wootrictest.Sample(t, wootric.DeclineCreated, wootric.NPS), wootric.JSON)
	w := httptest.NewRecorder()
	handler(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("answered %d, want 401", w.Code)
	}
}
