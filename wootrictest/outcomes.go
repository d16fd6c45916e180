package wootrictest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing/iotest"
	"time"

	"github.com/wootric-go/wootric"
)

// An OutcomeCase is a delivery that ends one way at a Handler: processed,
// a duplicate, or refused or failed for one reason. [Outcomes] lists one
// of each, to test what a receiver's metrics, traces, logs and alerts make
// of every way a delivery can end.
//
// Run one as:
//
//	h := c.Handler()
//	h.Observe = ... // or the wiring under test
//	h.ServeHTTP(httptest.NewRecorder(), c.Request())
type OutcomeCase struct {
	// Name describes the case, such as "refused: signature".
	Name string
	// Handler returns a new Handler set up for the case: its secrets or
	// accounts, callbacks, Dedup, limits. It has served no request, and
	// has no Logger, Observe or ErrorHandler.
	Handler func() *wootric.Handler
	// Request returns a new request that ends as the case says.
	Request func() *http.Request

	// What the Handler's Report says of the request.
	Outcome   wootric.Outcome
	Reason    wootric.Reason
	Status    int
	EventType wootric.EventType // "" where the body is never decoded
	Account   string            // Report.Account: "" but for a Handler with accounts
	// LastStage is the last stage the request reaches; -1 for none.
	LastStage wootric.Stage
}

