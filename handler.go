package wootric

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
//     body sent with a Content-Encoding such as gzip (415);
//  2. reads the body once, refusing it past MaxBodyBytes (413);
//  3. verifies the X-Wootric-Signature header against its secrets (401);
//  4. decodes the body into an [Event] (400 if malformed);
//  5. if ReplayWindow is set, checks the event's timestamp (400);
//  6. if Dedup is set, claims the event: a duplicate of one that has run is
//     answered 200, and a copy of one running now 503;
//  7. runs the callbacks registered for the event's type, in the order they
//     were registered, stopping at the first that fails (500), and
//     answering without them if they overrun CallbackTimeout (503);
//  8. answers 200, or, as [Handler.Middleware], calls the next handler;
//  9. if Dedup is set, completes the claim, or releases it if a callback
//     or next failed, so that the sender's retry runs the event again.
//
// A 2xx answer means that the event has run successfully, on this delivery
// or, for a duplicate, an earlier one.
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

	// CallbackTimeout bounds a delivery's callbacks: their context ends
	// when it passes, and if they have not returned by then the Handler
	// answers 503 without them (ErrCallbackTimeout) and releases a Dedup
	// claim, so that the sender retries. Callbacks that ignore their
	// context run on unwaited for, and may still succeed: make them
	// idempotent. With Dedup, the claim's lease bounds them too. next,
	// after Middleware, gets the same context, but is not cut off. Zero
	// means DefaultCallbackTimeout (20 seconds); a negative value waits for
	// callbacks however long they take.
	CallbackTimeout time.Duration

	// Dedup, if not nil, makes each event run once, even when Wootric
	// sends it again or to several replicas sharing the store. Before any
	// callback runs, the Handler claims the event's [DedupKey] for
	// DedupLease. If the event has already run, the delivery is answered
	// 200 and runs nothing (nor next, for Middleware). If another delivery
	// of it holds the claim, it is answered 503 with Retry-After
	// ([ErrInProgress]). Otherwise the event runs with a context that ends
	// with the lease or CallbackTimeout, whichever comes first; if it
	// succeeds the key is completed and remembered for DedupTTL, and if it
	// fails or overruns the claim is released, so that the sender's retry
	// runs it. A store that fails answers 500 and runs nothing. Nil, the
	// default, runs every delivery.
	//
	// One case runs an event twice: callbacks that ignore their context and
	// run past that deadline, while a retry of the event takes the claim
	// released (or, if the replica died, expired) under them.
	Dedup Deduplicator

	// DedupLease is how long a claim holds when its holder neither
	// completes nor releases it, as when its replica dies mid-run. It also
	// bounds the callbacks as CallbackTimeout does, if it is the shorter.
	// Zero means DefaultDedupLease (one minute).
	DedupLease time.Duration

	// DedupTTL is how long an event that has run is remembered, so that
	// its duplicates are acknowledged without running. Zero means
	// DefaultDedupTTL (24 hours). With a ReplayWindow, a TTL shorter than
	// the window plus a minute is raised to that, and a warning logged
	// once: a replay inside the window must not run again. Without one, a
	// duplicate that arrives after the TTL runs again.
	DedupTTL time.Duration

	// Logger, if not nil, receives a record for each refused or failed
	// delivery (Warn for 4xx, Error for 5xx), with the reason, the remote
	// address, the body's size, and when known the event's type and
	// object id and the index of the secret that matched; an Info record
	// for each duplicate and each copy in progress, a Debug record for each
	// delivery processed (Warn if its Content-Type names another format
	// than its body's), and an Error record for one processed whose claim
	// Dedup could not complete.
	// No record holds a secret, a MAC, or a value from the payload. A
	// callback's error is logged as it returned it; a panic is logged
	// with its stack but not its value.
	Logger *slog.Logger

	// Observe, if not nil, is called once for each request, when its
	// answer is written, with a [Report] of how it ended and how long each
	// stage took: for metrics and traces (module otelwootric turns it into
	// OpenTelemetry's). r is the request as received, whose context
	// carries the server's span. It runs before ServeHTTP returns, on the
	// request's goroutine or, for a callback timeout, the one that answers:
	// keep it quick, and safe for concurrent use. Nil, the default, costs
	// nothing: no clock is read and nothing is allocated.
	Observe func(r *http.Request, rep Report)

	// ErrorHandler, if not nil, answers requests that are refused or whose
	// callbacks fail, in place of the default answer: [StatusCode](err)
	// and its status text. err wraps one of the package's sentinel errors.
	// For ErrMethodNotAllowed the "Allow: POST" header is already set.
	// Its text never holds a secret or a MAC, but a callback's error is
	// part of it; do not write it to the client.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	keys    *keyring
	warnTTL sync.Once

	mu        sync.Mutex // serialises registrations
	callbacks atomic.Pointer[map[EventType][]Callback]
}

