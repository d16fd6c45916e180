package wootric_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
)

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

// answerWithin serves body to h on another goroutine and returns the
// answer's status, failing the test if there is none within 10 seconds: for
// a run that hangs, which the Handler must answer without waiting for.
func answerWithin(t *testing.T, h http.Handler, body []byte) int {
	t.Helper()
	code := make(chan int, 1)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, delivery(t, body, testSecret, ""))
		code <- w.Code
	}()
	select {
	case c := <-code:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no answer within 10s while the run hangs")
		return 0
	}
}

// TestRunTimeout checks that the Handler answers when CallbackTimeout
// passes, whether the callbacks heed their context or not.
func TestRunTimeout(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	tests := []struct {
		name     string
		timeout  time.Duration
		callback func(ctx context.Context) error
		status   int
	}{
		{"returns in time", time.Minute, func(context.Context) error { return nil }, 200},
		{"fails in time", time.Minute, func(context.Context) error { return errors.New("crm down") }, 500},
		{"ignores its context", 20 * time.Millisecond, func(context.Context) error { <-hang; return nil }, 503},
		{"heeds its context", 20 * time.Millisecond, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, 503},
		{"fails after its deadline", 20 * time.Millisecond, func(ctx context.Context) error { <-ctx.Done(); return errors.New("crm down") }, 503},
		{"no timeout", -1, func(context.Context) error { return nil }, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got error
			h := wootric.NewHandler(testSecret)
			h.CallbackTimeout = tc.timeout
			h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error { return tc.callback(ctx) })
			keepErrors(h, &got)
			code := answerWithin(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON))
			if code != tc.status {
				t.Fatalf("answer %d (%v), want %d", code, got, tc.status)
			}
			if tc.status == 503 && (!errors.Is(got, wootric.ErrCallbackTimeout) || !errors.Is(got, wootric.ErrCallback)) {
				t.Errorf("error %v, want ErrCallbackTimeout and ErrCallback", got)
			}
		})
	}
}

// TestRunAnswersBeforeAHungCallbackReturns is the case a server's
// WriteTimeout does not cover: the client must get its answer when
// CallbackTimeout passes, not when the callback returns.
func TestRunAnswersBeforeAHungCallbackReturns(t *testing.T) {
	hang := make(chan struct{})
	h := wootric.NewHandler(testSecret)
	h.CallbackTimeout = 50 * time.Millisecond
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { <-hang; return nil })
	srv := httptest.NewUnstartedServer(h)
	srv.Config.WriteTimeout = 5 * time.Second
	srv.Start()
	defer srv.Close()
	defer close(hang) // before the server closes

	if code := post(t, srv.URL, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)); code != http.StatusServiceUnavailable {
		t.Errorf("answer %d while the callback hangs, want 503", code)
	}
}

// TestRunContextKeepsTheContract checks the callbacks' context as package
// context documents one: Err is nil until Done is closed, then
// DeadlineExceeded; the deadline is the Handler's; values and the event
// are there; and the sender hanging up does not end it.
func TestRunContextKeepsTheContract(t *testing.T) {
	type key struct{}
	h := wootric.NewHandler(testSecret)
	h.CallbackTimeout = 50 * time.Millisecond
	var problems []string
	var kept context.Context
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		kept = ctx
		if got, _ := wootric.EventFromContext(ctx); got != e {
			problems = append(problems, "EventFromContext is not the event")
		}
		if _, ok := wootric.ClaimFromContext(ctx); ok {
			problems = append(problems, "a claim without Dedup")
		}
		if ctx.Value(key{}) != "v" {
			problems = append(problems, "the request's value is lost")
		}
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > 50*time.Millisecond {
			problems = append(problems, "no deadline within CallbackTimeout")
		}
		done := ctx.Done()
		if ctx.Err() != nil { // on a busy machine the deadline may have passed: then Done is closed
			select {
			case <-done:
			default:
				problems = append(problems, "Err before Done is closed")
			}
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

	// A run that returned in time has its context ended too, as a
	// context's cancel ends it, so that work it started stops.
	h = wootric.NewHandler(testSecret)
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error { kept = ctx; return nil })
	serve(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON))
	<-kept.Done()
	if !errors.Is(kept.Err(), context.Canceled) {
		t.Errorf("Err() after the run = %v, want Canceled", kept.Err())
	}
}

