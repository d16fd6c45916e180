package wootric_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/wootrictest"
)

// store is a Deduplicator over a MemoryDeduplicator whose calls fail, wait
// or are recorded on demand.
type store struct {
	wootric.MemoryDeduplicator
	claimErr, completeErr, releaseErr error
	claimResult                       wootric.ClaimResult // if set, Claim returns it
	// failCompletes is how many Completes, the first ones, fail with
	// completeErr; 0 means all of them.
	failCompletes       int32
	beforeClaim         func() // if set, Claim calls it first
	completes, releases atomic.Int32
	settled             chan error   // if not nil, gets each Complete's and Release's result
	ttl                 atomic.Int64 // the last Complete's
}

func (s *store) Claim(ctx context.Context, key string, lease time.Duration) (wootric.ClaimResult, string, error) {
	if s.beforeClaim != nil {
		s.beforeClaim()
	}
	if s.claimErr != nil || s.claimResult != 0 {
		return s.claimResult, "", s.claimErr
	}
	return s.MemoryDeduplicator.Claim(ctx, key, lease)
}

func (s *store) Complete(ctx context.Context, key, token string, ttl time.Duration) error {
	n := s.completes.Add(1)
	s.ttl.Store(int64(ttl))
	err := s.completeErr
	if s.failCompletes > 0 && n > s.failCompletes {
		err = nil
	}
	if err == nil {
		err = s.MemoryDeduplicator.Complete(ctx, key, token, ttl)
	}
	s.report(err)
	return err
}

func (s *store) Release(ctx context.Context, key, token string) error {
	s.releases.Add(1)
	err := s.releaseErr
	if err == nil {
		err = s.MemoryDeduplicator.Release(ctx, key, token)
	}
	s.report(err)
	return err
}

func (s *store) report(err error) {
	if s.settled != nil {
		s.settled <- err
	}
}

// sample returns the sample event of type t, stamped now.
func sample(t testing.TB, typ wootric.EventType) *wootric.Event {
	t.Helper()
	e, err := wootrictest.SampleEvent(typ, wootric.NPS)
	if err != nil {
		t.Fatal(err)
	}
	e.Timestamp = time.Now().Truncate(time.Millisecond)
	return e
}

// encode returns e's body in format f.
func encode(t testing.TB, e *wootric.Event, f wootric.Format) []byte {
	t.Helper()
	b, err := wootric.Encode(e, f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// twice delivers body to h as the sender does and then as its retry does,
// and returns the two answers' statuses.
func twice(t testing.TB, h http.Handler, body []byte) (first, retry int) {
	t.Helper()
	return serve(t, h, body).Code, serve(t, h, body).Code
}

// serve delivers body to h and returns the answer.
func serve(t testing.TB, h http.Handler, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, delivery(t, body, testSecret, ""))
	return w
}

// Failure 1: a next that fails after Middleware must leave the event to the
// sender's retry, not acknowledge the retry as a duplicate.
func TestDedupMiddlewareNextFailureIsRetried(t *testing.T) {
	tests := []struct {
		name  string
		fail  func(w http.ResponseWriter) // next's first run
		first int                         // the answer to the first delivery
	}{
		{"next answers 500", func(w http.ResponseWriter) { http.Error(w, "db down", 500) }, 500},
		{"next answers 404", func(w http.ResponseWriter) { w.WriteHeader(404) }, 404},
		{"next answers 302", func(w http.ResponseWriter) { w.WriteHeader(302) }, 302},
		{"next panics", func(w http.ResponseWriter) { panic("next bug") }, 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var runs atomic.Int32
			h := wootric.NewHandler(testSecret)
			h.Dedup = &wootric.MemoryDeduplicator{}
			mw := h.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if runs.Add(1) == 1 {
					tc.fail(w)
					return
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			body := encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)
			codes := []int{serve(t, mw, body).Code, serve(t, mw, body).Code, serve(t, mw, body).Code}
			if want := fmt.Sprint([]int{tc.first, 204, 200}); fmt.Sprint(codes) != want || runs.Load() != 2 {
				t.Errorf("answers %v with next run %d times, want %s and 2 runs", codes, runs.Load(), want)
			}
		})
	}

	t.Run("next panics after answering 200", func(t *testing.T) {
		var runs atomic.Int32
		h := wootric.NewHandler(testSecret)
		h.Dedup = &wootric.MemoryDeduplicator{}
		mw := h.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if runs.Add(1) == 1 {
				w.WriteHeader(http.StatusOK)
				panic("next bug after its answer")
			}
		}))
		first, retry := twice(t, mw, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON))
		if first != 500 || retry != 200 || runs.Load() != 2 {
			t.Errorf("answers %d then %d with next run %d times, want 500 (next's 200 must not reach the sender), then 200 and 2 runs", first, retry, runs.Load())
		}
	})
}

