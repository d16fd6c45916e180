package wootric

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxBodyBytes is the body size limit of a Handler whose
// MaxBodyBytes is 0. Wootric's payloads are about 1 KiB.
const DefaultMaxBodyBytes = 1 << 20

// DefaultCallbackTimeout is how long a Handler whose CallbackTimeout is 0
// waits for a delivery's callbacks: less than the 30 seconds after which
// webhook senders commonly give up on an answer.
const DefaultCallbackTimeout = 20 * time.Second

// A Handler receives Wootric webhook deliveries. For each request it:
//
//  1. refuses a method other than POST (405, with "Allow: POST"), or a
//     body sent with a Content-Encoding such as gzip (415); and, before
//     reading any of the body, a missing or malformed X-Wootric-Signature
//     header (401);
//  2. reads the body once, refusing it past MaxBodyBytes (413), or when
//     the request's context ends the read (503);
//  3. verifies the signature against its secrets (401); for a Handler
//     made with [NewAccountHandler], against the secrets of the account
//     the body names, refusing a body that names no account, two, or one
//     it does not know (401), and answering 503 if the secrets cannot be
//     looked up;
//  4. decodes the body into an [Event] (400 if malformed);
//  5. if ReplayWindow is set, checks the event's timestamp (400);
//  6. if Dedup is set, claims the event: a duplicate of one that has run is
//     answered 200, and a copy of one running now 503;
//  7. runs the callbacks registered for the event's type, in the order they
//     were registered, stopping at the first that fails (500), then, as
//     [Handler.Middleware], the next handler; and answers without them if
//     they overrun their deadline (503);
//  8. if Dedup is set, completes the claim, or releases it if a callback
//     or next failed, so that the sender's retry runs the event again;
//  9. answers 200, or with next's answer.
//
// A 2xx answer means that the event has run successfully, on this delivery
// or, for a duplicate, an earlier one. docs/guarantees.md states exactly
// what Dedup adds to that, and the few cases it cannot cover.
//
// An event no callback is registered for is acknowledged with 200, so that
// Wootric does not send it again. No callback runs for a request that is
// refused, and the answer to a refused request is its status text, never
// the reason, which goes to ErrorHandler and Logger.
//
// Create a Handler with [NewHandler]; a zero Handler has no secret and
// answers every POST with 500. Set its fields before it serves its first
// request. Callbacks may be registered at any time, also while it serves:
// a delivery runs the callbacks registered when it was verified. A Handler
// is safe for concurrent use.
type Handler struct {
	// MaxBodyBytes is the largest body accepted. A request with a longer
	// body is answered 413 without reading more than MaxBodyBytes+1 bytes.
	// Zero means DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64

	// ReplayWindow, if positive, refuses a delivery whose timestamp is
	// older than ReplayWindow, more than a minute in the future, or absent,
	// with ErrOutsideReplayWindow (400). Zero, the default, accepts any
	// timestamp. The timestamp is inside the signed body, so a replayed
	// delivery cannot change it; but Wootric may also deliver late, after
	// an outage or a retry, and a late delivery refused here is lost. Set
	// it only with a margin well above the sender's retry period, and pair
	// it with Dedup, which catches the replays inside the window.
	ReplayWindow time.Duration

	// CallbackTimeout bounds a delivery's run, its callbacks and next
	// after Middleware, counted from when the Handler begins to claim and
	// run the event: their context ends when it passes, and if they
	// have not returned by then the Handler answers 503 without them
	// (ErrCallbackTimeout), so that the sender retries. A run that ignores
	// its context goes on unwaited for; with Dedup its claim is held until
	// it returns, then completed if it succeeded, late, so that the
	// retry is a duplicate, or released. With Dedup, the claim's lease
	// bounds the run too. Zero means DefaultCallbackTimeout (20 seconds);
	// a negative value waits for the run however long it takes, unless
	// three quarters of Dedup's lease end first.
	CallbackTimeout time.Duration

	// Dedup, if not nil, makes each event run once, even when Wootric
	// sends it again or to several replicas sharing the store. Before any
	// callback runs, the Handler claims the event's [DedupKey] for
	// DedupLease. If the event has already run, the delivery is answered
	// 200 and runs nothing (nor next, for Middleware). If another delivery
	// of it holds the claim, it is answered 503 with Retry-After
	// ([ErrInProgress]). Otherwise the event runs with a context that ends
	// at CallbackTimeout, or three quarters into the lease counted from
	// before Claim was sent, whichever comes first: the last quarter is
	// kept to record the run. If it succeeds the key is completed and
	// remembered for DedupTTL, and if it fails the claim is released, so
	// that the sender's retry runs it. A Complete or Release that fails is
	// tried again, twice, before the answer, and within the lease if it
	// can be. A store that
	// fails to claim answers 500 and runs nothing. Nil, the default, runs
	// every delivery.
	//
	// An event can still run twice when a run outlives its lease (a
	// callback that ignores its context, or a process paused past it),
	// when a run's Complete never reaches the store, or when the store
	// loses a claim or a completed key: docs/guarantees.md lists each.
	Dedup Deduplicator

	// DedupLease is how long a claim holds when its holder neither
	// completes nor releases it, as when its replica dies mid-run. Three
	// quarters of it also bound the run as CallbackTimeout does, if they
	// end first; make it well above the slowest run. A Claim
	// that returns after its lease has passed is given back, and the
	// delivery answered 503 (ErrInProgress). Zero means DefaultDedupLease
	// (one minute).
	DedupLease time.Duration

	// DedupTTL is how long an event that has run is remembered, so that
	// its duplicates are acknowledged without running. Zero means
	// DefaultDedupTTL (24 hours). With a ReplayWindow, a TTL shorter than
	// the window plus a minute is raised to that, and a warning logged
	// once: a replay inside the window must not run again. Without one, a
	// duplicate that arrives after the TTL runs again.
	DedupTTL time.Duration

	// Inbox, if not nil, makes a 2xx mean that the delivery is stored,
	// not that it has run: the Handler puts each delivery it has verified
	// and decoded (and claimed, with Dedup) in the Inbox, completes the
	// claim once Put returns, and answers 200, running no callback. A
	// worker runs the stored deliveries with Process, and retries them for
	// as long as what the callbacks call is down. If Put fails, the claim
	// is released and the answer is 503 with Retry-After (ErrInbox). Put
	// has the deadline a run would have, or CallbackTimeout's default if
	// runs have none. Middleware on a Handler with an Inbox answers every
	// delivery 500: its next would never run. Nil, the default, runs each
	// delivery in its request.
	Inbox Inbox

	// Logger, if not nil, receives a record for each refused or failed
	// delivery (Warn for 4xx, Error for 5xx), with the reason, the remote
	// address, the body's size, and when known the event's type and
	// object id, the account, and the index of the secret that matched;
	// an Info record
	// for each duplicate and each copy in progress, a Debug record for each
	// delivery processed (Warn if its Content-Type names another format
	// than its body's), and an Error record for one processed whose claim
	// Dedup could not complete, and a Warn record for a claim given back
	// because its lease had passed when Claim returned (a store slower
	// than DedupLease). A run that succeeds after its deadline,
	// once its delivery has been answered 503, gets a Warn record of its
	// own, or an Error one if its claim could not be completed; one that
	// panics after it, an Error record with the stack.
	// No record holds a secret, a MAC, or a value from the payload but the
	// event's type, as EventType.String prints it, and the account, each
	// quoted unless it has the shape of one, and the object id. A
	// callback's error is logged as it returned it; a panic is logged
	// with its stack but not its value.
	Logger *slog.Logger

	// Begin, if not nil, is called once for each request, as the Handler
	// begins on it, and once for each call of Process, with its context;
	// the context it returns is the delivery's from then on: the
	// callbacks' and next's, Put's, and Observe's derive from it. For
	// tracing: otelwootric starts the delivery's span here, so that what
	// the callbacks trace is nested under it. Nil, the default, costs
	// nothing.
	Begin func(ctx context.Context) context.Context

	// Observe, if not nil, is called once for each request, when its
	// answer is written, and once for each call of Process, when it
	// returns, with a [Report] of how it ended and how long each stage
	// took: for metrics and traces (module otelwootric turns it into
	// OpenTelemetry's). ctx is the request's context, which carries the
	// server's span, or the one given to Process. It runs on the request's
	// goroutine, before ServeHTTP returns: keep it quick, and safe for
	// concurrent use. Nil, the default, costs nothing: no clock is read and
	// nothing is allocated.
	Observe func(ctx context.Context, rep Report)

	// ErrorHandler, if not nil, answers requests that are refused or whose
	// callbacks fail, in place of the default answer: [StatusCode](err)
	// and its status text. err wraps one of the package's sentinel errors.
	// For ErrMethodNotAllowed the "Allow: POST" header is already set.
	// Its text never holds a secret or a MAC, but a callback's error is
	// part of it; do not write it to the client.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	warnNoSecret sync.Once
	keys         *keyring
	accounts     Accounts  // for NewAccountHandler; keys is nil then
	accountKeys  *keyCache // the keys of the secrets accounts gave
	warnTTL      sync.Once

	mu        sync.Mutex // serialises registrations
	callbacks atomic.Pointer[map[EventType][]Callback]
}

