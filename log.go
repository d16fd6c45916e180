package wootric

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// observe reports how a delivery ended with err: a record to the Logger
// and a Report to the Observe hook, both from one Report.
func (h *Handler) observe(r *http.Request, d *delivery, err error) {
	ctx := r.Context()
	fn, _ := ctx.Value(observeKey{}).(func(Report))
	if h.Logger == nil && h.Observe == nil && fn == nil {
		return
	}
	rep := h.report(d, err)
	h.log(r, &rep)
	if h.Observe != nil {
		h.Observe(ctx, rep)
	}
	if fn != nil {
		fn(rep)
	}
}

type observeKey struct{}

// WithObserver returns ctx carrying fn, which a Handler calls with the
// Report of a request made with that context, or of a call of Process
// given it, as it calls its Observe hook: an observer for one request,
// where the Handler's own fields cannot be reached, as
// net/http/httptrace's are for one client request. wootrictest.Deliver
// uses it to say why a delivery was refused. fn runs on the request's
// goroutine, before ServeHTTP returns.
func WithObserver(ctx context.Context, fn func(Report)) context.Context {
	return context.WithValue(ctx, observeKey{}, fn)
}

// log writes the Logger's record of a delivery.
func (h *Handler) log(r *http.Request, rep *Report) {
	if h.Logger == nil {
		return
	}
	err := rep.Err
	level, msg := slog.LevelDebug, "wootric: delivery processed"
	switch {
	case rep.Outcome == OutcomeStored:
		msg = "wootric: delivery stored in the inbox"
	case rep.Outcome == OutcomeDuplicate:
		level, msg = slog.LevelInfo, "wootric: duplicate delivery acknowledged"
	case errors.Is(err, errLeaseSpent):
		level, msg = slog.LevelWarn, "wootric: claim given back: its lease had passed when Claim returned"
	case rep.Reason == ReasonInProgress:
		level, msg = slog.LevelInfo, "wootric: copy of a delivery in progress refused"
	case errors.Is(rep.Unrecorded, ErrClaimLost):
		level, msg = slog.LevelError, "wootric: delivery processed, but another delivery had claimed the event since: it ran twice"
		err = rep.Unrecorded
	case rep.Unrecorded != nil:
		level, msg = slog.LevelError, "wootric: delivery processed but not recorded: a copy of it may run again"
		err = rep.Unrecorded
	case errors.Is(err, http.ErrHandlerTimeout):
		level, msg = slog.LevelError, "wootric: a wrapping handler answered 503 on its deadline before the Handler answered"
	case rep.Reason == ReasonCallback || rep.Reason == ReasonTimeout:
		level, msg = slog.LevelError, "wootric: callback failed"
	case rep.Outcome == OutcomeFailed:
		level, msg = slog.LevelError, "wootric: delivery failed"
	case rep.Outcome == OutcomeRefused:
		level, msg = slog.LevelWarn, "wootric: delivery refused"
	case rep.ContentTypeMismatch:
		level, msg = slog.LevelWarn, "wootric: delivery processed, though its Content-Type names another format than its body's"
	}
	ctx := r.Context()
	if !h.Logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 11)
	if err != nil {
		attrs = append(attrs, slog.String("reason", err.Error()), slog.Int("status", rep.Status))
	}
	if r.RemoteAddr != "" { // "" for Process
		attrs = append(attrs, slog.String("remote_addr", r.RemoteAddr))
	}
	attrs = append(attrs, slog.Int64("body_bytes", rep.BodyBytes))
	if rep.Account != "" {
		attrs = append(attrs, slog.String("account", rep.Account))
	}
	if rep.SecretIndex >= 0 {
		attrs = append(attrs, slog.Int("secret_index", rep.SecretIndex))
	}
	if rep.ContentTypeMismatch {
		attrs = append(attrs, slog.Bool("content_type_mismatch", true))
	}
	if rep.EventType != "" {
		attrs = append(attrs, slog.String("event_type", rep.EventType.String()), slog.Int64("object_id", rep.ObjectID))
	}
	var ce *CallbackError
	if errors.As(err, &ce) && ce.stack != nil {
		attrs = append(attrs, slog.String("stack", string(ce.stack)))
	}
	h.Logger.LogAttrs(ctx, level, msg, attrs...)
}

// logLate writes the record of a run that ended with err after its
// deadline, once its delivery d had been answered 503 and logged as timed
// out: a success; a panic, with its stack; or a failure whose claim could
// not be released. A plain failure is what the timeout's record said
// already. claimed is whether it held a Dedup claim, and settled what
// settle returned: err itself, or err joined with the store's error
// releasing the claim.
func (h *Handler) logLate(r *http.Request, d *delivery, claimed bool, err, settled error) {
	var ce *CallbackError
	panicked := errors.As(err, &ce) && ce.Panic != nil
	unreleased := settled != err
	if h.Logger == nil || err != nil && !panicked && !unreleased {
		return
	}
	level, msg, reason := slog.LevelWarn, "wootric: callback succeeded after its deadline; recorded as run, so the sender's retry is a duplicate", d.unrecorded
	switch {
	case panicked:
		level, msg, reason = slog.LevelError, "wootric: callback panicked after its deadline", err
	case err != nil:
		level, msg, reason = slog.LevelError, "wootric: callback failed after its deadline, and its claim could not be released: it is held until its lease ends", settled
	case !claimed:
		msg = "wootric: callback succeeded after its deadline; without Dedup the sender's retry runs it again"
	case errors.Is(d.unrecorded, ErrClaimLost):
		level, msg = slog.LevelError, "wootric: callback succeeded after its deadline, and another delivery had claimed the event since: it ran twice"
	case d.unrecorded != nil:
		level, msg = slog.LevelError, "wootric: callback succeeded after its deadline but could not be recorded: the sender's retry runs it again"
	}
	ctx := context.WithoutCancel(r.Context())
	if !h.Logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 5)
	if reason != nil {
		attrs = append(attrs, slog.String("reason", reason.Error()))
	}
	attrs = append(attrs, slog.String("remote_addr", r.RemoteAddr), slog.String("event_type", d.typ.String()), slog.Int64("object_id", d.id))
	if ce != nil && ce.stack != nil {
		attrs = append(attrs, slog.String("stack", string(ce.stack)))
	}
	h.Logger.LogAttrs(ctx, level, msg, attrs...)
}

// logPanic writes the record of a panic with v while doing what, off the
// request's goroutine, where nothing else would recover it. A Logger that
// panics in turn is not tried again.
func (h *Handler) logPanic(r *http.Request, doing string, v any) {
	if h.Logger == nil {
		return
	}
	defer func() { _ = recover() }()
	h.Logger.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelError, "wootric: panic "+doing,
		slog.String("remote_addr", r.RemoteAddr), slog.String("stack", string(debug.Stack())))
}