// Failure 2: a copy of an event that arrives while the first delivery runs
// must not be acknowledged before that run succeeds.
func TestDedupCopyWhileRunningIsRetried(t *testing.T) {
	var runs atomic.Int32
	started, finish := make(chan struct{}), make(chan error)
	h := wootric.NewHandler(testSecret)
	h.Dedup = &wootric.MemoryDeduplicator{}
	h.DedupLease = 90 * time.Second
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error {
		if runs.Add(1) == 1 {
			close(started)
			return <-finish
		}
		return nil
	})
	body := encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)
	first := make(chan int)
	go func() { first <- serve(t, h, body).Code }()
	<-started

	w := serve(t, h, body)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "90" {
		t.Errorf("copy while the first runs: %d, Retry-After %q; want 503 and the lease, 90", w.Code, w.Header().Get("Retry-After"))
	}
	finish <- errors.New("the first run fails")
	if code := <-first; code != 500 {
		t.Errorf("failing first run answered %d, want 500", code)
	}
	if code := serve(t, h, body).Code; code != 200 || runs.Load() != 2 {
		t.Errorf("retry after the failure answered %d with %d runs, want 200 and 2", code, runs.Load())
	}
}

// Failure 3: a claim whose holder died must end with its lease, so that a
// later retry runs the event.
func TestDedupLeaseEnds(t *testing.T) {
	t.Run("a holder that died", func(t *testing.T) {
		var runs atomic.Int32
		d := &wootric.MemoryDeduplicator{}
		h := wootric.NewHandler(testSecret)
		h.Dedup, h.DedupLease = d, time.Minute
		h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { runs.Add(1); return nil })
		body := encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)
		// Another replica claimed the event, and died.
		if res, _, _ := d.Claim(context.Background(), decodedKey(t, body), 100*time.Millisecond); res != wootric.ClaimAcquired {
			t.Fatalf("Claim() = %v", res)
		}
		if code := serve(t, h, body).Code; code != 503 || runs.Load() != 0 {
			t.Errorf("retry within the dead claim's lease answered %d with %d runs, want 503 and none", code, runs.Load())
		}
		time.Sleep(300 * time.Millisecond)
		if code := serve(t, h, body).Code; code != 200 || runs.Load() != 1 {
			t.Errorf("retry after the dead claim's lease answered %d with %d runs, want 200 and 1", code, runs.Load())
		}
	})

	t.Run("a run cannot outlive its lease", func(t *testing.T) {
		var runs atomic.Int32
		d := &store{settled: make(chan error, 1)}
		h := wootric.NewHandler(testSecret)
		h.Dedup, h.DedupLease = d, 400*time.Millisecond
		h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
			if runs.Add(1) > 1 {
				return nil
			}
			<-ctx.Done() // a callback that would run forever, but heeds ctx
			return ctx.Err()
		})
		body := encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)
		if code := serve(t, h, body).Code; code != 503 {
			t.Errorf("run past its lease answered %d, want 503", code)
		}
		if err := <-d.settled; err != nil || d.releases.Load() != 1 {
			t.Errorf("run past its lease: %d releases (%v), want 1", d.releases.Load(), err)
		}
		if code := serve(t, h, body).Code; code != 200 || runs.Load() != 2 {
			t.Errorf("retry answered %d with %d runs, want 200 and 2", code, runs.Load())
		}
	})

	t.Run("a callback that aborts the request releases its claim", func(t *testing.T) {
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
			defer func() { _ = recover() }()
			serve(t, h, body)
		}()
		if code := serve(t, h, body).Code; code != 200 || runs.Load() != 2 {
			t.Errorf("retry after an abort answered %d with %d runs, want 200 and 2", code, runs.Load())
		}
	})
}