// TestRunDeadlineIsTheLeaseCountedFromBeforeClaim: the store counts a lease
// from when it takes the claim, which is after the Handler sent Claim, so
// the run's deadline must be counted from before that, not from when Claim
// returned.
func TestRunDeadlineIsTheLeaseCountedFromBeforeClaim(t *testing.T) {
	const lease = time.Minute
	var claimed time.Time
	d := &store{beforeClaim: func() {
		claimed = time.Now() // after the Handler sent Claim: the lease is counted from here or later
		time.Sleep(20 * time.Millisecond)
	}}
	h := wootric.NewHandler(testSecret)
	h.Dedup, h.DedupLease, h.CallbackTimeout = d, lease, -1
	var deadline time.Time
	var claim wootric.Claim
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		deadline, _ = ctx.Deadline()
		claim, _ = wootric.ClaimFromContext(ctx)
		return nil
	})
	body := encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)
	if code := serve(t, h, body).Code; code != 200 {
		t.Fatalf("answer %d, want 200", code)
	}
	if end := claimed.Add(lease); deadline.After(end) {
		t.Errorf("run's deadline is %v after the lease's end as the store counts it", deadline.Sub(end))
	}
	if claim.Key != decodedKey(t, body) || claim.Token == "" || claim.TTL != wootric.DefaultDedupTTL {
		t.Errorf("ClaimFromContext() = %+v, want the event's key, a token and the TTL", claim)
	}
}

// TestRunClaimWithItsLeaseSpentIsGivenBack: a Claim that returns after its
// lease has passed must not run the event, which another replica may
// already be running; the claim is released, and the copy answered 503.
func TestRunClaimWithItsLeaseSpentIsGivenBack(t *testing.T) {
	const lease = 20 * time.Millisecond
	var runs atomic.Int32
	var got error
	d := &store{beforeClaim: func() { time.Sleep(2 * lease) }}
	h := wootric.NewHandler(testSecret)
	h.Dedup, h.DedupLease = d, lease
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { runs.Add(1); return nil })
	keepErrors(h, &got)
	body := encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)
	if code := serve(t, h, body).Code; code != 503 || runs.Load() != 0 || !errors.Is(got, wootric.ErrInProgress) {
		t.Errorf("answer %d with %d runs (%v), want 503, no run, ErrInProgress", code, runs.Load(), got)
	}
	if d.releases.Load() != 1 {
		t.Errorf("%d releases, want the spent claim given back", d.releases.Load())
	}
}

// TestRunLateSuccessIsRecorded: a callback that overruns its deadline and
// then succeeds has run; the claim is held until it returns, so that a copy
// meanwhile is not run beside it, and then completed, so that the sender's
// retry is a duplicate.
func TestRunLateSuccessIsRecorded(t *testing.T) {
	tests := []struct {
		name     string
		late     error // what the hung callback returns
		retry    int   // the answer to the retry once it has
		wantRuns int32
	}{
		{"succeeds late", nil, 200, 1},
		{"fails late", errors.New("crm down"), 200, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logRecords{}
			var runs atomic.Int32
			hang := make(chan struct{})
			d := &store{settled: make(chan error, 4)}
			h := wootric.NewHandler(testSecret)
			h.Dedup, h.CallbackTimeout, h.Logger = d, 20*time.Millisecond, slog.New(logs)
			h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error {
				if runs.Add(1) == 1 {
					<-hang // ignores its context
					return tc.late
				}
				return nil
			})
			body := encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)
			if code := answerWithin(t, h, body); code != 503 {
				t.Fatalf("answer %d while the callback hangs, want 503", code)
			}
			if code := serve(t, h, body).Code; code != 503 || runs.Load() != 1 {
				t.Errorf("copy while the first run hangs: %d with %d runs, want 503 and 1", code, runs.Load())
			}
			close(hang)
			if err := <-d.settled; err != nil {
				t.Fatalf("the late run's claim settled with %v", err)
			}
			if code := serve(t, h, body).Code; code != tc.retry || runs.Load() != tc.wantRuns {
				t.Errorf("retry after the late run: %d with %d runs, want %d and %d", code, runs.Load(), tc.retry, tc.wantRuns)
			}
			if tc.late == nil && !logs.has(slog.LevelWarn, "succeeded after its deadline") {
				t.Errorf("no Warn record of the late success in %+v", logs.records)
			}
		})
	}
}