// Callback is a function a Handler runs for each delivery of the event type
// it is registered for. ctx carries the request's values, and e, which
// [EventFromContext] also returns from it; it ends when the Handler's
// CallbackTimeout (or a Dedup claim's lease) passes, and not when the sender
// hangs up, so that a run the sender gave up on can still succeed. An error
// or a panic makes the Handler answer 500, and a callback still running at
// the deadline 503, so that Wootric sends the delivery again. Later callbacks,
// and next after Middleware, get the same e, so a callback that changes e
// changes it for them. The Handler never reuses e or its Raw bytes, so a
// callback may keep them.
type Callback func(ctx context.Context, e *Event) error

// NewHandler returns a Handler that accepts deliveries signed with any of
// secrets. Pass the old and the new secret while rotating one. Empty secrets
// are ignored; with none left, every delivery is answered 500 and fails with
// [ErrNoSecret].
func NewHandler(secrets ...string) *Handler {
	return &Handler{keys: newKeyring(secrets)}
}

// OnResponseCreated registers fn for [ResponseCreated] events.
func (h *Handler) OnResponseCreated(fn Callback) {
	h.On(ResponseCreated, fn)
}

// OnResponseUpdated registers fn for [ResponseUpdated] events.
func (h *Handler) OnResponseUpdated(fn Callback) {
	h.On(ResponseUpdated, fn)
}

// OnDeclineCreated registers fn for [DeclineCreated] events.
func (h *Handler) OnDeclineCreated(fn Callback) {
	h.On(DeclineCreated, fn)
}

// On registers fn for events of type t, which need not be one of the
// package's constants: On("response.deleted", fn) is ready for an event
// Wootric may add. Several callbacks may be registered for one type; they
// run in the order registered. On panics if fn is nil.
func (h *Handler) On(t EventType, fn Callback) {
	if fn == nil {
		panic("wootric: nil callback for " + string(t))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	next := make(map[EventType][]Callback)
	if old := h.callbacks.Load(); old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	fns := next[t]
	next[t] = append(fns[:len(fns):len(fns)], fn)
	h.callbacks.Store(&next)
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
// next is part of the event's run: an answer of next's other than 2xx, or
// a panic, fails the run as a callback's error does (a *CallbackError,
// logged), and with Dedup set the claim is released, so that the sender's
// retry calls next again. next's answer goes to the sender as it wrote it;
// a next that panics before answering is answered 500, and one that panics
// after is cut off (http.ErrAbortHandler), so that the sender does not take
// it for a 2xx.
func (h *Handler) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, next)
	})
}

type eventKey struct{}

// EventFromContext returns the event a Handler has verified and decoded,
// from the context of a callback or of the handler after Middleware.
func EventFromContext(ctx context.Context) (*Event, bool) {
	e, ok := ctx.Value(eventKey{}).(*Event)
	return e, ok
}

// delivery is what a Handler knows of one request, for its answer and log.
type delivery struct {
	event  *Event
	size   int64  // bytes read, or the Content-Length before reading
	secret int    // index of the secret that matched, or -1
	stamp  [2]int // where the event's timestamp is in the body
	dup    bool
	// mislabelled: the Content-Type names the other format than the body's
	mislabelled bool
	key         string // the Dedup claim held, if token is not ""
	token       string
	answered    int   // the status next has written, or 0
	unstored    error // why a processed event could not be completed

	// Set when the Handler has an Observe hook: when it began, when the
	// last stage ended, and how long each took.
	start, last time.Time
	stages      [NumStages]time.Duration
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	d := delivery{size: r.ContentLength, secret: -1}
	if h.Observe != nil {
		d.start = time.Now()
		d.last = d.start
	}
	err := h.receive(w, r, &d)
	if err == nil {
		err = h.process(w, r, &d, next)
	}
	if err == errAnswered {
		return
	}
	h.end(w, r, &d, h.settle(r.Context(), &d, err))
}

