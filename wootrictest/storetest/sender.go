package storetest

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/wootrictest"
)

// A ledger counts, for each event of a fleet test, the runs begun and the
// runs that succeeded. A run counts its success before it returns, so that
// an acknowledgement with no success counted is one given too early.
type ledger []struct{ attempts, successes atomic.Int32 }

// fleetSender delivers events to a fleet of replicas as Wootric does: each
// copy of an event goes to a replica, and is sent again, to the next one,
// on anything but a 2xx, until it is acknowledged or patience runs out.
type fleetSender struct {
	t        *testing.T
	urls     func() []string // the replicas' URLs
	ledger   ledger
	client   *http.Client
	patience time.Duration // how long a copy is sent again before the test fails
	fails    atomic.Int32
}

// send delivers body, a copy of event i, starting with replica copy.
func (s *fleetSender) send(i, copy int, body []byte) {
	stop := time.Now().Add(s.patience)
	for attempt := 0; ; attempt++ {
		if s.fails.Load() > 0 {
			return // the test has failed: the other copies stop too
		}
		if time.Now().After(stop) {
			s.t.Errorf("event %d copy %d: not acknowledged after %d attempts in %v", i, copy, attempt, s.patience)
			s.fails.Add(1)
			return
		}
		urls := s.urls()
		req, _ := http.NewRequest(http.MethodPost, urls[(i+copy+attempt)%len(urls)], bytes.NewReader(body))
		req.Header.Set(wootric.SignatureHeader, wootric.Sign(wootrictest.Secret, body))
		resp, err := s.client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				if s.ledger[i].successes.Load() == 0 {
					s.t.Errorf("event %d copy %d: acknowledged %d before any run succeeded", i, copy, resp.StatusCode)
					s.fails.Add(1)
				}
				return
			}
		}
		time.Sleep(10 * time.Millisecond) // the sender's pause before a retry
	}
}

// sendAll delivers each event's copies at once, at most 32 deliveries in
// flight, and waits until every copy is acknowledged or given up on.
// before, if not nil, is called before the copies of event i are sent.
func (s *fleetSender) sendAll(copies [][][]byte, before func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i, bodies := range copies {
		if before != nil {
			before(i)
		}
		for c, body := range bodies {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				s.send(i, c, body)
			}()
		}
	}
	wg.Wait()
}

// fleetEvents returns n response-created events of account, as n bodies
// each sent copies times: the first as Wootric sends it, the others as it
// sends it again, with a later timestamp (the same event, so the same key).
func fleetEvents(t *testing.T, account string, n, copies int) [][][]byte {
	t.Helper()
	all := make([][][]byte, n)
	for i := range all {
		e, err := wootrictest.SampleEvent(wootric.ResponseCreated, wootric.NPS)
		if err != nil {
			t.Fatal(err)
		}
		e.AccountToken, e.Response.ID = account, int64(i+1)
		e.Timestamp = time.Now()
		for c := 0; c < copies; c++ {
			body, err := wootric.Encode(e, wootric.JSON)
			if err != nil {
				t.Fatal(err)
			}
			all[i] = append(all[i], body)
			e.Timestamp = e.Timestamp.Add(time.Second)
		}
	}
	return all
}

// eventIndex is the index in a ledger of the event e of a fleet test.
func eventIndex(e *wootric.Event) int { return int(e.Response.ID - 1) }
