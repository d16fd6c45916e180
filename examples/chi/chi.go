// Package chi receives Wootric webhooks on a chi router: a wootric.Handler
// is an http.Handler, so it mounts as any other.
package chi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/wootric-go/wootric"
)

// NewRouter returns a router that receives deliveries at POST /wootric
// with h, and answers GET /healthz.
func NewRouter(h *wootric.Handler) http.Handler {
	r := chi.NewRouter()
	r.Post("/wootric", h.ServeHTTP)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return r
}