// NewHandler returns a Handler that accepts deliveries signed with any of
// secrets. Pass the old and the new secret while rotating one. Empty secrets
// are ignored; with none left, every delivery is answered 500 and fails with
// [ErrNoSecret], and the first one is logged to slog's default logger if
// the Handler has no Logger of its own.
func NewHandler(secrets ...string) *Handler {
	return &Handler{keys: newKeyring(secrets)}
}

// ServeHTTP receives one delivery and answers 200 once its callbacks have
// succeeded; see [Handler] for the other answers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, nil)
}

// Middleware returns a handler that receives deliveries as ServeHTTP does
// and then, instead of answering 200, calls next with the event in the
// request's context (see [EventFromContext]) and r.Body rewound to the same
// bytes. A refused delivery, a duplicate or a failed callback is answered
// as by ServeHTTP, and next is not called. A nil next answers 200.
//
// next is part of the event's run, with the callbacks' deadline: an answer
// of next's other than 2xx, or a panic, fails the run as a callback's error
// does (a *CallbackError, logged), and with Dedup set the claim is
// released, so that the sender's retry calls next again.
//
// next's answer is kept until next returns, as http.TimeoutHandler keeps
// its handler's, and goes to the sender then as next wrote it, whatever its
// status; a next that writes nothing is answered 200, as net/http answers
// it. A next that panics, or overruns its deadline, is answered as a failed
// callback is (500 or 503), and nothing it wrote reaches the sender. Its
// writer has no Flush and no Hijack, so next cannot answer past the
// Handler. A next whose answer is longer than MaxNextAnswerBytes (64 KiB)
// fails: its Write returns an error past it, and the sender gets 500. A
// panic with http.ErrAbortHandler, from next or a callback, fails the run
// and then goes on from ServeHTTP, so that net/http cuts the connection.
func (h *Handler) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, next)
	})
}

