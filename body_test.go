package wootric_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
)

// plainWriter hides every method of the ResponseWriter it wraps but the
// three of the interface, as many middlewares' wrappers do.
type plainWriter struct{ w http.ResponseWriter }

func (p plainWriter) Header() http.Header         { return p.w.Header() }
func (p plainWriter) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p plainWriter) WriteHeader(code int)        { p.w.WriteHeader(code) }

// TestHandlerSlowBodyEndsWithTheContext sends part of a body and stalls:
// the read must end when the request's context does, whatever wraps the
// writer, and the Report must say what the sender got: 503, from the
// Handler or from http.TimeoutHandler, once the read has ended.
func TestHandlerSlowBodyEndsWithTheContext(t *testing.T) {
	deadline := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 100*time.Millisecond)
			defer cancel()
			h.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	tests := []struct {
		name string
		wrap func(h http.Handler) http.Handler
	}{
		{"a context deadline, the server's writer", deadline},
		{"http.TimeoutHandler", func(h http.Handler) http.Handler { return http.TimeoutHandler(h, 100*time.Millisecond, "timeout") }},
		{"a context deadline, a writer without Unwrap", func(h http.Handler) http.Handler {
			return deadline(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(plainWriter{w}, r) }))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reports := make(chan wootric.Report, 1)
			h := wootric.NewHandler(testSecret)
			h.Observe = func(_ context.Context, rep wootric.Report) { reports <- rep }
			srv := httptest.NewUnstartedServer(tc.wrap(h))
			srv.Config.ReadTimeout = time.Minute
			srv.Start()
			defer srv.Close()

			pr, pw := io.Pipe()
			defer pw.Close()
			go func() { _, _ = pw.Write([]byte(`{"response":`)) }() // and then nothing
			req, _ := http.NewRequest(http.MethodPost, srv.URL, pr)
			req.Header.Set(wootric.SignatureHeader, "sha1=0000000000000000000000000000000000000000")
			statuses := make(chan int, 1)
			go func() {
				resp, err := srv.Client().Do(req)
				if err != nil {
					statuses <- 0
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			}()
			var rep wootric.Report
			select {
			case rep = <-reports:
				if !errors.Is(rep.Err, wootric.ErrBodyUnreadable) || !errors.Is(rep.Err, context.DeadlineExceeded) {
					t.Errorf("slow body failed with %v, want ErrBodyUnreadable from the context's deadline", rep.Err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the Handler still reads a body whose request context ended")
			}
			// An abandoned read holds the body's lock, which net/http takes
			// before it writes an answer: ending the body lets it answer.
			pw.Close()
			if got := <-statuses; got != rep.Status || got != http.StatusServiceUnavailable {
				t.Errorf("the sender got %d, and the Report says %d; want 503 for both", got, rep.Status)
			}
		})
	}
}

// TestHandlerBehindTimeoutHandlerReportsItsAnswer runs a callback past
// http.TimeoutHandler's deadline: the sender gets the TimeoutHandler's 503,
// and so must the Report say.
func TestHandlerBehindTimeoutHandlerReportsItsAnswer(t *testing.T) {
	release := make(chan struct{})
	reports := make(chan wootric.Report, 1)
	h := wootric.NewHandler(testSecret)
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error {
		<-release
		return nil
	})
	h.Observe = func(_ context.Context, rep wootric.Report) { reports <- rep }
	srv := httptest.NewServer(http.TimeoutHandler(h, 50*time.Millisecond, "timeout"))
	defer srv.Close()

	body := readTestdata(t, "doc-response-created.json")
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(body)))
	req.Header.Set(wootric.SignatureHeader, wootric.Sign(testSecret, body))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	close(release) // the run succeeds once the sender has its answer
	rep := <-reports
	if resp.StatusCode != http.StatusServiceUnavailable || rep.Status != resp.StatusCode || !errors.Is(rep.Err, http.ErrHandlerTimeout) {
		t.Errorf("the sender got %d; the Report says %d, %v; want 503 and an error wrapping http.ErrHandlerTimeout", resp.StatusCode, rep.Status, rep.Err)
	}
	if rep.Outcome != wootric.OutcomeFailed || rep.Reason != wootric.ReasonTimeout {
		t.Errorf("Report.Outcome, Reason = %s, %s, want %s, %s", rep.Outcome, rep.Reason, wootric.OutcomeFailed, wootric.ReasonTimeout)
	}
}

func TestHandlerAcceptsAnyPositiveLimit(t *testing.T) {
	body := readTestdata(t, "doc-response-created.json")
	for _, limit := range []int64{int64(len(body)), 1 << 40, math.MaxInt64 - 1, math.MaxInt64} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			h := wootric.NewHandler(testSecret)
			h.MaxBodyBytes = limit
			if code := serve(t, h, body).Code; code != 200 {
				t.Errorf("MaxBodyBytes = %d: a valid delivery answered %d, want 200", limit, code)
			}
		})
	}
}

// TestHandlerMemoryFollowsTheBytesReceived opens connections that claim a
// body of MaxBodyBytes, send part of it and stall, and measures the live
// heap each holds: the Handler's, against a handler that reads the body
// with io.ReadAll, in the same run.
func TestHandlerMemoryFollowsTheBytesReceived(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2 x 3 x 40 connections")
	}
	const conns = 40
	limit := int64(wootric.DefaultMaxBodyBytes)
	library := wootric.NewHandler(testSecret)
	readAll := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(io.LimitReader(r.Body, limit+1))
	})
	for _, sent := range []int{100, 64<<10 + 100, 300 << 10} {
		perConn := map[string]float64{}
		for _, h := range []struct {
			name string
			h    http.Handler
		}{{"io.ReadAll", readAll}, {"Handler", library}} {
			perConn[h.name] = heapPerStalledConn(t, h.h, conns, limit, sent)
		}
		t.Logf("sent %d of %d bytes: Handler %.1f KiB, io.ReadAll %.1f KiB per connection",
			sent, limit, perConn["Handler"]/1024, perConn["io.ReadAll"]/1024)
		// The Handler holds one 4 KiB chunk where io.ReadAll starts at
		// 512 bytes; past that both grow alike.
		if want := perConn["io.ReadAll"]*1.25 + 6<<10; perConn["Handler"] > want {
			t.Errorf("sent %d bytes: the Handler holds %.1f KiB per stalled connection, want at most %.1f (io.ReadAll holds %.1f)",
				sent, perConn["Handler"]/1024, want/1024, perConn["io.ReadAll"]/1024)
		}
	}
}

// heapPerStalledConn serves h, opens n connections that each claim a body
// of claimed bytes and send sent of them, and returns the live heap that
// each adds once the handlers have read what was sent.
func heapPerStalledConn(t *testing.T, h http.Handler, n int, claimed int64, sent int) float64 {
	t.Helper()
	var read atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = countingBody{r.Body, &read}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	before := liveHeap()
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s: sha1=%040d\r\n\r\n", claimed, wootric.SignatureHeader, 0)
	body := strings.Repeat("a", sent)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
		w := bufio.NewWriter(c)
		_, _ = w.WriteString(head)
		_, _ = w.WriteString(body)
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); read.Load() < int64(n*sent); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the handlers read %d of the %d bytes sent", read.Load(), n*sent)
		}
	}
	after := liveHeap()
	return float64(after-before) / float64(n)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func liveHeap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC() // and the pools' victim caches
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