// Failure 4: the key identifies one event's content.
func TestDedupKey(t *testing.T) {
	created := func(t *testing.T) *wootric.Event { return sample(t, wootric.ResponseCreated) }
	tests := []struct {
		name   string
		format wootric.Format
		change func(e *wootric.Event)
		same   bool
	}{
		{"a resend with a new timestamp, JSON", wootric.JSON, func(e *wootric.Event) { e.Timestamp = e.Timestamp.Add(time.Hour) }, true},
		{"a resend with a new timestamp, form", wootric.Form, func(e *wootric.Event) { e.Timestamp = e.Timestamp.Add(time.Hour) }, true},
		{"an update within the second a form shows", wootric.Form, func(e *wootric.Event) {
			e.Response.Score, e.Response.UpdatedAt = 9, e.Response.UpdatedAt.Add(300*time.Millisecond)
		}, false},
		{"an update without updated_at", wootric.JSON, func(e *wootric.Event) { e.Response.Text = "changed my mind" }, false},
		{"another account", wootric.JSON, func(e *wootric.Event) { e.AccountToken = "NPS-EU-xxxxxxxx" }, false},
		{"a property changed", wootric.Form, func(e *wootric.Event) { e.Response.EndUserProperties["pricing_plan"] = "Pro" }, false},
		{"another event name", wootric.JSON, func(e *wootric.Event) { e.Type, e.Name = wootric.ResponseUpdated, "updated" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := created(t)
			if strings.Contains(tc.name, "without updated_at") {
				a.Response.UpdatedAt = time.Time{}
			}
			b := *a
			r := *a.Response
			r.EndUserProperties = map[string]string{"pricing_plan": "Enterprise", "product_plan": "Web App"}
			b.Response = &r
			tc.change(&b)
			ka, kb := decodedKey(t, encode(t, a, tc.format)), decodedKey(t, encode(t, &b, tc.format))
			if (ka == kb) != tc.same {
				t.Errorf("DedupKey() = %q and %q, want same = %v", ka, kb, tc.same)
			}
		})
	}

	// No key can tell an update that returns a response to an earlier
	// state, within the second, from a resend of that state: a form's
	// times are whole seconds. JSON's milliseconds tell them apart.
	t.Run("an update back to an earlier state within a second", func(t *testing.T) {
		for _, tc := range []struct {
			format wootric.Format
			same   bool
		}{{wootric.Form, true}, {wootric.JSON, false}} {
			a := created(t)
			a.Response.UpdatedAt = time.Date(2026, 11, 29, 10, 0, 0, 100e6, time.UTC)
			first := decodedKey(t, encode(t, a, tc.format))
			a.Response.Score = 3 // B, 300ms later
			a.Response.UpdatedAt = a.Response.UpdatedAt.Add(300 * time.Millisecond)
			a.Response.Score = 7 // back to A, 300ms later still
			a.Response.UpdatedAt = a.Response.UpdatedAt.Add(300 * time.Millisecond)
			a.Timestamp = a.Timestamp.Add(600 * time.Millisecond)
			if again := decodedKey(t, encode(t, a, tc.format)); (again == first) != tc.same {
				t.Errorf("%v: DedupKey(A, then A again within the second) same = %v, want %v", tc.format, again == first, tc.same)
			}
		}
	})

	t.Run("an unmodelled field changed", func(t *testing.T) {
		ka := decodedKey(t, []byte(`{"response":{"id":1,"score":9,"tags":["a"]},"event_name":"created","timestamp":"2026-11-29T10:00:00Z"}`))
		kb := decodedKey(t, []byte(`{"response":{"id":1,"score":9,"tags":["b"]},"event_name":"created","timestamp":"2026-11-29T10:00:01Z"}`))
		if ka == kb {
			t.Errorf("DedupKey() = %q for both, want the tags to tell them apart", ka)
		}
	})

	t.Run("a response and a decline of one id", func(t *testing.T) {
		r := decodedKey(t, []byte(`{"response":{"id":19,"score":9},"event_name":"created"}`))
		d := decodedKey(t, []byte(`{"decline":{"id":19},"event_name":"created"}`))
		if !strings.HasPrefix(r, "response/19/") || !strings.HasPrefix(d, "decline/19/") || len(r) != len("response/19/")+43 {
			t.Errorf("DedupKey() = %q and %q, want response/19/ and decline/19/ with a 43-character hash", r, d)
		}
	})

	t.Run("events built by hand", func(t *testing.T) {
		a, b := created(t), created(t)
		b.Timestamp = b.Timestamp.Add(time.Hour)
		if wootric.DedupKey(a) != wootric.DedupKey(b) {
			t.Error("DedupKey() differs for events that differ in Timestamp alone")
		}
		b.Response.Score = 0
		if wootric.DedupKey(a) == wootric.DedupKey(b) {
			t.Error("DedupKey() is the same for events of different scores")
		}
	})
}

