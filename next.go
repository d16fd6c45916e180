package wootric

import (
	"errors"
	"fmt"
	"net/http"
)

// serveNext calls the handler after Middleware and judges its answer: a
// status other than 2xx, or a panic, is a *CallbackError.
func serveNext(next http.Handler, w *statusWriter, r *http.Request, e *Event) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = callbackPanic(e, v)
		}
	}()
	next.ServeHTTP(w, r)
	if w.status == 0 {
		// net/http answers 200 for a handler that wrote nothing.
		w.status = http.StatusOK
	}
	if w.status < 200 || w.status > 299 {
		return callbackError(e, fmt.Errorf("next handler answered %d", w.status))
	}
	return nil
}

// panicked reports whether err is, or holds, a callback's or next's panic:
// settle may have joined a store's error to it.
func panicked(err error) bool {
	var ce *CallbackError
	return errors.As(err, &ce) && ce.Panic != nil
}

// statusWriter records the final status a handler writes. Flush and
// Unwrap keep http.Flusher and http.ResponseController working through it.
type statusWriter struct {
	http.ResponseWriter
	status int // 0 until a final (non-1xx) status is written
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
