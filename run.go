package wootric

// run.go runs a delivery's event, its callbacks and then Middleware's next,
// within a deadline, in the shape of http.TimeoutHandler: the run goes on a
// goroutine of its own, writing next's answer to a buffer, while the
// request's goroutine waits for it or for the deadline. Only the request's
// goroutine writes the answer.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

// MaxNextAnswerBytes is how much of the answer of the handler after
// [Handler.Middleware] a Handler keeps until that handler returns. See
// Middleware.
const MaxNextAnswerBytes = 64 << 10

// errGoexit is the error of a run that called runtime.Goexit, as
// testing.T's FailNow does.
var errGoexit = errors.New("runtime.Goexit called")

// errAnswerTooLarge is the error of a Write past MaxNextAnswerBytes, and
// of the run whose next wrote it.
var errAnswerTooLarge = fmt.Errorf("next's answer is longer than %d bytes", MaxNextAnswerBytes)

// runValues are what a run's context carries for EventFromContext and
// ClaimFromContext.
type runValues struct {
	event *Event
	claim *Claim // nil without Dedup
}

type runKey struct{}

// EventFromContext returns the event a Handler has verified and decoded,
// from the context of a callback or of the handler after Middleware.
func EventFromContext(ctx context.Context) (*Event, bool) {
	v, ok := ctx.Value(runKey{}).(*runValues)
	if !ok {
		return nil, false
	}
	return v.event, true
}

// ClaimFromContext returns the claim that a Handler with Dedup holds on the
// event while it runs, from the context of a callback or of the handler
// after Middleware. A callback that writes to the store that keeps the
// claims can complete the claim in the transaction of its own writes, so
// that both commit or neither does: see pgdedup's CompleteTx.
func ClaimFromContext(ctx context.Context) (Claim, bool) {
	v, ok := ctx.Value(runKey{}).(*runValues)
	if !ok || v.claim == nil {
		return Claim{}, false
	}
	return *v.claim, true
}

// runContext is the context of a run: the request's values, with the event
// and the claim; a deadline; and no cancellation from the request, so that
// a run the sender has hung up on can still succeed. The request's
// goroutine ends it when the deadline passes, or when the run returns; Err
// ends it too if it finds the deadline passed, so that a run that checks
// Err before it takes effect gets the clock's answer, however late the
// request's goroutine is scheduled on a busy machine. (Contexts derived
// from it learn of the deadline through Done, when it closes.)
type runContext struct {
	context.Context // the request's, for its values, without its cancellation
	values          runValues
	deadline        time.Time // zero for none
	done            chan struct{}

	mu  sync.Mutex
	err error // set when done is closed
}

func (c *runContext) Deadline() (time.Time, bool) { return c.deadline, !c.deadline.IsZero() }
func (c *runContext) Done() <-chan struct{}       { return c.done }

func (c *runContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && !c.deadline.IsZero() && !time.Now().Before(c.deadline) {
		c.endLocked(context.DeadlineExceeded)
	}
	return c.err
}

func (c *runContext) Value(key any) any {
	if key == (runKey{}) {
		return &c.values
	}
	return c.Context.Value(key)
}

func (c *runContext) String() string { return "wootric.runContext" }

// end closes the context's Done channel with err, unless it is closed.
func (c *runContext) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLocked(err)
}

func (c *runContext) endLocked(err error) {
	if c.err == nil {
		c.err = err
		close(c.done)
	}
}

// run runs d's event: fns, the callbacks registered for its type, then
// next if it is not nil, with a runContext that ends at deadline (never if
// deadline is zero).
//
// With a deadline the run goes on a goroutine of its own, and run returns
// at the deadline if the run has not: its error is then ErrCallbackTimeout,
// and late is where the run's own result arrives when it ends. A run whose
// deadline has passed before it begins does not begin. A run whose failure
// is received once its deadline has passed has timed out, whatever it
// returned.
//
// If next returned a final answer without panicking, it is in d.answer.
func (h *Handler) run(r *http.Request, d *delivery, fns []Callback, next http.Handler, deadline time.Time) (late <-chan error, err error) {
	defer d.lap(StageRun)
	if len(fns) == 0 && next == nil {
		return nil, nil
	}
	e, v := d.event, d.eventID
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return nil, v.failed(ErrCallbackTimeout)
	}
	// WithoutCancel also hides the request's cancellation from
	// context.Cause and from contexts derived from this one.
	ctx := &runContext{Context: context.WithoutCancel(r.Context()), values: runValues{event: e, claim: d.claim},
		deadline: deadline, done: make(chan struct{})}
	var a *answer
	if next != nil {
		a = &answer{header: make(http.Header)}
		r = r.WithContext(ctx)
		r.Body = io.NopCloser(bytes.NewReader(e.Raw))
	}
	keep := func(err error) error {
		if a != nil && a.returned && !a.over && a.code >= 200 {
			d.answer = a
		}
		return err
	}
	if deadline.IsZero() {
		err := runEvent(ctx, fns, v, next, a, r)
		ctx.end(context.Canceled) // as a context's cancel does once its work is done
		return nil, keep(err)
	}

	done := make(chan error, 1)
	go func() {
		var err error
		returned := false
		defer func() {
			if !returned {
				err = v.failed(errGoexit)
			}
			done <- err
		}()
		err = runEvent(ctx, fns, v, next, a, r)
		returned = true
	}()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case err = <-done:
		if err != nil && ctx.Err() == context.DeadlineExceeded {
			err = v.timedOut(err)
		}
		ctx.end(context.Canceled)
		return nil, keep(err)
	case <-timer.C:
		ctx.end(context.DeadlineExceeded)
		return done, v.failed(ErrCallbackTimeout)
	}
}

