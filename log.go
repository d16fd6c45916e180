package wootric

import (
	"errors"
	"log/slog"
	"net/http"
)

// observe reports how a delivery ended with err: a record to the Logger
// and a Report to the Observe hook, both from one Report.
func (h *Handler) observe(r *http.Request, d *delivery, err error) {
	if h.Logger == nil && h.Observe == nil {
		return
	}
	rep := h.report(d, err)
	h.log(r, &rep)
	if h.Observe != nil {
		h.Observe(r, rep)
	}
}

// log writes the Logger's record of a delivery.
func (h *Handler) log(r *http.Request, rep *Report) {
	if h.Logger == nil {
		return
	}
	err := rep.Err
	level, msg := slog.LevelDebug, "wootric: delivery processed"
	switch {
	case rep.Outcome == Duplicate:
		level, msg = slog.LevelInfo, "wootric: duplicate delivery acknowledged"
	case rep.Reason == ReasonInProgress:
		level, msg = slog.LevelInfo, "wootric: copy of a delivery in progress refused"
	case rep.Unrecorded != nil:
		level, msg = slog.LevelError, "wootric: delivery processed but not recorded: a duplicate of it may run again"
		err = rep.Unrecorded
	case rep.Reason == ReasonCallback || rep.Reason == ReasonTimeout:
		level, msg = slog.LevelError, "wootric: callback failed"
	case rep.Outcome == Failed:
		level, msg = slog.LevelError, "wootric: delivery failed"
	case rep.Outcome == Refused:
		level, msg = slog.LevelWarn, "wootric: delivery refused"
	case rep.ContentTypeMismatch:
		level, msg = slog.LevelWarn, "wootric: delivery processed, though its Content-Type names another format than its body's"
	}
	ctx := r.Context()
	if !h.Logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 10)
	if err != nil {
		attrs = append(attrs, slog.String("reason", err.Error()), slog.Int("status", rep.Status))
	}
	attrs = append(attrs, slog.String("remote_addr", r.RemoteAddr), slog.Int64("content_length", rep.BodyBytes))
	if rep.SecretIndex >= 0 {
		attrs = append(attrs, slog.Int("secret_index", rep.SecretIndex))
	}
	if rep.ContentTypeMismatch {
		attrs = append(attrs, slog.Bool("content_type_mismatch", true))
	}
	if rep.EventType != "" {
		attrs = append(attrs, slog.String("event_type", string(rep.EventType)), slog.Int64("object_id", rep.ObjectID))
	}
	var ce *CallbackError
	if errors.As(err, &ce) && ce.stack != nil {
		attrs = append(attrs, slog.String("stack", string(ce.stack)))
	}
	h.Logger.LogAttrs(ctx, level, msg, attrs...)
}
