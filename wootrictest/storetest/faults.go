package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/wootrictest"
)

// TestFaults runs four Handlers that share d as replicas, and a sender that
// delivers 150 events to them, each three times at once, retrying on
// anything but 2xx, with faults wherever a receiver meets them:
//
//   - one call to d in ten fails, half of them before reaching the store
//     and half after it, their answer lost;
//   - callbacks fail one run in seven: they return an error, panic, or
//     hang until their context ends; and one run in twenty succeeds after
//     its deadline, having ignored its context, to be recorded late;
//   - one replica serves through [wootric.Handler.Middleware], whose next
//     fails as often: it answers 500, panics, answers 200 and then panics,
//     writes past [wootric.MaxNextAnswerBytes], tries to hijack the
//     connection, or aborts it (http.ErrAbortHandler).
//
// Runs that succeed check their context before they take effect, as
// callbacks should. TestFaults fails the test if any delivery is
// acknowledged before its event has run successfully, if an event is never
// acknowledged, or if an event runs successfully more than once where the
// Handler's contract promises once: everywhere but an event whose run's
// Complete never reached the store, which the Handler reports as
// unrecorded. [TestDeduplicator] runs it; it takes a few times FleetLease.
func TestFaults(t *testing.T, d wootric.Deduplicator) {
	t.Helper()
	const events, copies = 150, 3
	seed := rand.Uint64()
	t.Logf("faults seeded with %d", seed)
	rng := &lockedRand{r: rand.New(rand.NewPCG(seed, seed))}
	account := "NPS-" + randomHex(6)
	ledger := make(ledger, events)
	excused := &eventSet{} // events whose run the Handler could not record

	// succeed is the end of a run that takes effect: it heeds its
	// context, as a callback should.
	succeed := func(ctx context.Context, i int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		ledger[i].successes.Add(1)
		return nil
	}
	callback := func(ctx context.Context, e *wootric.Event) error {
		i := eventIndex(e)
		ledger[i].attempts.Add(1)
		switch n := rng.IntN(20); {
		case n == 0:
			return errors.New("the CRM is down")
		case n == 1:
			panic("the callback panicked")
		case n == 2:
			<-ctx.Done()
			return ctx.Err()
		case n == 3: // ignores its context, and succeeds late
			<-ctx.Done()
			ledger[i].successes.Add(1)
			return nil
		}
		return succeed(ctx, i)
	}
	big := strings.Repeat("x", wootric.MaxNextAnswerBytes/2+1)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, _ := wootric.EventFromContext(r.Context())
		i := eventIndex(e)
		ledger[i].attempts.Add(1)
		switch rng.IntN(30) {
		case 0:
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		case 1:
			panic("next panicked")
		case 2:
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, big)
			panic("next panicked after its answer")
		case 3:
			for j := 0; j < 3; j++ {
				if _, err := io.WriteString(w, big); err != nil {
					return
				}
			}
			return
		case 4:
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
				conn.Close()
				return
			}
			http.Error(w, "cannot hijack", http.StatusInternalServerError)
			return
		case 5:
			panic(http.ErrAbortHandler)
		}
		if err := succeed(r.Context(), i); err != nil {
			http.Error(w, "too late", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})

	store := &faultyStore{d: d, rng: rng}
	logs := &unrecordedLog{events: excused}
	urls := make([]string, 4)
	for r := range urls {
		h := wootric.NewHandler(wootrictest.Secret)
		h.Dedup, h.DedupLease, h.CallbackTimeout = store, FleetLease, FleetLease/5
		h.Logger = slog.New(logs)
		h.Observe = func(_ context.Context, rep wootric.Report) {
			if rep.Unrecorded != nil && !errors.Is(rep.Unrecorded, wootric.ErrClaimLost) {
				excused.add(int(rep.ObjectID - 1))
			}
		}
		var handler http.Handler = h
		if r == 1 {
			handler = h.Middleware(next)
		} else {
			h.On(wootric.ResponseCreated, callback)
		}
		srv := httptest.NewServer(handler)
		t.Cleanup(srv.Close)
		urls[r] = srv.URL
	}

	s := &fleetSender{
		t:        t,
		urls:     func() []string { return urls },
		ledger:   ledger,
		client:   &http.Client{Timeout: 2 * FleetLease},
		patience: 2 * time.Minute,
	}
	s.sendAll(fleetEvents(t, account, events, copies), nil)
	if s.fails.Load() > 0 {
		return
	}
	attempts, twice := 0, 0
	for i := range ledger {
		attempts += int(ledger[i].attempts.Load())
		if got := ledger[i].successes.Load(); got > 1 {
			if excused.has(i) {
				twice++
				continue
			}
			t.Errorf("event %d ran successfully %d times in %d attempts, want once: every Complete of its reached the store", i, got, ledger[i].attempts.Load())
		}
	}
	t.Logf("%d events, %d runs, %d store calls failed of %d; %d events ran twice after a Complete that never reached the store",
		events, attempts, store.failed.Load(), store.calls.Load(), twice)
}

// faultyStore is a Deduplicator over d whose calls fail one in ten, half
// before reaching d and half after it.
type faultyStore struct {
	d             wootric.Deduplicator
	rng           *lockedRand
	calls, failed atomic.Int64
}

var errInjected = fmt.Errorf("%w: wootrictest: injected fault", wootric.ErrDedupStore)

// fault returns whether a call fails, and if so whether before reaching the
// store.
func (s *faultyStore) fault() (fails, before bool) {
	s.calls.Add(1)
	switch s.rng.IntN(20) {
	case 0:
		s.failed.Add(1)
		return true, true
	case 1:
		s.failed.Add(1)
		return true, false
	}
	return false, false
}

func (s *faultyStore) Claim(ctx context.Context, key string, lease time.Duration) (wootric.ClaimResult, string, error) {
	fails, before := s.fault()
	if fails && before {
		return 0, "", errInjected
	}
	res, tok, err := s.d.Claim(ctx, key, lease)
	if fails {
		return 0, "", errInjected
	}
	return res, tok, err
}

func (s *faultyStore) Complete(ctx context.Context, key, token string, ttl time.Duration) error {
	fails, before := s.fault()
	if fails && before {
		return errInjected
	}
	if err := s.d.Complete(ctx, key, token, ttl); err != nil || !fails {
		return err
	}
	return errInjected
}

func (s *faultyStore) Release(ctx context.Context, key, token string) error {
	fails, before := s.fault()
	if fails && before {
		return errInjected
	}
	if err := s.d.Release(ctx, key, token); err != nil || !fails {
		return err
	}
	return errInjected
}

// unrecordedLog is a slog.Handler that adds to events the event of each
// record of a late run that succeeded but could not be recorded.
type unrecordedLog struct{ events *eventSet }

func (l *unrecordedLog) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelError
}
func (l *unrecordedLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *unrecordedLog) WithGroup(string) slog.Handler      { return l }
func (l *unrecordedLog) Handle(_ context.Context, r slog.Record) error {
	if !strings.Contains(r.Message, "could not be recorded") {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "object_id" {
			if id, err := strconv.Atoi(a.Value.String()); err == nil {
				l.events.add(id - 1)
			}
		}
		return true
	})
	return nil
}

// eventSet is a set of event indexes, safe for concurrent use.
type eventSet struct {
	mu sync.Mutex
	m  map[int]bool
}

func (s *eventSet) add(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[int]bool{}
	}
	s.m[i] = true
}

func (s *eventSet) has(i int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[i]
}

// lockedRand is a *rand.Rand safe for concurrent use.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) IntN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}