// runEvent runs fns in turn with ctx, stopping at the first that fails,
// then next, if not nil, with r and a as its writer. It returns nil or a
// *CallbackError for the event v, which holds a panic of theirs rather
// than letting it go on: it may run on a goroutine of its own, where a
// panic would end the program.
func runEvent(ctx *runContext, fns []Callback, v eventID, next http.Handler, a *answer, r *http.Request) (err error) {
	returned := false
	defer func() {
		// recover is nil after panic(nil) under GODEBUG=panicnil=1, which
		// fails the run all the same, as does runtime.Goexit.
		if p := recover(); p != nil || !returned {
			err = &CallbackError{Type: v.typ, ID: v.id, Panic: p, stack: debug.Stack()}
		}
	}()
	err = runSteps(ctx, fns, v, next, a, r)
	returned = true
	return err
}

// runSteps is runEvent's work, without its guard.
func runSteps(ctx *runContext, fns []Callback, v eventID, next http.Handler, a *answer, r *http.Request) error {
	for _, fn := range fns {
		if err := fn(ctx, ctx.values.event); err != nil {
			return v.failed(err)
		}
	}
	if next == nil {
		return nil
	}
	next.ServeHTTP(a, r)
	a.returned = true
	switch {
	case a.over:
		return v.failed(errAnswerTooLarge)
	case a.code == 0:
		a.code = http.StatusOK // as net/http answers a handler that wrote nothing
	case a.code < 200 || a.code > 299: // 101 too, which run does not send
		return v.failed(fmt.Errorf("next handler answered %d", a.code))
	}
	return nil
}

// eventID is what a delivery's errors and Report say of its event: its
// type, survey mode and object id, read once when it was decoded, so that
// a callback that changes the event, even past its deadline, changes none
// of them.
type eventID struct {
	typ  EventType
	mode SurveyMode
	id   int64
}

func idOf(e *Event) eventID {
	id, _ := e.object()
	return eventID{typ: e.Type, mode: e.SurveyMode, id: id}
}

// failed returns the *CallbackError of the event's run with err.
func (v eventID) failed(err error) *CallbackError {
	return &CallbackError{Type: v.typ, ID: v.id, Err: err}
}

// timedOut returns the error of a run that failed with err after its
// deadline: a timeout, whatever the callback made of it. A panic stays a
// panic.
func (v eventID) timedOut(err error) error {
	var ce *CallbackError
	if !errors.As(err, &ce) || ce.Err == nil {
		return err
	}
	return v.failed(fmt.Errorf("%w: %w", ErrCallbackTimeout, ce.Err))
}

// aborted reports whether err holds a panic with http.ErrAbortHandler, by
// which a callback or next asks net/http to cut the connection without an
// answer.
func aborted(err error) bool {
	if err == nil {
		return false
	}
	var ce *CallbackError
	return errors.As(err, &ce) && ce.Panic == http.ErrAbortHandler
}

// answer keeps the answer of the handler after Middleware until it has
// returned, so that the sender gets it whole or not at all, as
// http.TimeoutHandler's writer does. It has no Flush and no Hijack: the
// answer goes out when next returns, through the Handler.
type answer struct {
	header   http.Header
	code     int // 0 until a final (non-1xx) status is written
	body     []byte
	over     bool // a Write went past MaxNextAnswerBytes
	returned bool // next returned without panicking
}

func (a *answer) Header() http.Header { return a.header }

// WriteHeader keeps the first final status, as net/http tells them: 101
// Switching Protocols is final, other 1xx statuses are informational and
// not passed on.
func (a *answer) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code)) // as net/http does
	}
	if a.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		a.code = code
	}
}

func (a *answer) Write(b []byte) (int, error) {
	if a.code == 0 {
		a.code = http.StatusOK
	}
	if len(a.body)+len(b) > MaxNextAnswerBytes {
		a.over = true
		return 0, errAnswerTooLarge
	}
	a.body = append(a.body, b...)
	return len(b), nil
}

// send writes the answer to w.
func (a *answer) send(w http.ResponseWriter) {
	dst := w.Header()
	for k, v := range a.header {
		dst[k] = v
	}
	w.WriteHeader(a.code)
	_, _ = w.Write(a.body)
}