// TestRunCompleteIsTriedAgain: the event has run; a Complete that fails is
// tried again before the answer, so that a copy is not run again.
func TestRunCompleteIsTriedAgain(t *testing.T) {
	failing := errors.New("redis: i/o timeout")
	tests := []struct {
		name      string
		store     *store
		completes int32
		copyCode  int    // the answer to a copy afterwards
		log       string // in the Error record, "" for none
	}{
		{"fails twice", &store{completeErr: failing, failCompletes: 2}, 3, 200, ""},
		{"fails for good", &store{completeErr: failing}, 3, 503, "may run again"},
		{"finds the claim lost", &store{completeErr: wootric.ErrClaimLost}, 1, 503, "it ran twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logRecords{}
			var runs atomic.Int32
			h := wootric.NewHandler(testSecret)
			h.Dedup, h.Logger = tc.store, slog.New(logs)
			h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { runs.Add(1); return nil })
			body := encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)
			if code := serve(t, h, body).Code; code != 200 || tc.store.completes.Load() != tc.completes {
				t.Errorf("answer %d with %d Completes, want 200 and %d", code, tc.store.completes.Load(), tc.completes)
			}
			if code := serve(t, h, body).Code; code != tc.copyCode || runs.Load() != 1 {
				t.Errorf("copy afterwards: %d with %d runs, want %d and 1", code, runs.Load(), tc.copyCode)
			}
			if tc.log != "" && !logs.has(slog.LevelError, tc.log) {
				t.Errorf("no Error record saying %q in %+v", tc.log, logs.records)
			}
		})
	}
}

// TestRunNextsAnswerReachesTheSenderOnlyWhenItSucceeds: next's answer is
// kept until next returns, so that a 2xx next wrote before it panicked,
// however long, never reaches the sender, and next cannot take over the
// connection to answer behind the Handler's back.
func TestRunNextsAnswerReachesTheSenderOnlyWhenItSucceeds(t *testing.T) {
	big := strings.Repeat("x", 16<<10) // past net/http's 2 KiB buffer
	tests := []struct {
		name string
		next func(w http.ResponseWriter, r *http.Request) // its first run
		want int                                          // the answer to it
	}{
		{"writes a long 200, then panics", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, big)
			panic("next bug after its answer")
		}, 500},
		{"flushes a 200, then panics", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			_ = http.NewResponseController(w).Flush()
			panic("next bug after its answer")
		}, 500},
		{"hijacks the connection", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				http.Error(w, "cannot hijack: "+err.Error(), http.StatusInternalServerError)
				return
			}
			_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			conn.Close()
		}, 500},
		{"writes past MaxNextAnswerBytes", func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < 8; i++ {
				if _, err := io.WriteString(w, big); err != nil {
					return
				}
			}
		}, 500},
		{"answers 409", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Reason", "conflict")
			http.Error(w, "conflict", http.StatusConflict)
		}, 409},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var runs atomic.Int32
			h := wootric.NewHandler(testSecret)
			h.Dedup = &wootric.MemoryDeduplicator{}
			srv := httptest.NewServer(h.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if runs.Add(1) == 1 {
					tc.next(w, r)
					return
				}
				w.Header().Set("X-Ran", "yes")
				w.WriteHeader(http.StatusCreated)
			})))
			defer srv.Close()
			body := encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)
			if code := post(t, srv.URL, body); code != tc.want {
				t.Errorf("first answer %d, want %d", code, tc.want)
			}
			if code := post(t, srv.URL, body); code != http.StatusCreated || runs.Load() != 2 {
				t.Errorf("retry answered %d with next run %d times, want 201 and 2: the event must run again", code, runs.Load())
			}
		})
	}
}

