package wootric

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxBodyBytes is the body size limit of a Handler whose
// MaxBodyBytes is 0. Wootric's payloads are about 1 KiB.
const DefaultMaxBodyBytes = 1 << 20

// A Handler receives Wootric webhook deliveries. For each request it:
//
//  1. refuses a method other than POST (405, with "Allow: POST");
//  2. reads the body once, refusing it past MaxBodyBytes (413);
//  3. verifies the X-Wootric-Signature header against its secrets (401);
//  4. decodes the body into an [Event] (400 if malformed);
//  5. if ReplayWindow is set, checks the event's timestamp (400);
//  6. if Dedup is set, claims the event, answering 200 to a duplicate;
//  7. runs the callbacks registered for the event's type, in the order they
//     were registered, stopping at the first that fails (500);
//  8. answers 200, or, as [Handler.Middleware], calls the next handler.
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

	// Dedup, if not nil, makes each event run its callbacks once: a
	// delivery whose DedupKey it has already claimed is acknowledged with
	// 200 and runs no callback. Nil, the default, runs every delivery.
	Dedup Deduplicator

	// Logger, if not nil, receives a record for each refused or failed
	// delivery (Warn for 4xx, Error for 5xx), with the reason, the remote
	// address, the body's size, and when known the event's type and
	// object id and the index of the secret that matched; an Info record
	// for each duplicate, and a Debug record for each delivery processed.
	// No record holds a secret, a MAC, or a value from the payload. A
	// callback's error is logged as it returned it; a panic is logged
	// with its stack but not its value.
	Logger *slog.Logger

	// ErrorHandler, if not nil, answers requests that are refused or whose
	// callbacks fail, in place of the default answer: [StatusCode](err)
	// and its status text. err wraps one of the package's sentinel errors.
	// For ErrMethodNotAllowed the "Allow: POST" header is already set.
	// Its text never holds a secret or a MAC, but a callback's error is
	// part of it; do not write it to the client.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	keys *keyring

	mu        sync.Mutex // serialises registrations
	callbacks atomic.Pointer[map[EventType][]Callback]
}

// Callback is a function a Handler runs for each delivery of the event type
// it is registered for. ctx is the request's context, from which
// [EventFromContext] also returns e. An error or a panic makes the Handler
// answer 500, so that Wootric sends the delivery again. Later callbacks,
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
func (h *Handler) OnResponseCreated(fn func(context.Context, *Event) error) {
	h.On(ResponseCreated, fn)
}

// OnResponseUpdated registers fn for [ResponseUpdated] events.
func (h *Handler) OnResponseUpdated(fn func(context.Context, *Event) error) {
	h.On(ResponseUpdated, fn)
}

// OnDeclineCreated registers fn for [DeclineCreated] events.
func (h *Handler) OnDeclineCreated(fn func(context.Context, *Event) error) {
	h.On(DeclineCreated, fn)
}

// On registers fn for events of type t, which need not be one of the
// package's constants: On("response.deleted", fn) is ready for an event
// Wootric may add. Several callbacks may be registered for one type; they
// run in the order registered. On panics if fn is nil.
func (h *Handler) On(t EventType, fn func(context.Context, *Event) error) {
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
	size   int64 // bytes read, or the Content-Length before reading
	secret int   // index of the secret that matched, or -1
	dup    bool
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	d := delivery{size: r.ContentLength, secret: -1}
	err := h.receive(w, r, &d)
	ctx := r.Context()
	if err == nil {
		ctx = context.WithValue(ctx, eventKey{}, d.event)
		err = h.process(ctx, &d)
	}
	h.log(r, &d, err)
	switch {
	case err != nil:
		h.fail(w, r, err)
	case d.dup || next == nil:
		w.WriteHeader(http.StatusOK)
	default:
		r = r.WithContext(ctx)
		r.Body = io.NopCloser(bytes.NewReader(d.event.Raw))
		next.ServeHTTP(w, r)
	}
}