func decodedKey(t *testing.T, body []byte) string {
	t.Helper()
	e, err := wootric.Decode(body)
	if err != nil {
		t.Fatalf("Decode(%q) = %v", body, err)
	}
	return wootric.DedupKey(e)
}

// Failure 5: a store's errors wrap ErrDedupStore; a zero
// MemoryDeduplicator works.
func TestDedupStoreErrors(t *testing.T) {
	failing := errors.New("redis: connection refused")
	tests := []struct {
		name     string
		store    *store
		callback error
		status   int
		runs     int32
		want     []error // what the error wraps
	}{
		{"claim fails", &store{claimErr: failing}, nil, 500, 0, []error{wootric.ErrDedupStore, failing}},
		{"claim returns no result", &store{claimResult: wootric.ClaimResult(7)}, nil, 500, 0, []error{wootric.ErrDedupStore}},
		{"release fails after a callback fails", &store{releaseErr: failing}, errors.New("crm down"), 500, 1, []error{wootric.ErrCallback, wootric.ErrDedupStore, failing}},
		{"release finds the claim lost", &store{releaseErr: wootric.ErrClaimLost}, errors.New("crm down"), 500, 1, []error{wootric.ErrCallback, wootric.ErrClaimLost}},
		{"complete fails after the event ran", &store{completeErr: failing}, nil, 200, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var runs atomic.Int32
			var got error
			h := wootric.NewHandler(testSecret)
			h.Dedup = tc.store
			h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { runs.Add(1); return tc.callback })
			keepErrors(h, &got)
			code := serve(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)).Code
			if code != tc.status || runs.Load() != tc.runs {
				t.Errorf("answer %d with %d runs (%v), want %d and %d", code, runs.Load(), got, tc.status, tc.runs)
			}
			for _, want := range tc.want {
				if !errors.Is(got, want) {
					t.Errorf("error %v does not wrap %v", got, want)
				}
			}
		})
	}

	t.Run("next panics after answering 200 and the release fails", func(t *testing.T) {
		var got error
		h := wootric.NewHandler(testSecret)
		h.Dedup = &store{releaseErr: failing}
		keepErrors(h, &got)
		mw := h.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			panic("next bug after its answer")
		}))
		if code := serve(t, mw, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON)).Code; code != 500 || !errors.Is(got, wootric.ErrCallback) || !errors.Is(got, wootric.ErrDedupStore) {
			t.Errorf("answer %d (%v), want 500 with ErrCallback and ErrDedupStore", code, got)
		}
	})

	t.Run("a completion that fails is logged", func(t *testing.T) {
		logs := &logRecords{}
		h := wootric.NewHandler(testSecret)
		h.Logger = slog.New(logs)
		h.Dedup = &store{completeErr: failing}
		serve(t, h, encode(t, sample(t, wootric.ResponseCreated), wootric.JSON))
		if len(logs.records) != 1 || logs.records[0].level != slog.LevelError || !strings.Contains(logs.records[0].attrs["reason"], "completing") {
			t.Errorf("records %+v, want one Error saying that completing failed", logs.records)
		}
	})

	t.Run("a zero MemoryDeduplicator works", func(t *testing.T) {
		var m wootric.MemoryDeduplicator
		ctx := context.Background()
		res, tok, err := m.Claim(ctx, "k", time.Minute)
		if res != wootric.ClaimAcquired || err != nil {
			t.Fatalf("Claim() = %v, %v", res, err)
		}
		if err := m.Complete(ctx, "k", tok, time.Minute); err != nil {
			t.Fatal(err)
		}
		if res, _, _ := m.Claim(ctx, "k", time.Minute); res != wootric.ClaimCompleted {
			t.Errorf("Claim(completed) = %v", res)
		}
	})
}

