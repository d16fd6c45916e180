package wootric

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// TestObserveDoesNotAllocate checks what Handler.Observe's doc promises: a
// hook costs a delivery no allocation, and none is taken without one.
func TestObserveDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race, sync.Pool drops items on purpose; run without -race")
	}
	body, err := os.ReadFile("testdata/doc-response-created.json")
	if err != nil {
		t.Fatal(err)
	}
	sig := Sign("s", body)
	allocs := func(observe func(context.Context, Report)) float64 {
		h := NewHandler("s")
		h.Observe = observe
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set(SignatureHeader, sig)
		w := &codeWriter{header: http.Header{}}
		return testing.AllocsPerRun(200, func() {
			r.Body = io.NopCloser(bytes.NewReader(body))
			w.code = 0
			h.ServeHTTP(w, r)
			if w.code != http.StatusOK {
				t.Fatalf("answered %d", w.code)
			}
		})
	}
	var n int
	without := allocs(nil)
	with := allocs(func(_ context.Context, rep Report) { n += int(rep.Status) })
	if with != without {
		t.Errorf("a delivery allocates %v times with an Observe hook, %v without", with, without)
	}
}

// codeWriter keeps the status written to it, and can be reused.
type codeWriter struct {
	header http.Header
	code   int
}

func (w *codeWriter) Header() http.Header         { return w.header }
func (w *codeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *codeWriter) WriteHeader(code int)        { w.code = code }