// TestRunNextHasTheDeadline: next, after Middleware, is part of the run,
// and is cut off at the deadline as callbacks are, with or without any.
func TestRunNextHasTheDeadline(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	tests := []struct {
		name string
		next func(w http.ResponseWriter, r *http.Request)
	}{
		{"heeds its context", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
			w.WriteHeader(http.StatusNoContent) // too late
		}},
		{"ignores its context", func(w http.ResponseWriter, r *http.Request) { <-hang }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got error
			h := wootric.NewHandler(testSecret)
			h.Dedup, h.CallbackTimeout = &wootric.MemoryDeduplicator{}, 20*time.Millisecond
			keepErrors(h, &got)
			mw := h.Middleware(http.HandlerFunc(tc.next))
			if code := answerWithin(t, mw, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)); code != 503 || !errors.Is(got, wootric.ErrCallbackTimeout) {
				t.Errorf("answer %d (%v), want 503 and ErrCallbackTimeout", code, got)
			}
		})
	}
}

// TestRunAbortCutsTheConnection: a callback or next that panics with
// http.ErrAbortHandler asks net/http to cut the connection; the Handler
// does so from the request's goroutine, once the claim is released, so that
// the retry runs the event.
func TestRunAbortCutsTheConnection(t *testing.T) {
	var runs atomic.Int32
	h := wootric.NewHandler(testSecret)
	h.Dedup = &wootric.MemoryDeduplicator{}
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error {
		if runs.Add(1) == 1 {
			panic(http.ErrAbortHandler)
		}
		return nil
	})
	body := encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("ServeHTTP panicked with %v, want http.ErrAbortHandler", v)
			}
		}()
		serve(t, h, body)
	}()
	if code := serve(t, h, body).Code; code != 200 || runs.Load() != 2 {
		t.Errorf("retry after an abort answered %d with %d runs, want 200 and 2", code, runs.Load())
	}
}

// TestRunErrorHandlerPanicAtTheDeadline: the answer, a timeout's too, is
// written on the request's goroutine, so a panic of ErrorHandler's is
// net/http's to recover, and the late run's claim is settled all the same.
func TestRunErrorHandlerPanicAtTheDeadline(t *testing.T) {
	hang := make(chan struct{})
	d := &store{settled: make(chan error, 1)}
	h := wootric.NewHandler(testSecret)
	h.Dedup, h.CallbackTimeout = d, 20*time.Millisecond
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { <-hang; return errors.New("crm down") })
	h.ErrorHandler = func(http.ResponseWriter, *http.Request, error) { panic("ErrorHandler bug") }
	func() {
		defer func() {
			if v := recover(); v != "ErrorHandler bug" {
				t.Errorf("ServeHTTP panicked with %v, want ErrorHandler's panic", v)
			}
		}()
		serve(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON))
	}()
	close(hang)
	if err := <-d.settled; err != nil || d.releases.Load() != 1 {
		t.Errorf("the late failure's claim: %d releases, %v; want it released", d.releases.Load(), err)
	}
}

// has reports whether a record at level holds msg in its message.
func (l *logRecords) has(level slog.Level, msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.records {
		if r.level == level && strings.Contains(r.msg, msg) {
			return true
		}
	}
	return false
}

// TestRunGoexitFailsTheRun: a callback that calls runtime.Goexit, as a
// test's FailNow does, fails the run rather than leaving it unanswered
// until the deadline.
func TestRunGoexitFailsTheRun(t *testing.T) {
	var got error
	h := wootric.NewHandler(testSecret)
	h.Dedup = &wootric.MemoryDeduplicator{}
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { runtime.Goexit(); return nil })
	keepErrors(h, &got)
	if code := answerWithin(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)); code != 500 || !errors.Is(got, wootric.ErrCallback) {
		t.Errorf("answer %d (%v), want 500 and ErrCallback", code, got)
	}
}

