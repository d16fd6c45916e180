package wootric

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
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
//  5. runs the callbacks registered for the event's type, in the order they
//     were registered, stopping at the first that fails (500);
//  6. answers 200, or, as [Handler.Middleware], calls the next handler.
//
// An event no callback is registered for is acknowledged with 200, so that
// Wootric does not send it again. No callback runs for a request that is
// refused, and the answer to a refused request is its status text, never
// the reason, which goes to ErrorHandler.
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
// answer 500, so that Wootric sends the delivery again. e and what it holds
// must not be retained or modified after the callback returns, except by
// copying.
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
// bytes. A refused delivery or a failed callback is answered as by
// ServeHTTP, and next is not called. A nil next answers 200.
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

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	e, err := h.receive(r)
	if err == nil {
		ctx := context.WithValue(r.Context(), eventKey{}, e)
		err = h.dispatch(ctx, e)
		if err == nil && next != nil {
			r = r.WithContext(ctx)
			r.Body = io.NopCloser(bytes.NewReader(e.Raw))
			next.ServeHTTP(w, r)
			return
		}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// receive reads, verifies and decodes the delivery in r.
func (h *Handler) receive(r *http.Request) (*Event, error) {
	if r.Method != http.MethodPost {
		return nil, ErrMethodNotAllowed
	}
	body, err := readBody(r, h.maxBodyBytes())
	if err != nil {
		return nil, err
	}
	keys := h.keys
	if keys == nil {
		return nil, ErrNoSecret
	}
	if _, err := keys.verify(body, r.Header.Get(SignatureHeader)); err != nil {
		return nil, err
	}
	return Decode(body, r.Header.Get("Content-Type"))
}

func (h *Handler) maxBodyBytes() int64 {
	if h.MaxBodyBytes > 0 {
		return h.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// readBody reads r's body whole, and no more than limit+1 bytes of it.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length over %d bytes", ErrBodyTooLarge, limit)
	}
	if r.Body == nil {
		return nil, nil
	}
	size := int64(512)
	if r.ContentLength >= 0 {
		size = r.ContentLength + 1 // room to see the end
	}
	b := make([]byte, 0, size)
	lr := io.LimitedReader{R: r.Body, N: limit + 1}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
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
			err = &CallbackError{Type: e.Type, ID: objectID(e), Panic: v}
		}
	}()
	if err := fn(ctx, e); err != nil {
		return &CallbackError{Type: e.Type, ID: objectID(e), Err: err}
	}
	return nil
}

func objectID(e *Event) int64 {
	switch {
	case e.Response != nil:
		return e.Response.ID
	case e.Decline != nil:
		return e.Decline.ID
	}
	return 0
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
