package gin_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/wootric-go/wootric"
	wgin "github.com/wootric-go/wootric/examples/gin"
	"github.com/wootric-go/wootric/wootrictest"
)

func TestGinEngineReceivesDeliveries(t *testing.T) {
	runs := 0
	h := wootric.NewHandler(wootrictest.Secret)
	h.Dedup = &wootric.MemoryDeduplicator{}
	fail := true
	h.On(wootric.DeclineCreated, func(context.Context, *wootric.Event) error {
		runs++
		if fail {
			fail = false
			return errors.New("CRM unavailable")
		}
		return nil
	})
	engine := wgin.NewEngine(h)
	e := wootrictest.Sample(t, wootric.DeclineCreated, wootric.CES)
	for i, want := range []int{http.StatusInternalServerError, http.StatusOK, http.StatusOK} {
		if w := wootrictest.Deliver(t, engine, "/wootric", wootrictest.Secret, e, wootric.Form); w.Code != want {
			t.Errorf("delivery %d answered %d, want %d", i+1, w.Code, want)
		}
	}
	if runs != 2 {
		t.Errorf("the callback ran %d times: a failure, a retry, then a duplicate should make 2", runs)
	}
}