// TestRunContextHidesTheRequestsCancellation: the sender hanging up ends
// neither the run's context nor what is derived from it, and its cause is
// not the request's.
func TestRunContextHidesTheRequestsCancellation(t *testing.T) {
	var cause, derived error
	h := wootric.NewHandler(testSecret)
	h.On(wootric.ResponseCreated, func(ctx context.Context, _ *wootric.Event) error {
		cause = context.Cause(ctx)
		d, cancel := context.WithCancel(ctx)
		defer cancel()
		derived = d.Err()
		return nil
	})
	parent, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("the sender hung up"))
	h.ServeHTTP(httptest.NewRecorder(), delivery(t, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON), testSecret, "").WithContext(parent))
	if cause != nil || derived != nil {
		t.Errorf("context.Cause = %v and a derived context's Err = %v, want nil: the run's context does not end with the request", cause, derived)
	}
}

// chanLog is a slog.Handler that sends each record on the channel, for a
// test to wait for a record written off the request's goroutine.
type chanLog chan logRecord

func (l chanLog) Enabled(context.Context, slog.Level) bool { return true }
func (l chanLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l chanLog) WithGroup(string) slog.Handler            { return l }
func (l chanLog) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool { rec.attrs[a.Key] = a.Value.String(); return true })
	l <- rec
	return nil
}

// flakyComplete is a Deduplicator whose first fails Completes fail before
// reaching the store, and which calls beforeLast before the one after them.
type flakyComplete struct {
	wootric.Deduplicator
	fails      int32
	n          atomic.Int32
	beforeLast func()
}

func (s *flakyComplete) Complete(ctx context.Context, key, token string, ttl time.Duration) error {
	switch n := s.n.Add(1); {
	case n <= s.fails:
		return wootric.ErrDedupStore
	case n == s.fails+1 && s.beforeLast != nil:
		s.beforeLast()
	}
	return s.Deduplicator.Complete(ctx, key, token, ttl)
}

// TestRunKeepsPartOfTheLeaseToComplete: a run that heeds its context and
// ends just inside its deadline must still be recorded within the lease,
// Complete's retries included, or a copy takes the key and runs again.
func TestRunKeepsPartOfTheLeaseToComplete(t *testing.T) {
	const lease = 400 * time.Millisecond
	mem := &wootric.MemoryDeduplicator{}
	var effects atomic.Int32
	heed := func(ctx context.Context) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		effects.Add(1)
		return nil
	}
	body := encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)
	b := wootric.NewHandler(testSecret) // another replica
	b.Dedup, b.DedupLease = mem, lease
	b.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error { return heed(ctx) })
	bCode := 0
	a := wootric.NewHandler(testSecret)
	a.Dedup = &flakyComplete{Deduplicator: mem, fails: 2, beforeLast: func() { bCode = serve(t, b, body).Code }}
	a.DedupLease, a.CallbackTimeout = lease, -1
	a.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		dl, _ := ctx.Deadline()
		select {
		case <-time.After(time.Until(dl) - 100*time.Millisecond): // ends 100ms inside its deadline
		case <-ctx.Done():
		}
		return heed(ctx)
	})
	aCode := serve(t, a, body).Code
	// On a machine so busy that a's run overshot its deadline, it took no
	// effect and b never ran: then the case was not tested, but nothing is
	// wrong.
	if n := effects.Load(); n > 1 || aCode == 200 && n != 1 {
		t.Errorf("event took effect %d times (answers %d and %d), want once: every run heeded its context and ended inside its deadline", n, aCode, bCode)
	}
}

// TestRunEventChangedAfterTheDeadline: a callback may change its event; one
// that does so after its deadline must not race with the answer and the
// Report, which the request's goroutine writes meanwhile.
func TestRunEventChangedAfterTheDeadline(t *testing.T) {
	wrote, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	var rep wootric.Report
	h := wootric.NewHandler(testSecret)
	h.CallbackTimeout = 20 * time.Millisecond
	h.Observe = func(_ context.Context, r wootric.Report) { rep = r }
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		<-ctx.Done()
		e.Response.ID++
		e.Type = "changed"
		close(wrote)
		<-release
		return nil
	})
	if code := serve(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)).Code; code != 503 {
		t.Fatalf("answer %d, want 503", code)
	}
	<-wrote
	if rep.EventType != wootric.ResponseCreated || rep.ObjectID != 1128 {
		t.Errorf("Report = %s %d, want the event as decoded", rep.EventType, rep.ObjectID)
	}
}

