package wootric

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// runContext is the context of a delivery's run: the request's values and
// the event (see EventFromContext), a deadline of the Handler's, and no
// cancellation from the request, so that a run the sender has hung up on
// may still succeed and be recorded. Its Done channel, and the timer that
// closes it, are made only when asked for.
type runContext struct {
	context.Context // the request's, for its values
	event           *Event
	deadline        time.Time
	limit           time.Duration // from the start of the run to deadline

	mu      sync.Mutex
	done    chan struct{}
	timer   *time.Timer
	expired bool
}

func newRunContext(parent context.Context, e *Event, limit time.Duration) *runContext {
	c := &runContext{Context: parent, event: e, limit: limit}
	if limit > 0 {
		c.deadline = time.Now().Add(limit)
	}
	return c
}

func (c *runContext) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }

func (c *runContext) Value(key any) any {
	if key == (eventKey{}) {
		return c.event
	}
	return c.Context.Value(key)
}

func (c *runContext) Done() <-chan struct{} {
	if c.deadline.IsZero() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if d := time.Until(c.deadline); d > 0 && !c.expired {
			c.timer = time.AfterFunc(d, c.expire)
		} else {
			c.expired = true
			close(c.done)
		}
	}
	return c.done
}

func (c *runContext) Err() error {
	if c.deadline.IsZero() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Once Done has been handed out, Err follows it: non-nil only when it
	// is closed.
	if c.expired || c.done == nil && !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *runContext) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.expired {
		c.expired = true
		if c.done != nil {
			close(c.done)
		}
	}
}

// stop releases the timer of a run that has ended.
func (c *runContext) stop() {
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
}

func (c *runContext) String() string { return "wootric.runContext" }

// errAnswered means that a watch has answered the delivery at its deadline
// while its callbacks ran on: there is nothing left to do.
var errAnswered = errors.New("answered at the deadline")

// A watch answers a delivery whose callbacks have not returned by its
// deadline: from its timer's goroutine, it settles the claim, logs, and
// sends the answer whole, while the callbacks run on in the request's
// goroutine. Watches are pooled with their timer, so that a delivery whose
// callbacks return in time costs a Reset and a Stop, and no goroutine.
type watch struct {
	timer    *time.Timer  // calls fire
	state    atomic.Int32 // watchArmed, watchDisarmed or watchFired
	mu       sync.Mutex   // held by fire while it answers
	answered bool         // by fire, under mu

	h   *Handler
	w   http.ResponseWriter
	r   *http.Request
	d   delivery // a copy: the request's goroutine is done with it if fire answers
	ctx *runContext
}

const (
	watchArmed = iota
	watchDisarmed
	watchFired
)

var watchPool = sync.Pool{New: func() any {
	wt := &watch{}
	wt.timer = time.AfterFunc(time.Hour, wt.fire)
	wt.timer.Stop()
	return wt
}}

func (wt *watch) fire() {
	wt.mu.Lock()
	defer wt.mu.Unlock()
	if !wt.state.CompareAndSwap(watchArmed, watchFired) {
		return
	}
	defer func() {
		// Not the request's goroutine: a panic here (an ErrorHandler's)
		// would end the program, where net/http would have recovered it.
		if v := recover(); v != nil && wt.h.Logger != nil {
			wt.h.Logger.Error("wootric: ErrorHandler panicked answering a callback timeout", slog.String("stack", string(debug.Stack())))
		}
		wt.answered = true // whatever it wrote, nothing more may be
	}()
	wt.ctx.expire()
	d := &wt.d
	d.lap(StageRun)
	err := wt.h.settle(wt.r.Context(), d, callbackError(d.event, ErrCallbackTimeout))
	a := &wholeAnswer{header: wt.w.Header()}
	wt.h.end(a, wt.r, d, err)
	a.send(wt.w)
}