// delivery is what a Handler knows of one request, for its answer and log.
type delivery struct {
	event *Event
	eventID
	size int64 // bytes read, or the Content-Length before reading
	// account is the account token the body named, as accountName prints
	// it, for a Handler with accounts
	account string
	secret  int    // index of the secret that matched, or -1
	stamp   [2]int // where the event's timestamp is in the body
	dup     bool
	stored  bool // put in the Inbox
	// deadline, for Process, is its context's, which the run's may not
	// pass: River's job timeout, a Lambda invocation's end
	deadline time.Time
	// mislabelled: the Content-Type names the other format than the body's
	mislabelled bool
	claim       *Claim    // the Dedup claim held, until it is settled
	leaseEnd    time.Time // when the claim's lease ends, at the latest
	answer      *answer   // next's answer, to send as it wrote it
	unrecorded  error     // why a processed event could not be completed

	// Set when the Handler has an Observe hook: when it began, when the
	// last stage ended, and how long each took.
	start, last time.Time
	stages      [NumStages]time.Duration
}

// serve is the path of every request: receive the delivery, run its event
// (claimed from Dedup, if set), then answer and report, in that one place.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if h.Begin != nil {
		r = r.WithContext(h.Begin(r.Context()))
	}
	d := delivery{size: r.ContentLength, secret: -1}
	if h.Observe != nil {
		d.start = time.Now()
		d.last = d.start
	}
	err := h.receive(w, r, &d)
	switch {
	case err != nil:
	case h.Inbox != nil && next != nil:
		err = errInboxNext
	case h.Inbox != nil:
		err = h.store(r, &d)
	default:
		err = h.process(r, &d, next)
	}
	h.end(w, r, &d, err)
}

