package storetest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/wootrictest"
)

// FleetLease is the DedupLease of the Handlers of [TestReplicas] and
// [TestFaults]: long enough that a run which heeds its context, and checks
// it before it takes effect, reaches Complete within its lease even on a
// machine so busy that a goroutine waits seconds to be scheduled.
const FleetLease = 5 * time.Second

// TestReplicas runs three Handlers that share d as the replicas of one
// receiver behind a load balancer, and a sender that delivers 300 events to
// them as Wootric does, retrying on anything but 2xx. Each event is sent
// twice at once, to two replicas, the second copy with a new timestamp.
// The first run of some events fails: a callback returns an error, panics,
// or hangs past its lease ignoring its context; one replica serves through
// [wootric.Handler.Middleware], whose next handler fails those runs by
// answering 500, panicking or hanging. Runs that succeed heed their
// context, as callbacks should: they check it before they take effect. A
// third of the way through, one replica dies: it stops listening, its
// connections are cut, and the runs it has under way never finish, so
// their claims are neither completed nor released. TestReplicas fails the
// test unless every event is acknowledged, none before it has run
// successfully, and each runs successfully exactly once.
//
// [TestDeduplicator] runs it; call it alone to check a store, or a fleet's
// configuration, against the Handler. It takes FleetLease and a few
// seconds more.
func TestReplicas(t *testing.T, d wootric.Deduplicator) {
	t.Helper()
	const events = 300
	account := "NPS-" + randomHex(6) // keys of its own in a shared store
	ledger := make(ledger, events)
	dead := make(chan struct{}) // closed when the test ends: hung runs return
	var replica2Down atomic.Bool
	var cut atomic.Int32            // runs under way on replica 2 when it died
	firstCut := make(chan struct{}) // closed when the first is
	var cutOnce sync.Once

	// work is the run of event i: its first attempt fails in the way i
	// says; a run that succeeds checks its context, then counts its
	// success before it returns.
	work := func(ctx context.Context, i int) (failure string, err error) {
		if ledger[i].attempts.Add(1) == 1 {
			switch {
			case i%5 == 1:
				return "error", errors.New("the CRM is down")
			case i%5 == 2:
				return "panic", nil
			case i%9 == 3:
				<-dead // hangs past the lease, ignoring ctx, then "dies"
				return "hang", errors.New("the replica died")
			}
		}
		if err := ctx.Err(); err != nil {
			return "late", err
		}
		ledger[i].successes.Add(1)
		return "", nil
	}
	callback := func(ctx context.Context, e *wootric.Event) error {
		failure, err := work(ctx, eventIndex(e))
		if failure == "panic" {
			panic("the callback panicked")
		}
		return err
	}
	// Replica 2's runs take a little while, so that some are under way
	// when it dies; those never finish.
	dying := func(ctx context.Context, e *wootric.Event) error {
		time.Sleep(2 * time.Millisecond)
		if replica2Down.Load() {
			if cut.Add(1) == 1 {
				cutOnce.Do(func() { close(firstCut) })
			}
			<-dead
			return errors.New("the replica died")
		}
		return callback(ctx, e)
	}

	var servers [3]*httptest.Server
	for r := range servers {
		h := wootric.NewHandler(wootrictest.Secret)
		h.Dedup, h.DedupLease = d, FleetLease
		var handler http.Handler = h
		switch r {
		case 1:
			handler = h.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				e, _ := wootric.EventFromContext(req.Context())
				switch failure, err := work(req.Context(), eventIndex(e)); {
				case failure == "panic":
					panic("next panicked")
				case err != nil:
					http.Error(w, "try again", http.StatusInternalServerError)
				default:
					w.WriteHeader(http.StatusNoContent)
				}
			}))
		case 2:
			h.On(wootric.ResponseCreated, dying)
		default:
			h.On(wootric.ResponseCreated, callback)
		}
		servers[r] = httptest.NewServer(handler)
		t.Cleanup(servers[r].Close)
	}
	t.Cleanup(func() { close(dead) }) // before the servers close

	var mu sync.Mutex
	urls := []string{servers[0].URL, servers[1].URL, servers[2].URL}
	s := &fleetSender{
		t:        t,
		urls:     func() []string { mu.Lock(); defer mu.Unlock(); return urls },
		ledger:   ledger,
		client:   &http.Client{Timeout: 2 * FleetLease},
		patience: 2 * time.Minute,
	}
	s.sendAll(fleetEvents(t, account, events, 2), func(i int) {
		if i != events/3 {
			return
		}
		// Replica 2 dies, with runs under way: they never finish, it
		// takes no new connection, and its open ones are cut. The
		// sender still tries it, as a load balancer may.
		replica2Down.Store(true)
		select {
		case <-firstCut:
		case <-time.After(time.Minute):
		}
		servers[2].Listener.Close()
		servers[2].CloseClientConnections()
	})
	if cut.Load() == 0 {
		t.Error("replica 2 died with no run under way; the test did not test that")
	}
	if s.fails.Load() > 0 {
		return
	}
	attempts := 0
	for i := range ledger {
		attempts += int(ledger[i].attempts.Load())
		if got := ledger[i].successes.Load(); got != 1 {
			t.Errorf("event %d ran successfully %d times in %d attempts, want exactly once", i, got, ledger[i].attempts.Load())
		}
	}
	t.Logf("%d events, %d runs begun, %d cut short by replica 2's death", events, attempts+int(cut.Load()), cut.Load())
}
