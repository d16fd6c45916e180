package wootrictest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
)

// TestReplicas runs three Handlers that share d as the replicas of one
// receiver behind a load balancer, and a sender that delivers 300 events to
// them as Wootric does, retrying on anything but 2xx. Each event is sent
// twice at once, to two replicas, the second copy with a new timestamp.
// The first run of some events fails: a callback returns an error, panics,
// or hangs past its lease ignoring its context; one replica serves through
// [wootric.Handler.Middleware], whose next handler fails those runs by
// answering 500, panicking or hanging. A third of the way through, one
// replica dies: it stops listening, its connections are cut, and the runs
// it has under way never finish, so their claims are neither completed nor
// released. TestReplicas fails the test unless every event is acknowledged,
// none before it has run successfully, and each runs successfully exactly
// once.
//
// [TestDeduplicator] runs it; call it alone to check a store, or a fleet's
// configuration, against the Handler.
func TestReplicas(t *testing.T, d wootric.Deduplicator) {
	t.Helper()
	const (
		events = 300
		lease  = 300 * time.Millisecond
	)
	account := "NPS-" + randomHex(6) // keys of its own in a shared store
	ledger := make([]struct{ attempts, successes atomic.Int32 }, events)
	dead := make(chan struct{}) // closed when the test ends: hung runs return
	var replica2Down atomic.Bool
	var cut atomic.Int32 // runs under way on replica 2 when it died

	// work is the run of event i: its first attempt fails in the way i
	// says; a run that succeeds is counted before it returns.
	work := func(i int) (failure string, err error) {
		if ledger[i].attempts.Add(1) == 1 {
			switch {
			case i%5 == 1:
				return "error", errors.New("the CRM is down")
			case i%5 == 2:
				return "panic", nil
			case i%9 == 3:
				<-dead // hangs past the lease, then "dies"
				return "hang", errors.New("the replica died")
			}
		}
		ledger[i].successes.Add(1)
		return "", nil
	}
	idOf := func(e *wootric.Event) int { return int(e.Response.ID - 1) }
	callback := func(ctx context.Context, e *wootric.Event) error {
		failure, err := work(idOf(e))
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
			cut.Add(1)
			<-dead
			return errors.New("the replica died")
		}
		return callback(ctx, e)
	}

	var servers [3]*httptest.Server
	for r := range servers {
		h := wootric.NewHandler(Secret)
		h.Dedup, h.DedupLease = d, lease
		var handler http.Handler = h
		if r == 1 {
			handler = h.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				e, _ := wootric.EventFromContext(req.Context())
				switch failure, err := work(idOf(e)); {
				case failure == "panic":
					panic("next panicked")
				case err != nil:
					http.Error(w, "try again", http.StatusInternalServerError)
				default:
					w.WriteHeader(http.StatusNoContent)
				}
			}))
		} else if r == 2 {
			h.OnResponseCreated(dying)
		} else {
			h.OnResponseCreated(callback)
		}
		servers[r] = httptest.NewServer(handler)
		t.Cleanup(servers[r].Close)
	}
	t.Cleanup(func() { close(dead) }) // before the servers close, which waits for their handlers

	client := &http.Client{Timeout: 2 * lease}
	var fails atomic.Int32
	send := func(i, copy int, body []byte) {
		for attempt := 0; ; attempt++ {
			if attempt == 200 {
				t.Errorf("event %d copy %d: not acknowledged after %d attempts", i, copy, attempt)
				fails.Add(1)
				return
			}
			url := servers[(i+copy+attempt)%len(servers)].URL
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set(wootric.SignatureHeader, wootric.Sign(Secret, body))
			resp, err := client.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					if ledger[i].successes.Load() == 0 {
						t.Errorf("event %d copy %d: acknowledged %d before any run succeeded", i, copy, resp.StatusCode)
						fails.Add(1)
					}
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := 0; i < events; i++ {
		if i == events/3 {
			// Replica 2 dies, with runs under way: they never finish, it
			// takes no new connection, and its open ones are cut.
			replica2Down.Store(true)
			for deadline := time.Now().Add(10 * time.Second); cut.Load() == 0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			servers[2].Listener.Close()
			servers[2].CloseClientConnections()
		}
		e, err := SampleEvent(wootric.ResponseCreated, wootric.NPS)
		if err != nil {
			t.Fatal(err)
		}
		e.AccountToken, e.Response.ID = account, int64(i+1)
		e.Timestamp = time.Now()
		first, err := wootric.Encode(e, wootric.JSON)
		if err != nil {
			t.Fatal(err)
		}
		e.Timestamp = e.Timestamp.Add(time.Second)
		resend, _ := wootric.Encode(e, wootric.JSON)
		for copy, body := range [][]byte{first, resend} {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				send(i, copy, body)
			}()
		}
	}
	wg.Wait()
	if cut.Load() == 0 {
		t.Error("replica 2 died with no run under way; the test did not test that")
	}
	if fails.Load() > 0 {
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