// end answers a delivery that ended with err, and reports it to the Logger
// and the Observe hook. next's answer, if it returned one, is sent as next
// wrote it. A run that panicked with http.ErrAbortHandler is answered by
// panicking with it, so that net/http cuts the connection.
func (h *Handler) end(w http.ResponseWriter, r *http.Request, d *delivery, err error) {
	switch {
	case aborted(err):
		h.observe(r, d, err)
		panic(http.ErrAbortHandler)
	case d.answer != nil:
		d.answer.send(w)
	case err == nil:
		w.WriteHeader(http.StatusOK)
	default:
		h.fail(w, r, err)
	}
	// A writer that a wrapper answered for already refuses to be written
	// to, as http.TimeoutHandler's does past its deadline: the Report says
	// what the sender got.
	if _, werr := w.Write(nil); errors.Is(werr, http.ErrHandlerTimeout) {
		err = answeredBefore(err)
	}
	h.observe(r, d, err)
}

// answeredBefore returns the error of a delivery that ended with err
// (nil, if processed), but whose sender had been answered 503 by a
// wrapping http.TimeoutHandler before.
func answeredBefore(err error) error {
	const msg = "wootric: a wrapping handler answered 503 first, on its deadline"
	if err == nil {
		return fmt.Errorf("%s (%w); the delivery was then processed", msg, http.ErrHandlerTimeout)
	}
	return fmt.Errorf("%s (%w); the delivery then ended: %w", msg, http.ErrHandlerTimeout, err)
}

// receive reads, verifies and decodes the delivery in r, and checks its
// timestamp.
func (h *Handler) receive(w http.ResponseWriter, r *http.Request, d *delivery) error {
	if r.Method != http.MethodPost {
		return ErrMethodNotAllowed
	}
	if ce := headerValue(r.Header, "Content-Encoding"); ce != "" && !equalFold(ce, "identity") {
		return fmt.Errorf("%w: %.20q", ErrUnsupportedEncoding, ce)
	}
	keys := h.keys
	if h.accounts == nil && (keys == nil || keys.n == 0) {
		h.warnNoSecret.Do(func() {
			if h.Logger == nil { // a Logger gets a record of each delivery
				slog.Error("wootric: the Handler has no secret (was its variable set?): every delivery is answered 500 until it has one")
			}
		})
		return ErrNoSecret
	}
	// A missing or malformed signature is refused before any byte of the
	// body is read: an unsigned request costs no read, and one that sent
	// "Expect: 100-continue" is never invited to send its body.
	want, err := parseSignature(headerValue(r.Header, SignatureHeader))
	if err != nil {
		return err
	}
	body, err := readBody(w, r, h.maxBodyBytes())
	d.lap(StageRead)
	if err != nil {
		return err
	}
	d.size = int64(len(body))
	// With accounts, the account is read from the body before it is
	// verified, and decoded afterwards from the same text.
	var account, text string
	if h.accounts != nil {
		text = string(body)
		if account, d.secret, err = h.verifyAccount(r.Context(), body, text, want); account != "" {
			d.account = accountName(account)
		}
	} else {
		d.secret, err = keys.verify(body, want)
	}
	d.lap(StageVerify)
	if err != nil {
		return err
	}
	if json, known := declaredJSON(headerValue(r.Header, "Content-Type")); known && json != (FormatOf(body) == JSON) {
		d.mislabelled = true // the body decides; the log says so
	}
	if text == "" {
		text = string(body)
	}
	d.event, d.stamp, err = decodeText(text, body)
	if err == nil {
		d.eventID = idOf(d.event)
		err = h.checkWindow(d.event.Timestamp)
		if h.accounts != nil && d.event.AccountToken != account {
			// accountOf agrees with decode, and this holds it to that.
			err = fmt.Errorf("%w: the event names another account than the one its secret was chosen for", ErrUnknownAccount)
		}
	}
	d.lap(StageDecode)
	return err
}

// maxFutureSkew is how far in the future a timestamp may be when the
// replay window is on: the clocks of Wootric and of the receiver may differ.
const maxFutureSkew = time.Minute

func (h *Handler) checkWindow(ts time.Time) error {
	if h.ReplayWindow <= 0 {
		return nil
	}
	now := time.Now()
	switch {
	case ts.IsZero():
		return fmt.Errorf("%w: no timestamp", ErrOutsideReplayWindow)
	case now.Sub(ts) > h.ReplayWindow:
		return fmt.Errorf("%w: %s old", ErrOutsideReplayWindow, now.Sub(ts).Round(time.Second))
	case ts.Sub(now) > maxFutureSkew:
		return fmt.Errorf("%w: %s in the future", ErrOutsideReplayWindow, ts.Sub(now).Round(time.Second))
	}
	return nil
}