func TestDedupTTLCoversTheReplayWindow(t *testing.T) {
	tests := []struct {
		name        string
		ttl, window time.Duration
		want        time.Duration
		warn        bool
	}{
		{"default", 0, 0, wootric.DefaultDedupTTL, false},
		{"set", 2 * time.Hour, 0, 2 * time.Hour, false},
		{"covering the window", 2 * time.Hour, time.Hour, 2 * time.Hour, false},
		{"shorter than the window", time.Hour, 48 * time.Hour, 48*time.Hour + time.Minute, true},
		{"default shorter than the window", 0, 48 * time.Hour, 48*time.Hour + time.Minute, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logRecords{}
			d := &store{}
			h := wootric.NewHandler(testSecret)
			h.Logger = slog.New(logs)
			h.Dedup, h.DedupTTL, h.ReplayWindow = d, tc.ttl, tc.window
			for i := 0; i < 2; i++ {
				e := sample(t, wootric.ResponseCreated)
				e.Response.ID += int64(i)
				serve(t, h, encode(t, e, wootric.JSON))
			}
			if got := time.Duration(d.ttl.Load()); got != tc.want || d.completes.Load() != 2 {
				t.Errorf("Complete got TTL %v (%d calls), want %v", got, d.completes.Load(), tc.want)
			}
			warnings := 0
			for _, r := range logs.records {
				if r.level == slog.LevelWarn && strings.Contains(r.msg, "DedupTTL") {
					warnings++
				}
			}
			if want := map[bool]int{true: 1, false: 0}[tc.warn]; warnings != want {
				t.Errorf("%d warnings about DedupTTL, want %d", warnings, want)
			}
		})
	}
}

// TestDedupKeyIsTheHandlersKey claims DedupKey of a decoded body from the
// store: the Handler must find its own claim taken.
func TestDedupKeyIsTheHandlersKey(t *testing.T) {
	for _, f := range []wootric.Format{wootric.JSON, wootric.Form} {
		t.Run(f.ContentType(), func(t *testing.T) {
			d := &wootric.MemoryDeduplicator{}
			h := wootric.NewHandler(testSecret)
			h.Dedup = d
			body := encode(t, sample(t, wootric.ResponseUpdated), f)
			if res, _, _ := d.Claim(context.Background(), decodedKey(t, body), time.Minute); res != wootric.ClaimAcquired {
				t.Fatalf("Claim() = %v", res)
			}
			if code := serve(t, h, body).Code; code != http.StatusServiceUnavailable {
				t.Errorf("delivery of a body whose DedupKey is claimed answered %d, want 503", code)
			}
		})
	}
}