// panicStore is a Deduplicator whose Complete panics.
type panicStore struct{ wootric.MemoryDeduplicator }

func (s *panicStore) Complete(context.Context, string, string, time.Duration) error {
	panic("store bug")
}

// TestRunLateOutcomesAreLogged: a run that succeeds or panics after its
// deadline is logged, a panic with its stack (a plain failure is what the
// timeout's record said); and a panic while
// settling it, off the request's goroutine, is logged rather than ending
// the program.
func TestRunLateOutcomesAreLogged(t *testing.T) {
	tests := []struct {
		name  string
		store wootric.Deduplicator
		late  func() error
		level slog.Level
		msg   string
		stack bool
	}{
		{"success", &wootric.MemoryDeduplicator{}, func() error { return nil }, slog.LevelWarn, "recorded as run", false},
		{"panic", &wootric.MemoryDeduplicator{}, func() error { panic("late bug") }, slog.LevelError, "panicked after its deadline", true},
		{"store panics completing", &panicStore{}, func() error { return nil }, slog.LevelError, "panic settling", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			records := make(chan logRecord, 4)
			hang := make(chan struct{})
			h := wootric.NewHandler(testSecret)
			h.Dedup, h.CallbackTimeout, h.Logger = tc.store, 20*time.Millisecond, slog.New(chanLog(records))
			h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { <-hang; return tc.late() })
			if code := serve(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)).Code; code != 503 {
				t.Fatalf("answer %d, want 503", code)
			}
			<-records // the timeout's
			close(hang)
			r := <-records
			if r.level != tc.level || !strings.Contains(r.msg, tc.msg) || (r.attrs["stack"] != "") != tc.stack {
				t.Errorf("record %q at %v, stack %v; want %q at %v, stack %v", r.msg, r.level, r.attrs["stack"] != "", tc.msg, tc.level, tc.stack)
			}
		})
	}
}

// TestRunNextAnswering101Fails: 101 is a final status to net/http, and not
// a 2xx: the run fails, and the 101 is not sent.
func TestRunNextAnswering101Fails(t *testing.T) {
	var runs atomic.Int32
	h := wootric.NewHandler(testSecret)
	h.Dedup = &wootric.MemoryDeduplicator{}
	mw := h.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if runs.Add(1) == 1 {
			w.WriteHeader(http.StatusSwitchingProtocols)
			return
		}
		w.WriteHeader(http.StatusEarlyHints) // informational: not the answer
		w.WriteHeader(http.StatusNoContent)
	}))
	first, retry := twice(t, mw, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON))
	if first != 500 || retry != 204 || runs.Load() != 2 {
		t.Errorf("next answered 101, then 204: answers %d then %d with next run %d times, want 500, then 204 and 2", first, retry, runs.Load())
	}
}

// TestRunContextEndsWithoutADeadline: with no deadline at all, the run's
// context still ends when the run returns.
func TestRunContextEndsWithoutADeadline(t *testing.T) {
	var kept context.Context
	h := wootric.NewHandler(testSecret)
	h.CallbackTimeout = -1
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		if _, ok := ctx.Deadline(); ok || ctx.Err() != nil {
			t.Errorf("context without a deadline: Deadline ok %v, Err %v", ok, ctx.Err())
		}
		kept = ctx
		return nil
	})
	serve(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON))
	select {
	case <-kept.Done():
	default:
		t.Errorf("run's context after the run returned: Err() = %v; want it ended", kept.Err())
	}
}

// TestRunCallbacksAreThoseRegisteredWhenVerified: a callback registered
// while the delivery is being claimed is not one of its run's.
func TestRunCallbacksAreThoseRegisteredWhenVerified(t *testing.T) {
	var late atomic.Int32
	h := wootric.NewHandler(testSecret)
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { return nil })
	h.Dedup = &store{beforeClaim: func() {
		h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { late.Add(1); return nil })
	}}
	serve(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON))
	if late.Load() != 0 {
		t.Errorf("a callback registered after verification, during Claim, ran %d times", late.Load())
	}
}

