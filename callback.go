package wootric

// callback.go: the callbacks a Handler runs for each event type, and their
// registration.

import "context"

// Callback is a function a Handler runs for each delivery of the event type
// it is registered for. ctx carries the request's values, and e, which
// [EventFromContext] also returns from it, and with Dedup the claim
// ([ClaimFromContext]); it ends at the run's deadline (the Handler's
// CallbackTimeout, or three quarters into a Dedup claim's lease, whichever
// comes first), and not when the sender hangs up, so that a run the sender
// gave up on can still succeed. An error or a panic makes
// the Handler answer 500, and a callback still running at the deadline
// 503, so that Wootric sends the delivery again. Callbacks run on a
// goroutine of their own, one after the other. Later callbacks, and next
// after Middleware, get the same e, so a callback that changes e changes
// it for them. The Handler never reuses e or its Raw bytes, so a callback
// may keep them.
type Callback func(ctx context.Context, e *Event) error

// On registers fn for events of type t: h.On(wootric.ResponseCreated, fn).
// t need not be one of the package's constants: On("response.deleted",
// fn) is ready for an event Wootric may add. Several callbacks may be registered for one type; they
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
