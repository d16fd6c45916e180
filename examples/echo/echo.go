// Package echo receives Wootric webhooks in an echo handler with the
// request-level wootric.Handler.Parse: the handler reads, verifies and
// decodes the delivery, does its work, and answers itself. (To keep the
// Handler's de-duplication and callback deadline, mount it instead:
// e.POST("/wootric", echo.WrapHandler(h)).)
package echo

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/wootric-go/wootric"
)

// NewServer returns an echo server that receives deliveries at POST
// /wootric, verified with h's secrets and limits, and gives each event to
// store; an error from store answers 500, so that Wootric retries.
func NewServer(h *wootric.Handler, store func(*wootric.Event) error) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.POST("/wootric", func(c echo.Context) error {
		ev, err := h.Parse(c.Request())
		if err != nil {
			code := wootric.StatusCode(err)
			return c.String(code, http.StatusText(code)) // never err's text: it is for logs
		}
		if err := store(ev); err != nil {
			return c.String(http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError))
		}
		return c.NoContent(http.StatusOK)
	})
	return e
}
