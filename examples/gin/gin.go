// Package gin receives Wootric webhooks on a gin engine. gin.WrapH runs the
// wootric.Handler on gin's request and writer, so the Handler's guarantees
// hold: de-duplication, callbacks with their deadline, and a 2xx only once
// the event has run.
package gin

import (
	"github.com/gin-gonic/gin"
	"github.com/wootric-go/wootric"
)

// NewEngine returns a gin engine that receives deliveries at POST /wootric
// with h.
func NewEngine(h *wootric.Handler) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.POST("/wootric", gin.WrapH(h))
	return r
}
