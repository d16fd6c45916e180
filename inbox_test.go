package wootric_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
)

// memInbox is an Inbox in memory: one delivery per key, and Put fails
// while down is set.
type memInbox struct {
	mu     sync.Mutex
	down   error
	puts   int
	stored map[string]wootric.Delivery
	claims []bool // whether each Put's context held a claim
	dated  []bool // whether each Put's context had a deadline
}

func (m *memInbox) Put(ctx context.Context, d *wootric.Delivery) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	_, claimed := wootric.ClaimFromContext(ctx)
	_, dated := ctx.Deadline()
	m.claims, m.dated = append(m.claims, claimed), append(m.dated, dated)
	if m.down != nil {
		return m.down
	}
	if m.stored == nil {
		m.stored = map[string]wootric.Delivery{}
	}
	if _, ok := m.stored[d.Key]; !ok {
		m.stored[d.Key] = *d
	}
	return nil
}

// retried returns body with its timestamp moved, as Wootric's retry of
// the same event sends it.
func retried(t *testing.T, body []byte, n int) []byte {
	t.Helper()
	b := bytes.Replace(body, []byte("13:57:31.329"), []byte(fmt.Sprintf("13:58:%02d.000", n)), 1)
	if bytes.Equal(b, body) {
		t.Fatal("the sample's timestamp moved")
	}
	return b
}

// TestInboxStoresInsteadOfRunning checks that a Handler with an Inbox
// answers 200 once the delivery is stored, runs nothing, and stores the
// exact body under the event's DedupKey.
func TestInboxStoresInsteadOfRunning(t *testing.T) {
	body := readTestdata(t, "doc-response-created.json")
	for _, dedup := range []bool{false, true} {
		t.Run(fmt.Sprint("dedup=", dedup), func(t *testing.T) {
			inbox := &memInbox{}
			rec := &recorder{}
			h := wootric.NewHandler(testSecret)
			h.Inbox = inbox
			if dedup {
				h.Dedup = &wootric.MemoryDeduplicator{}
			}
			h.On(wootric.ResponseCreated, rec.callback(nil, false))
			var reps []wootric.Report
			h.Observe = func(_ context.Context, rep wootric.Report) { reps = append(reps, rep) }

			for i, b := range [][]byte{body, retried(t, body, 1)} {
				if w := serve(t, h, b); w.Code != http.StatusOK {
					t.Fatalf("delivery %d answered %d, want 200", i, w.Code)
				}
			}
			if rec.callbacks.Load() != 0 {
				t.Errorf("ran %d callbacks in the request", rec.callbacks.Load())
			}
			e, _ := wootric.Decode(body)
			d, ok := inbox.stored[wootric.DedupKey(e)]
			if len(inbox.stored) != 1 || !ok || !bytes.Equal(d.Event.Raw, body) || d.ReceivedAt.IsZero() {
				t.Fatalf("stored %v, want the first body under its DedupKey", inbox.stored)
			}
			wantOutcomes := []wootric.Outcome{wootric.OutcomeStored, wootric.OutcomeStored}
			wantPuts := 2
			if dedup {
				wantOutcomes[1], wantPuts = wootric.OutcomeDuplicate, 1
			}
			if len(reps) != 2 || reps[0].Outcome != wantOutcomes[0] || reps[1].Outcome != wantOutcomes[1] || inbox.puts != wantPuts {
				t.Errorf("Reports %+v and %d Puts, want outcomes %v and %d Puts", reps, inbox.puts, wantOutcomes, wantPuts)
			}
			if inbox.claims[0] != dedup || !inbox.dated[0] {
				t.Errorf("Put's context held a claim: %v, a deadline: %v; want %v, true", inbox.claims[0], inbox.dated[0], dedup)
			}
		})
	}
}

// TestInboxPutFails checks that a Put that fails is answered 503 with
// Retry-After, and that its claim is released, so that the sender's retry
// stores the event.
func TestInboxPutFails(t *testing.T) {
	body := readTestdata(t, "doc-response-created.json")
	inbox := &memInbox{down: errors.New("database restarting")}
	h := wootric.NewHandler(testSecret)
	h.Inbox = inbox
	h.Dedup = &wootric.MemoryDeduplicator{}
	var got error
	keepErrors(h, &got)
	w := serve(t, h, body)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "30" || !errors.Is(got, wootric.ErrInbox) {
		t.Fatalf("answered %d, Retry-After %q, %v; want 503, 30, ErrInbox", w.Code, w.Header().Get("Retry-After"), got)
	}
	inbox.down = nil
	if w := serve(t, h, retried(t, body, 1)); w.Code != http.StatusOK || len(inbox.stored) != 1 {
		t.Errorf("the retry answered %d and stored %d, want 200 and 1: the claim was not released", w.Code, len(inbox.stored))
	}
}