// disarm stops the watch once the callbacks have returned, and reports
// whether it fired first, having answered.
func (wt *watch) disarm() (fired bool) {
	if wt.state.CompareAndSwap(watchArmed, watchDisarmed) {
		if wt.timer.Stop() {
			wt.put()
		}
		// Otherwise fire is under way, and will find the watch disarmed:
		// it is left to the garbage collector.
		return false
	}
	// fire has the lock from before it took the watch until it has
	// answered.
	wt.mu.Lock()
	answered := wt.answered
	wt.mu.Unlock()
	wt.put()
	return answered
}

func (wt *watch) put() {
	wt.h, wt.w, wt.r, wt.d, wt.ctx = nil, nil, nil, delivery{}, nil
	wt.answered = false
	watchPool.Put(wt)
}

// wholeAnswer keeps an answer written to it, to send it whole: with its
// Content-Length, flushed, and "Connection: close", so that the sender has
// all of it while the handler has not returned, and does not send its next
// request on a connection that the server will not read until then.
type wholeAnswer struct {
	header http.Header
	code   int
	body   []byte
}

func (a *wholeAnswer) Header() http.Header { return a.header }
func (a *wholeAnswer) WriteHeader(code int) {
	if a.code == 0 {
		a.code = code
	}
}
func (a *wholeAnswer) Write(b []byte) (int, error) {
	a.body = append(a.body, b...)
	return len(b), nil
}

func (a *wholeAnswer) send(w http.ResponseWriter) {
	if a.code == 0 {
		a.code = http.StatusOK
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(a.body)))
	w.Header().Set("Connection", "close")
	w.WriteHeader(a.code)
	_, _ = w.Write(a.body)
	_ = http.NewResponseController(w).Flush()
}

// dispatch runs the callbacks of d's event with ctx. If ctx has a deadline
// and they have not returned when it passes, a watch answers the delivery,
// and dispatch returns errAnswered once they do.
func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request, d *delivery, ctx *runContext) error {
	e := d.event
	m := h.callbacks.Load()
	if m == nil {
		return nil
	}
	fns := (*m)[e.Type]
	if len(fns) == 0 {
		return nil
	}
	if ctx.deadline.IsZero() {
		return runCallbacks(ctx, fns, e)
	}
	wt := watchPool.Get().(*watch)
	wt.h, wt.w, wt.r, wt.d, wt.ctx = h, w, r, *d, ctx
	wt.state.Store(watchArmed)
	wt.timer.Reset(ctx.limit)
	returned := false
	defer func() {
		if !returned { // a panic with http.ErrAbortHandler
			wt.disarm()
		}
	}()
	err := runCallbacks(ctx, fns, e)
	returned = true
	if wt.disarm() {
		return errAnswered
	}
	if err != nil && ctx.Err() != nil {
		// A failure past the deadline is a timeout, whatever the callback
		// made of it.
		var ce *CallbackError
		if errors.As(err, &ce) && ce.Err != nil {
			return callbackError(e, fmt.Errorf("%w: %w", ErrCallbackTimeout, ce.Err))
		}
	}
	return err
}

// runCallbacks runs fns in turn, stopping at the first that fails.
func runCallbacks(ctx context.Context, fns []Callback, e *Event) error {
	for _, fn := range fns {
		if err := runCallback(ctx, fn, e); err != nil {
			return err
		}
	}
	return nil
}

// runCallback runs one callback, turning its error or panic into a
// *CallbackError.
func runCallback(ctx context.Context, fn Callback, e *Event) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = callbackPanic(e, v)
		}
	}()
	if err := fn(ctx, e); err != nil {
		return callbackError(e, err)
	}
	return nil
}

func callbackError(e *Event, err error) *CallbackError {
	id, _ := e.object()
	return &CallbackError{Type: e.Type, ID: id, Err: err}
}

// callbackPanic returns the *CallbackError of a callback's (or next's)
// panic with v, and its stack. A panic with http.ErrAbortHandler goes on,
// as net/http expects.
func callbackPanic(e *Event, v any) *CallbackError {
	if v == http.ErrAbortHandler {
		panic(v)
	}
	id, _ := e.object()
	return &CallbackError{Type: e.Type, ID: id, Panic: v, stack: debug.Stack()}
}
