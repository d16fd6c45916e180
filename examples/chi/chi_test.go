package chi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/examples/chi"
	"github.com/wootric-go/wootric/wootrictest"
)

func TestChiRouterReceivesDeliveries(t *testing.T) {
	var got []int64
	h := wootric.NewHandler(wootrictest.Secret)
	h.On(wootric.ResponseCreated, func(_ context.Context, e *wootric.Event) error { got = append(got, e.Response.ID); return nil })
	router := chi.NewRouter(h)

	e := wootrictest.Sample(t, wootric.ResponseCreated, wootric.NPS)
	for _, format := range []wootric.Format{wootric.JSON, wootric.Form} {
		if w := wootrictest.Deliver(t, router, "/wootric", wootrictest.Secret, e, format); w.Code != http.StatusOK {
			t.Errorf("%v delivery answered %d", format, w.Code)
		}
	}
	if w := wootrictest.Deliver(t, router, "/wootric", "wrong", e, wootric.JSON); w.Code != http.StatusUnauthorized {
		t.Errorf("badly signed delivery answered %d, want 401", w.Code)
	}
	if len(got) != 2 || got[0] != e.Response.ID {
		t.Errorf("callback got %v, want response %d twice", got, e.Response.ID)
	}
}