// receive reads, verifies and decodes the delivery in r, and checks its
// timestamp.
func (h *Handler) receive(w http.ResponseWriter, r *http.Request, d *delivery) error {
	if r.Method != http.MethodPost {
		return ErrMethodNotAllowed
	}
	body, err := readBody(w, r, h.maxBodyBytes())
	if err != nil {
		return err
	}
	d.size = int64(len(body))
	keys := h.keys
	if keys == nil {
		return ErrNoSecret
	}
	if d.secret, err = keys.verify(body, r.Header.Get(SignatureHeader)); err != nil {
		return err
	}
	if d.event, err = Decode(body, r.Header.Get("Content-Type")); err != nil {
		return err
	}
	return h.checkWindow(d.event.Timestamp)
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

// process claims the event from Dedup, if set, and runs its callbacks.
func (h *Handler) process(ctx context.Context, d *delivery) error {
	if h.Dedup == nil {
		return h.dispatch(ctx, d.event)
	}
	key := DedupKey(d.event)
	claimed, err := h.Dedup.Claim(ctx, key)
	if err != nil {
		return fmt.Errorf("wootric: claiming the delivery: %w", err)
	}
	if !claimed {
		d.dup = true
		return nil
	}
	if err := h.dispatch(ctx, d.event); err != nil {
		if rerr := h.Dedup.Release(ctx, key); rerr != nil {
			return errors.Join(err, fmt.Errorf("wootric: releasing the delivery: %w", rerr))
		}
		return err
	}
	return nil
}

func (h *Handler) maxBodyBytes() int64 {
	if h.MaxBodyBytes > 0 {
		return h.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// readBody reads r's body whole, and no more than limit+1 bytes of it. If
// the request's context ends first, so does the read, where w lets it set
// the connection's read deadline (a net/http server's does).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length over %d bytes", ErrBodyTooLarge, limit)
	}
	if r.Body == nil {
		return nil, nil
	}
	ctx := r.Context()
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() {
			_ = http.NewResponseController(w).SetReadDeadline(time.Unix(1, 0))
		})
		defer stop()
	}
	// The buffer starts at Content-Length, up to 64 KiB: a sender may claim
	// a megabyte and send nothing. Past that it grows to Content-Length at
	// once, or doubles when there is none.
	size := int64(512)
	if r.ContentLength >= 0 {
		size = min(r.ContentLength+1, 64<<10) // +1: room to see the end
	}
	b := make([]byte, 0, size)
	lr := io.LimitedReader{R: r.Body, N: limit + 1}
	for {
		if len(b) == cap(b) {
			grow := 2 * int64(cap(b))
			if r.ContentLength >= int64(cap(b)) {
				grow = r.ContentLength + 1
			}
			b = append(make([]byte, 0, min(grow, limit+1)), b...)
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return nil, fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, limit)
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			return nil, fmt.Errorf("%w: %w", ErrBodyUnreadable, err)
		}
	}
}

// dispatch runs e's callbacks in turn, stopping at the first that fails.
func (h *Handler) dispatch(ctx context.Context, e *Event) error {
	m := h.callbacks.Load()
	if m == nil {
		return nil
	}
	for _, fn := range (*m)[e.Type] {
		if err := run(ctx, fn, e); err != nil {
			return err
		}
	}
	return nil
}

// run runs one callback, turning its error or panic into a *CallbackError.
// A panic with http.ErrAbortHandler goes on, as net/http expects.
func run(ctx context.Context, fn Callback, e *Event) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			id, _ := e.object()
			err = &CallbackError{Type: e.Type, ID: id, Panic: v, stack: debug.Stack()}
		}
	}()
	if err := fn(ctx, e); err != nil {
		id, _ := e.object()
		return &CallbackError{Type: e.Type, ID: id, Err: err}
	}
	return nil
}

// log records how a delivery ended; err is nil for one processed.
func (h *Handler) log(r *http.Request, d *delivery, err error) {
	if h.Logger == nil {
		return
	}
	status := StatusCode(err)
	level, msg := slog.LevelDebug, "wootric: delivery processed"
	switch {
	case d.dup:
		level, msg = slog.LevelInfo, "wootric: duplicate delivery acknowledged"
	case errors.Is(err, ErrCallback):
		level, msg = slog.LevelError, "wootric: callback failed"
	case status >= 500:
		level, msg = slog.LevelError, "wootric: delivery failed"
	case status >= 400:
		level, msg = slog.LevelWarn, "wootric: delivery refused"
	}
	ctx := r.Context()
	if !h.Logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 9)
	if err != nil {
		attrs = append(attrs, slog.String("reason", err.Error()), slog.Int("status", status))
	}
	attrs = append(attrs, slog.String("remote_addr", r.RemoteAddr), slog.Int64("content_length", d.size))
	if d.secret >= 0 {
		attrs = append(attrs, slog.Int("secret_index", d.secret))
	}
	if e := d.event; e != nil {
		id, _ := e.object()
		attrs = append(attrs, slog.String("event_type", string(e.Type)), slog.Int64("object_id", id))
	}
	var ce *CallbackError
	if errors.As(err, &ce) && ce.stack != nil {
		attrs = append(attrs, slog.String("stack", string(ce.stack)))
	}
	h.Logger.LogAttrs(ctx, level, msg, attrs...)
}

// fail answers a refused or failed delivery.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrMethodNotAllowed) {
		w.Header().Set("Allow", http.MethodPost)
	}
	if h.ErrorHandler != nil {
		h.ErrorHandler(w, r, err)
		return
	}
	code := StatusCode(err)
	http.Error(w, http.StatusText(code), code)
}
