package wootric

import (
	"errors"
	"log/slog"
	"net/http"
)

// log records how a delivery ended; err is nil for one processed.
func (h *Handler) log(r *http.Request, d *delivery, err error) {
	if h.Logger == nil {
		return
	}
	status := StatusCode(err)
	if d.answered != 0 {
		status = d.answered
	}
	level, msg := slog.LevelDebug, "wootric: delivery processed"
	switch {
	case d.dup:
		level, msg = slog.LevelInfo, "wootric: duplicate delivery acknowledged"
	case errors.Is(err, ErrInProgress):
		level, msg = slog.LevelInfo, "wootric: copy of a delivery in progress refused"
	case err == nil && d.unstored != nil:
		level, msg = slog.LevelError, "wootric: delivery processed but not recorded: a duplicate of it may run again"
		err = d.unstored
	case errors.Is(err, ErrCallback):
		level, msg = slog.LevelError, "wootric: callback failed"
	case status >= 500:
		level, msg = slog.LevelError, "wootric: delivery failed"
	case status >= 400:
		level, msg = slog.LevelWarn, "wootric: delivery refused"
	case d.mislabelled:
		level, msg = slog.LevelWarn, "wootric: delivery processed, though its Content-Type names another format than its body's"
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
	if d.mislabelled {
		attrs = append(attrs, slog.Bool("content_type_mismatch", true))
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