// end answers a delivery unless next has, and reports how it ended to the
// Logger and the Observe hook.
func (h *Handler) end(w http.ResponseWriter, r *http.Request, d *delivery, err error) {
	defer h.observe(r, d, err)
	switch {
	case err == nil && d.answered == 0:
		w.WriteHeader(http.StatusOK)
	case err != nil && d.answered == 0:
		h.fail(w, r, err)
	case err != nil && panicked(err):
		// next panicked after it began its answer, which must not reach
		// the sender as if it had succeeded.
		panic(http.ErrAbortHandler)
	}
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
	body, err := readBody(w, r, h.maxBodyBytes())
	d.lap(StageRead)
	if err != nil {
		return err
	}
	d.size = int64(len(body))
	keys := h.keys
	if keys == nil {
		return ErrNoSecret
	}
	d.secret, err = keys.verify(body, headerValue(r.Header, SignatureHeader))
	d.lap(StageVerify)
	if err != nil {
		return err
	}
	if json, known := declaredJSON(headerValue(r.Header, "Content-Type")); known && json != (FormatOf(body) == JSON) {
		d.mislabelled = true // the body decides; the log says so
	}
	d.event, d.stamp, err = decode(body)
	if err == nil {
		err = h.checkWindow(d.event.Timestamp)
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

// process claims the event from Dedup, if set, and runs it. A claim it
// takes is in d, for settle; if a callback or next panics through it with
// http.ErrAbortHandler, it releases the claim itself.
func (h *Handler) process(w http.ResponseWriter, r *http.Request, d *delivery, next http.Handler) error {
	if h.Dedup == nil {
		return h.run(w, r, d, next, h.callbackTimeout())
	}
	ctx := r.Context()
	key, lease := dedupKey(d.event, d.stamp), h.dedupLease()
	res, token, err := h.Dedup.Claim(ctx, key, lease)
	d.lap(StageDedup)
	switch {
	case err != nil:
		return storeError("claiming", err)
	case res == ClaimCompleted:
		d.dup = true
		return nil
	case res == ClaimInProgress:
		return ErrInProgress
	case res != ClaimAcquired || token == "":
		return storeError("claiming", fmt.Errorf("Claim returned %v with token %q", res, token))
	}
	d.key, d.token = key, token

	// The run cannot outlive its lease, past which another replica may
	// run the event.
	limit := lease
	if t := h.callbackTimeout(); t > 0 {
		limit = min(t, lease)
	}
	ran := false
	defer func() {
		if !ran {
			_ = h.settle(ctx, d, errAborted)
		}
	}()
	err = h.run(w, r, d, next, limit)
	ran = true
	return err
}

// errAborted settles the claim of a run that panicked through the Handler.
var errAborted = errors.New("aborted")

// settle completes d's claim, if it holds one, when err is nil, and
// releases it otherwise, and returns err with any error of the store's. A
// store's error completing the claim is kept in d for the log: the event
// has run, and the answer stays 2xx. The claim is settled whatever becomes
// of the request, with a context of its own.
func (h *Handler) settle(ctx context.Context, d *delivery, err error) error {
	if d.token == "" {
		return err
	}
	token := d.token
	d.token = ""
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	defer d.lap(StageDedup)
	if err == nil {
		if cerr := h.Dedup.Complete(sctx, d.key, token, h.dedupTTL()); cerr != nil {
			d.unstored = storeError("completing", cerr)
		}
		return nil
	}
	if rerr := h.Dedup.Release(sctx, d.key, token); rerr != nil {
		return errors.Join(err, storeError("releasing", rerr))
	}
	return err
}

// settleTimeout bounds a Complete or Release, which go on after the
// request's context has ended.
const settleTimeout = 10 * time.Second

// storeError wraps a Deduplicator's err with ErrDedupStore, unless it
// already wraps that or ErrClaimLost.
func storeError(op string, err error) error {
	if errors.Is(err, ErrDedupStore) || errors.Is(err, ErrClaimLost) {
		return fmt.Errorf("wootric: %s the delivery: %w", op, err)
	}
	return fmt.Errorf("%w: %s the delivery: %w", ErrDedupStore, op, err)
}

// run runs the event's callbacks, then next if there is one, within
// limit if it is positive. Their context carries the request's values, but
// does not end with it: see runContext.
func (h *Handler) run(w http.ResponseWriter, r *http.Request, d *delivery, next http.Handler, limit time.Duration) error {
	rc := newRunContext(r.Context(), d.event, limit)
	defer rc.stop()
	defer d.lap(StageRun)
	if err := h.dispatch(w, r, d, rc); err != nil || next == nil {
		return err
	}
	r = r.WithContext(rc)
	r.Body = io.NopCloser(bytes.NewReader(d.event.Raw))
	sw := &statusWriter{ResponseWriter: w}
	err := serveNext(next, sw, r, d.event)
	d.answered = sw.status
	return err
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
	if floor := h.ReplayWindow + maxFutureSkew; h.ReplayWindow > 0 && ttl < floor {
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
	switch {
	case errors.Is(err, ErrMethodNotAllowed):
		w.Header().Set("Allow", http.MethodPost)
	case errors.Is(err, ErrInProgress):
		secs := (h.dedupLease() + time.Second - 1) / time.Second
		w.Header().Set("Retry-After", strconv.FormatInt(int64(secs), 10))
	}
	if h.ErrorHandler != nil {
		h.ErrorHandler(w, r, err)
		return
	}
	code := StatusCode(err)
	http.Error(w, http.StatusText(code), code)
}

// headerValue is h.Get(key) for a key already in canonical form: the
// lookup without canonicalizing the key again.
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
