package wootric

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// An Inbox keeps verified deliveries durably, for a worker to process
// them later with [Handler.Process]. A Handler with an Inbox answers 2xx
// once a delivery is stored, not once it has run: it stays available while
// what its callbacks call is down or slow, and the worker retries for as
// long as that lasts. Module riverinbox is one, on River and PostgreSQL.
type Inbox interface {
	// Put stores d, and returns nil only once it is durable: committed,
	// so that it outlives a crash of this process and of the store's.
	// Putting a delivery whose Key is stored already stores nothing and
	// returns nil: it is a copy of the same event.
	//
	// ctx carries the request's values (its trace), the Dedup claim held
	// on the event, if any (see [ClaimFromContext]), and the deadline of
	// a run: an Inbox on the store that keeps the claims can complete the
	// claim in the transaction that stores d.
	Put(ctx context.Context, d *Delivery) error
}

// A Delivery is a verified delivery as a Handler hands it to an [Inbox].
type Delivery struct {
	// Event is the delivery's event. Its Raw is the exact body that was
	// signed, which is what an Inbox keeps: Decode gives the event back.
	Event *Event
	// Key is the event's DedupKey: the same for every copy of the event
	// that Wootric sends, so that an Inbox keeps one.
	Key string
	// ReceivedAt is when the Handler stored the delivery.
	ReceivedAt time.Time
}

// errInboxNext is why Middleware on a Handler with an Inbox answers 500:
// next would never run, in the request or in a worker, and every event
// would be acknowledged unrun.
var errInboxNext = errors.New("wootric: Middleware on a Handler with an Inbox: next would never run; serve the Handler itself, and run the work in callbacks")

// inboxRetryAfter is the Retry-After of a delivery that the Inbox failed
// to store: a database restarting or failing over is back within it.
const inboxRetryAfter = 30 * time.Second

// store puts d's delivery in the Inbox, having claimed it from Dedup if
// set, and completes the claim once the Inbox has stored it, or releases
// it if Put failed. Put has the deadline a run would have.
func (h *Handler) store(r *http.Request, d *delivery) error {
	// Put is bounded even when runs are not: a store that hangs must not
	// hold requests for good.
	t := h.callbackTimeout()
	if t <= 0 {
		t = DefaultCallbackTimeout
	}
	deadline := time.Now().Add(t)
	if h.Dedup != nil {
		var err error
		if deadline, err = h.claim(r.Context(), d, deadline); err != nil || d.dup {
			return err
		}
	}
	var key string
	if d.claim != nil {
		key = d.claim.Key
	} else {
		key = dedupKey(d.event, d.stamp)
	}
	// As a run's, Put's context does not end when the sender hangs up: a
	// delivery stored all the same is recorded, and its retry is a copy.
	ctx := context.WithValue(context.WithoutCancel(r.Context()), runKey{}, &runValues{event: d.event, claim: d.claim})
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	err := h.Inbox.Put(ctx, &Delivery{Event: d.event, Key: key, ReceivedAt: time.Now()})
	d.lap(StageRun)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrInbox, err)
	} else {
		d.stored = true
	}
	return h.settle(r.Context(), d, err)
}

// Process runs e, a delivery verified already, through h's callbacks, as
// ServeHTTP runs one it has verified: for deliveries that come without an
// *http.Request, such as those an Inbox's worker takes, or a serverless
// function's. e comes from Parse, or from Decode of a body that h, or
// another Handler with its secrets, verified and stored: Process does not
// verify it, nor check ReplayWindow (a stored delivery may run days later).
//
// Without an Inbox, Process claims e from Dedup if set, as ServeHTTP does.
// With one, it claims nothing: ServeHTTP claimed, stored and completed
// each delivery, and de-duplicating what a worker runs is the Inbox's
// job. A custom Inbox's worker must therefore call Process on a Handler
// whose Inbox is set, or one without Dedup: otherwise Process finds each
// event completed when it was stored, and runs nothing. The callbacks run
// with the deadline ServeHTTP gives them (CallbackTimeout, and with Dedup
// three quarters of the lease), or ctx's if it comes first, on a goroutine
// of their own, and a panic is recovered as their failure. Their context
// does not end when ctx is cancelled without a deadline.
//
// Process returns nil once the event has run (or, for a duplicate, had
// run), and otherwise the error ServeHTTP would answer with: StatusCode
// gives the status, errors.Is(err, ErrCallbackTimeout) says the run
// overran its deadline and goes on unwaited for, and errors.Is(err,
// ErrPermanent) that a callback said retrying cannot help. Observe gets
// its Report with ctx, and the Logger the same records as for a request.
func (h *Handler) Process(ctx context.Context, e *Event) error {
	if h.Begin != nil {
		ctx = h.Begin(ctx)
	}
	d := delivery{event: e, eventID: idOf(e), size: int64(len(e.Raw)), secret: -1}
	d.deadline, _ = ctx.Deadline()
	if h.Observe != nil {
		d.start = time.Now()
		d.last = d.start
	}
	if h.Dedup != nil && h.Inbox == nil {
		// The key leaves the timestamp out, as ServeHTTP's does.
		if _, stamp, err := decode(e.Raw); err == nil {
			d.stamp = stamp
		}
	}
	r := new(http.Request).WithContext(ctx) // for the run and the log: no remote address
	err := h.process(r, &d, nil)
	h.observe(r, &d, err)
	return err
}