// process runs d's event, claiming it first from Dedup if set, and
// settles the claim. The callbacks are those registered when the delivery
// was verified.
//
// The run's deadline is CallbackTimeout from now, or, with Dedup, the
// claim's lease counted from before Claim was sent, less a quarter of it,
// whichever comes first. The store counts the lease from when it took the
// claim, later; and the last quarter is kept to complete the claim, tried
// again if need be, before the lease ends. So a run that heeds its context
// ends, and is recorded, within the lease as the store counts it. A claim
// whose lease was spent before Claim returned is given back, and the
// delivery answered as a copy in progress.
func (h *Handler) process(r *http.Request, d *delivery, next http.Handler) error {
	var fns []Callback
	if m := h.callbacks.Load(); m != nil {
		fns = (*m)[d.typ]
	}
	deadline := d.deadline
	if t := h.callbackTimeout(); t > 0 && (deadline.IsZero() || time.Now().Add(t).Before(deadline)) {
		deadline = time.Now().Add(t)
	}
	if h.Dedup != nil && h.Inbox == nil { // with an Inbox, claimed when stored
		var err error
		if deadline, err = h.claim(r.Context(), d, deadline); err != nil || d.dup {
			return err
		}
	}
	late, err := h.run(r, d, fns, next, deadline)
	if late != nil {
		go h.settleLate(r, *d, late)
		d.claim = nil // settleLate's now
		return err
	}
	return h.settle(r.Context(), d, err)
}

// claim claims d's event from Dedup. It returns the run's deadline, the
// given one or the lease's if that comes first, with d.claim set; or, with
// d.dup set, nothing to run; or the error to answer with.
func (h *Handler) claim(ctx context.Context, d *delivery, deadline time.Time) (time.Time, error) {
	key, lease := dedupKey(d.event, d.stamp), h.dedupLease()
	sent := time.Now()
	res, token, err := h.Dedup.Claim(ctx, key, lease)
	d.lap(StageDedup)
	switch {
	case err != nil:
		return deadline, storeError("claiming", err)
	case res == ClaimCompleted:
		d.dup = true
		return deadline, nil
	case res == ClaimInProgress:
		return deadline, ErrInProgress
	case res != ClaimAcquired || token == "":
		return deadline, storeError("claiming", fmt.Errorf("Claim returned %v with token %q", res, token))
	}
	d.claim = &Claim{Key: key, Token: token, TTL: h.dedupTTL()}
	d.leaseEnd = sent.Add(lease)
	if !time.Now().Before(d.leaseEnd) {
		return deadline, h.settle(ctx, d, fmt.Errorf("%w: %w", ErrInProgress, errLeaseSpent))
	}
	if runEnd := d.leaseEnd.Add(-lease / 4); deadline.IsZero() || runEnd.Before(deadline) {
		deadline = runEnd
	}
	return deadline, nil
}

// errLeaseSpent is why a claim acquired is given back at once.
var errLeaseSpent = errors.New("the claim's lease had passed when Claim returned: the store is slower than DedupLease")