// TestProcess checks that Process runs a verified event as ServeHTTP
// does: its callbacks, their failures and panics, the deadline, Dedup
// without an Inbox and none with one, and a Report.
func TestProcess(t *testing.T) {
	body := readTestdata(t, "doc-response-created.json")
	errDown := errors.New("CRM down")
	tests := []struct {
		name     string
		callback wootric.Callback
		timeout  time.Duration
		want     []error // of each call; nil for success
		outcome  wootric.Outcome
	}{
		{"success", func(context.Context, *wootric.Event) error { return nil }, 0, nil, wootric.OutcomeProcessed},
		{"failure", func(context.Context, *wootric.Event) error { return errDown }, 0, []error{wootric.ErrCallback, errDown}, wootric.OutcomeFailed},
		{"permanent failure", func(context.Context, *wootric.Event) error {
			return fmt.Errorf("%w: no such customer", wootric.ErrPermanent)
		}, 0, []error{wootric.ErrCallback, wootric.ErrPermanent}, wootric.OutcomeFailed},
		{"panic", func(context.Context, *wootric.Event) error { panic("bug") }, 0, []error{wootric.ErrCallback}, wootric.OutcomeFailed},
		{"timeout", func(ctx context.Context, _ *wootric.Event) error { <-ctx.Done(); return ctx.Err() },
			10 * time.Millisecond, []error{wootric.ErrCallbackTimeout}, wootric.OutcomeFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := wootric.NewHandler(testSecret)
			h.CallbackTimeout = tc.timeout
			h.On(wootric.ResponseCreated, tc.callback)
			var rep wootric.Report
			h.Observe = func(_ context.Context, r wootric.Report) { rep = r }
			e, err := wootric.Decode(body)
			if err != nil {
				t.Fatal(err)
			}
			err = h.Process(context.Background(), e)
			for _, want := range tc.want {
				if !errors.Is(err, want) {
					t.Errorf("Process() = %v, want an error wrapping %v", err, want)
				}
			}
			if tc.want == nil && err != nil {
				t.Errorf("Process() = %v, want nil", err)
			}
			if rep.Outcome != tc.outcome || rep.ObjectID != 1128 || rep.Status != wootric.StatusCode(err) {
				t.Errorf("Report %+v, want outcome %s for object 1128", rep, tc.outcome)
			}
		})
	}
}

// TestProcessDedup checks that Process claims from Dedup, so that copies
// run once, unless the Handler has an Inbox, which de-duplicated them as
// it stored them.
func TestProcessDedup(t *testing.T) {
	body := readTestdata(t, "doc-response-created.json")
	for _, withInbox := range []bool{false, true} {
		t.Run(fmt.Sprint("inbox=", withInbox), func(t *testing.T) {
			rec := &recorder{}
			h := wootric.NewHandler(testSecret)
			h.Dedup = &wootric.MemoryDeduplicator{}
			if withInbox {
				h.Inbox = &memInbox{}
				if w := serve(t, h, body); w.Code != 200 { // stored, and its key completed
					t.Fatalf("answered %d", w.Code)
				}
			}
			h.On(wootric.ResponseCreated, rec.callback(nil, false))
			for i := range 2 {
				e, _ := wootric.Decode(retried(t, body, i))
				if err := h.Process(context.Background(), e); err != nil {
					t.Fatalf("Process() = %v", err)
				}
			}
			want := int32(1)
			if withInbox {
				want = 2 // the inbox's own de-duplication is not under test here
			}
			if got := rec.callbacks.Load(); got != want {
				t.Errorf("two copies ran %d times, want %d", got, want)
			}
		})
	}
}

func TestProcessLogsWithoutARemoteAddress(t *testing.T) {
	logs := &logRecords{}
	h := wootric.NewHandler(testSecret)
	h.Logger = slog.New(logs)
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { return errors.New("down") })
	e, _ := wootric.Decode(readTestdata(t, "doc-response-created.json"))
	_ = h.Process(context.Background(), e)
	if _, ok := logs.records[0].attrs["remote_addr"]; len(logs.records) != 1 || ok {
		t.Errorf("logged %+v, want one record without a remote address", logs.records)
	}
}

// TestInboxRefusesMiddleware: next would never run, in the request or in
// a worker, so Middleware on a Handler with an Inbox stores nothing and
// answers 500, loud, rather than acknowledge every event unrun.
func TestInboxRefusesMiddleware(t *testing.T) {
	inbox := &memInbox{}
	rec := &recorder{}
	h := wootric.NewHandler(testSecret)
	h.Inbox = inbox
	w := serve(t, h.Middleware(rec.nextHandler()), readTestdata(t, "doc-response-created.json"))
	if w.Code != http.StatusInternalServerError || inbox.puts != 0 || rec.next.Load() != 0 {
		t.Errorf("answered %d, %d Puts, next ran %d times; want 500, none, none", w.Code, inbox.puts, rec.next.Load())
	}
}

// TestProcessHeedsItsContextsDeadline: a run of Process ends at ctx's
// deadline when it comes before CallbackTimeout, as River's job timeout
// or a Lambda invocation's end does.
func TestProcessHeedsItsContextsDeadline(t *testing.T) {
	h := wootric.NewHandler(testSecret)
	h.CallbackTimeout = -1 // none of its own
	h.On(wootric.ResponseCreated, func(ctx context.Context, _ *wootric.Event) error { <-ctx.Done(); return ctx.Err() })
	e, _ := wootric.Decode(readTestdata(t, "doc-response-created.json"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := h.Process(ctx, e); !errors.Is(err, wootric.ErrCallbackTimeout) {
		t.Errorf("Process() = %v, want ErrCallbackTimeout at ctx's deadline", err)
	}
}