// Outcomes returns one case for each outcome of a delivery and each reason
// a Handler refuses or fails one. The cases are new on each call, and
// independent of one another: each has its own Deduplicator where it
// needs one. The callback-timeout case's callback waits 20ms.
func Outcomes() []OutcomeCase {
	e, _ := SampleEvent(wootric.ResponseCreated, wootric.NPS)
	req := func(ev *wootric.Event) func() *http.Request {
		return func() *http.Request {
			r, err := NewRequest("/wootric", Secret, ev, wootric.JSON)
			if err != nil {
				panic("wootrictest: a sample event does not encode: " + err.Error()) // never: SampleEvent's encode
			}
			return r
		}
	}
	ok := func(h *wootric.Handler) {
		h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { return nil })
	}
	withStore := func(claim func(d wootric.Deduplicator, key string)) func(h *wootric.Handler) {
		return func(h *wootric.Handler) {
			ok(h)
			d := &wootric.MemoryDeduplicator{}
			body, _ := wootric.Encode(e, wootric.JSON)
			ev, _ := wootric.Decode(body)
			claim(d, wootric.DedupKey(ev))
			h.Dedup = d
		}
	}
	signed := func(configure func(h *wootric.Handler)) func() *wootric.Handler {
		return func() *wootric.Handler { h := wootric.NewHandler(Secret); configure(h); return h }
	}
	accounts := func(lookup wootric.AccountsFunc) func() *wootric.Handler {
		return func() *wootric.Handler { h := wootric.NewAccountHandler(lookup); ok(h); return h }
	}
	edit := func(f func(r *http.Request)) func() *http.Request {
		return func() *http.Request { r := req(e)(); f(r); return r }
	}
	cases := []OutcomeCase{
		{Name: "processed", Handler: signed(ok), Request: req(e),
			Outcome: wootric.OutcomeProcessed, Status: 200, EventType: e.Type, LastStage: wootric.StageRun},
		{Name: "duplicate", Handler: signed(withStore(func(d wootric.Deduplicator, key string) {
			_, token, _ := d.Claim(context.Background(), key, time.Minute)
			_ = d.Complete(context.Background(), key, token, time.Hour)
		})), Request: req(e),
			Outcome: wootric.OutcomeDuplicate, Status: 200, EventType: e.Type, LastStage: wootric.StageDedup},
		{Name: "refused: method", Handler: signed(ok), Request: edit(func(r *http.Request) { r.Method = http.MethodGet }),
			Outcome: wootric.OutcomeRefused, Reason: wootric.ReasonMethod, Status: 405, LastStage: -1},
		{Name: "refused: encoding", Handler: signed(ok), Request: edit(func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }),
			Outcome: wootric.OutcomeRefused, Reason: wootric.ReasonEncoding, Status: 415, LastStage: -1},
		{Name: "refused: size", Handler: signed(func(h *wootric.Handler) { ok(h); h.MaxBodyBytes = 64 }), Request: req(e),
			Outcome: wootric.OutcomeRefused, Reason: wootric.ReasonSize, Status: 413, LastStage: wootric.StageRead},
		{Name: "refused: unreadable", Handler: signed(ok), Request: edit(func(r *http.Request) {
			r.Body = io.NopCloser(io.MultiReader(strings.NewReader(`{"response":`), iotest.ErrReader(errors.New("connection reset"))))
		}),
			Outcome: wootric.OutcomeRefused, Reason: wootric.ReasonUnreadable, Status: 400, LastStage: wootric.StageRead},
		{Name: "refused: signature", Handler: signed(ok), Request: edit(func(r *http.Request) {
			r.Header.Set(wootric.SignatureHeader, "sha1=0000000000000000000000000000000000000000")
		}),
			Outcome: wootric.OutcomeRefused, Reason: wootric.ReasonSignature, Status: 401, LastStage: wootric.StageVerify},
		{Name: "refused: malformed", Handler: signed(ok), Request: func() *http.Request {
			r := req(e)()
			body := []byte(`{"response":{"id":1},"event_name":"created"}`)
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(string(body))), int64(len(body))
			r.Header.Set(wootric.SignatureHeader, wootric.Sign(Secret, body))
			return r
		},
			Outcome: wootric.OutcomeRefused, Reason: wootric.ReasonMalformed, Status: 400, LastStage: wootric.StageDecode},
		{Name: "refused: replay window", Handler: signed(func(h *wootric.Handler) { ok(h); h.ReplayWindow = time.Hour }), Request: req(e),
			Outcome: wootric.OutcomeRefused, Reason: wootric.ReasonReplayWindow, Status: 400, EventType: e.Type, LastStage: wootric.StageDecode},
		{Name: "processed: account", Handler: accounts(func(_ context.Context, account string) ([]string, error) {
			return map[string][]string{e.AccountToken: {Secret}}[account], nil
		}), Request: req(e),
			Outcome: wootric.OutcomeProcessed, Status: 200, EventType: e.Type, Account: e.AccountToken, LastStage: wootric.StageRun},
		{Name: "refused: account", Handler: accounts(func(context.Context, string) ([]string, error) { return nil, nil }), Request: req(e),
			Outcome: wootric.OutcomeRefused, Reason: wootric.ReasonAccount, Status: 401, Account: e.AccountToken, LastStage: wootric.StageVerify},
		{Name: "failed: account lookup", Handler: accounts(func(context.Context, string) ([]string, error) { return nil, errStoreDown }), Request: req(e),
			Outcome: wootric.OutcomeFailed, Reason: wootric.ReasonAccountLookup, Status: 503, Account: e.AccountToken, LastStage: wootric.StageVerify},
		{Name: "stored", Handler: signed(func(h *wootric.Handler) { ok(h); h.Inbox = inboxFunc(func() error { return nil }) }), Request: req(e),
			Outcome: wootric.OutcomeStored, Status: 200, EventType: e.Type, LastStage: wootric.StageRun},
		{Name: "failed: inbox", Handler: signed(func(h *wootric.Handler) { ok(h); h.Inbox = inboxFunc(func() error { return errStoreDown }) }), Request: req(e),
			Outcome: wootric.OutcomeFailed, Reason: wootric.ReasonInbox, Status: 503, EventType: e.Type, LastStage: wootric.StageRun},
		{Name: "failed: no secret", Handler: func() *wootric.Handler { h := wootric.NewHandler(); ok(h); return h }, Request: req(e),
			Outcome: wootric.OutcomeFailed, Reason: wootric.ReasonNoSecret, Status: 500, LastStage: -1},
		{Name: "failed: in progress", Handler: signed(withStore(func(d wootric.Deduplicator, key string) {
			_, _, _ = d.Claim(context.Background(), key, time.Minute)
		})), Request: req(e),
			Outcome: wootric.OutcomeFailed, Reason: wootric.ReasonInProgress, Status: 503, EventType: e.Type, LastStage: wootric.StageDedup},
		{Name: "failed: store", Handler: signed(func(h *wootric.Handler) { ok(h); h.Dedup = failingStore{} }), Request: req(e),
			Outcome: wootric.OutcomeFailed, Reason: wootric.ReasonStore, Status: 500, EventType: e.Type, LastStage: wootric.StageDedup},
		{Name: "failed: callback", Handler: signed(func(h *wootric.Handler) {
			h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { return errors.New("downstream unavailable") })
		}), Request: req(e),
			Outcome: wootric.OutcomeFailed, Reason: wootric.ReasonCallback, Status: 500, EventType: e.Type, LastStage: wootric.StageRun},
		{Name: "failed: timeout", Handler: signed(func(h *wootric.Handler) {
			h.CallbackTimeout = 20 * time.Millisecond
			h.On(wootric.ResponseCreated, func(ctx context.Context, _ *wootric.Event) error { <-ctx.Done(); return ctx.Err() })
		}), Request: req(e),
			Outcome: wootric.OutcomeFailed, Reason: wootric.ReasonTimeout, Status: 503, EventType: e.Type, LastStage: wootric.StageRun},
	}
	return cases
}

// inboxFunc is an Inbox whose Put returns what the function does, and
// keeps nothing.
type inboxFunc func() error

func (f inboxFunc) Put(context.Context, *wootric.Delivery) error { return f() }

// failingStore is a Deduplicator whose store is down.
type failingStore struct{}

var errStoreDown = errors.New("wootrictest: store unreachable")

func (failingStore) Claim(context.Context, string, time.Duration) (wootric.ClaimResult, string, error) {
	return 0, "", errStoreDown
}
func (failingStore) Complete(context.Context, string, string, time.Duration) error {
	return errStoreDown
}
func (failingStore) Release(context.Context, string, string) error { return errStoreDown }