// settle completes d's claim when err is nil, and releases it otherwise,
// and returns err with any error of the store's releasing it. A store's
// error completing the claim is kept in d for the log: the event has run,
// and the answer stays 2xx. Either is tried again if the store fails (see
// retrySettle). The claim is settled whatever becomes of the request, with
// a context of its own.
func (h *Handler) settle(ctx context.Context, d *delivery, err error) error {
	c := d.claim
	if c == nil {
		return err
	}
	d.claim = nil
	defer d.lap(StageDedup)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err == nil {
		d.unrecorded = retrySettle(sctx, "completing", d.leaseEnd, func(ctx context.Context) error {
			return h.Dedup.Complete(ctx, c.Key, c.Token, c.TTL)
		})
		return nil
	}
	if rerr := retrySettle(sctx, "releasing", d.leaseEnd, func(ctx context.Context) error {
		return h.Dedup.Release(ctx, c.Key, c.Token)
	}); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// settleLate waits for the result of a run that overran its deadline, whose
// delivery d has been answered 503, settles its claim (if d holds one) as
// settle does, and logs how the run ended. A panic of the store's or the
// Logger's here is recovered: this is not the request's goroutine, and it
// would end the program.
func (h *Handler) settleLate(r *http.Request, d delivery, late <-chan error) {
	defer func() {
		if v := recover(); v != nil {
			h.logPanic(r, "settling a run that ended after its deadline", v)
		}
	}()
	claimed := d.claim != nil
	err := <-late
	h.logLate(r, &d, claimed, err, h.settle(r.Context(), &d, err))
}

// The settling of a claim: how long it may take in all, which goes on
// after the request's context has ended, and how often a store that fails
// is tried, the first retry after settleBackoff and each later one after
// four times the wait before it.
const (
	settleTimeout  = 10 * time.Second
	settleAttempts = 3
	settleBackoff  = 25 * time.Millisecond
)

// retrySettle calls op, a Complete or Release, until it succeeds, fails with
// ErrClaimLost, which trying again cannot change, or has been tried
// settleAttempts times, and returns its last error as storeError wraps it.
// The waits between tries are cut short so that the tries are made before
// leaseEnd, if they can be: past it, another claim may take the key. A
// Complete or Release that reached the store but whose answer was lost
// succeeds when tried again: the contract makes both idempotent for their
// token.
func retrySettle(ctx context.Context, op string, leaseEnd time.Time, call func(context.Context) error) error {
	wait := settleBackoff
	for attempt := 1; ; attempt++ {
		err := call(ctx)
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrClaimLost) || attempt == settleAttempts {
			return storeError(op, err)
		}
		if left := time.Until(leaseEnd) / time.Duration(settleAttempts-attempt+1); left < wait {
			wait = max(left, 0)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return storeError(op, err)
		}
		wait *= 4
	}
}

// storeError wraps a Deduplicator's err with ErrDedupStore, unless it
// already wraps that or ErrClaimLost.
func storeError(op string, err error) error {
	if errors.Is(err, ErrDedupStore) || errors.Is(err, ErrClaimLost) {
		return fmt.Errorf("wootric: %s the delivery: %w", op, err)
	}
	return fmt.Errorf("%w: %s the delivery: %w", ErrDedupStore, op, err)
}

// callbackTimeout returns CallbackTimeout or its default, or 0 for none.
func (h *Handler) callbackTimeout() time.Duration {
	switch {
	case h.CallbackTimeout > 0:
		return h.CallbackTimeout
	case h.CallbackTimeout < 0:
		return 0
	}
	return DefaultCallbackTimeout
}

func (h *Handler) dedupLease() time.Duration {
	if h.DedupLease > 0 {
		return h.DedupLease
	}
	return DefaultDedupLease
}

// dedupTTL returns DedupTTL or its default, raised to cover the replay
// window: a key forgotten while its event could still be replayed would
// let the replay run.
func (h *Handler) dedupTTL() time.Duration {
	ttl := h.DedupTTL
	if ttl <= 0 {
		ttl = DefaultDedupTTL
	}
	floor := h.ReplayWindow + maxFutureSkew
	if floor < h.ReplayWindow {
		floor = math.MaxInt64 // overflowed
	}
	if h.ReplayWindow > 0 && ttl < floor {
		h.warnTTL.Do(func() {
			if h.Logger != nil {
				h.Logger.Warn("wootric: DedupTTL is shorter than ReplayWindow; completed keys are kept for the window instead",
					slog.Duration("dedup_ttl", ttl), slog.Duration("replay_window", h.ReplayWindow))
			}
		})
		ttl = floor
	}
	return ttl
}

func (h *Handler) maxBodyBytes() int64 {
	if h.MaxBodyBytes > 0 {
		return h.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// fail answers a refused or failed delivery.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, reason, _ := ending(err)
	switch reason {
	case ReasonMethod:
		w.Header().Set("Allow", http.MethodPost)
	case ReasonInProgress:
		w.Header().Set("Retry-After", seconds(h.dedupLease()))
	case ReasonInbox:
		w.Header().Set("Retry-After", seconds(inboxRetryAfter))
	}
	if h.ErrorHandler != nil {
		h.ErrorHandler(w, r, err)
		return
	}
	http.Error(w, http.StatusText(code), code)
}

// seconds returns d in whole seconds, rounded up, for Retry-After.
func seconds(d time.Duration) string {
	secs := int64(d / time.Second)
	if d%time.Second != 0 {
		secs++
	}
	return strconv.FormatInt(secs, 10)
}

// headerValue is h.Get(key) for a key already in canonical form: the
// lookup without canonicalizing the key again.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