// TestRunDeadlinePassedBeforeItBegins: a run whose deadline passed while
// the event was being claimed does not begin.
func TestRunDeadlinePassedBeforeItBegins(t *testing.T) {
	const timeout = 20 * time.Millisecond
	var runs atomic.Int32
	var got error
	d := &store{beforeClaim: func() { time.Sleep(2 * timeout) }}
	h := wootric.NewHandler(testSecret)
	h.Dedup, h.CallbackTimeout = d, timeout
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { runs.Add(1); return nil })
	keepErrors(h, &got)
	if code := serve(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)).Code; code != 503 || runs.Load() != 0 || d.releases.Load() != 1 {
		t.Errorf("answer %d with %d runs and %d releases (%v), want 503, none, and the claim released", code, runs.Load(), d.releases.Load(), got)
	}
}

// TestRunClaimWithItsLeaseSpentIsLoggedAsAWarning: a store slower than the
// lease is a problem to see, not an ordinary copy in progress.
func TestRunClaimWithItsLeaseSpentIsLoggedAsAWarning(t *testing.T) {
	const lease = 20 * time.Millisecond
	logs := &logRecords{}
	h := wootric.NewHandler(testSecret)
	h.Dedup, h.DedupLease, h.Logger = &store{beforeClaim: func() { time.Sleep(2 * lease) }}, lease, slog.New(logs)
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { return nil })
	serve(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON))
	if !logs.has(slog.LevelWarn, "lease had passed") {
		t.Errorf("records %+v, want a Warn saying the lease had passed", logs.records)
	}
}

// TestRunRetryAfterWithAHugeLease: Retry-After, the lease in whole
// seconds, does not overflow.
func TestRunRetryAfterWithAHugeLease(t *testing.T) {
	h := wootric.NewHandler(testSecret)
	h.Dedup, h.DedupLease = &store{claimResult: wootric.ClaimInProgress}, time.Duration(math.MaxInt64)
	w := serve(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON))
	if ra := w.Header().Get("Retry-After"); ra != "9223372037" {
		t.Errorf("Retry-After = %q, want 9223372037", ra)
	}
}

// TestRunPanicNilFailsTheRun: under GODEBUG=panicnil=1, the default of a
// main module written for Go 1.20 or older, recover returns nil after
// panic(nil); the run has failed all the same.
func TestRunPanicNilFailsTheRun(t *testing.T) {
	t.Setenv("GODEBUG", "panicnil=1")
	var runs atomic.Int32
	h := wootric.NewHandler(testSecret)
	h.Dedup = &wootric.MemoryDeduplicator{}
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error {
		if runs.Add(1) == 1 {
			panic(nil)
		}
		return nil
	})
	first, retry := twice(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON))
	if first != 500 || retry != 200 || runs.Load() != 2 {
		t.Errorf("callback panicked with nil: answers %d then %d with %d runs, want 500, then 200 and 2", first, retry, runs.Load())
	}
}

// TestRunLateFailureWhoseReleaseFailsIsLogged: a claim left held after a
// late failure holds the event up for its lease: the log says so.
func TestRunLateFailureWhoseReleaseFailsIsLogged(t *testing.T) {
	records := make(chan logRecord, 4)
	hang := make(chan struct{})
	h := wootric.NewHandler(testSecret)
	h.Dedup, h.CallbackTimeout = &store{releaseErr: errors.New("redis: connection refused")}, 20*time.Millisecond
	h.Logger = slog.New(chanLog(records))
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { <-hang; return errors.New("crm down") })
	if code := serve(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)).Code; code != 503 {
		t.Fatalf("answer %d, want 503", code)
	}
	<-records // the timeout's
	close(hang)
	if r := <-records; r.level != slog.LevelError || !strings.Contains(r.msg, "could not be released") || !strings.Contains(r.attrs["reason"], "connection refused") {
		t.Errorf("record %q at %v (reason %q), want an Error saying the claim could not be released", r.msg, r.level, r.attrs["reason"])
	}
}
