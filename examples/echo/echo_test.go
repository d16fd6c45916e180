package echo_test

import (
	"net/http"
	"testing"

	"github.com/wootric-go/wootric"
	wecho "github.com/wootric-go/wootric/examples/echo"
	"github.com/wootric-go/wootric/wootrictest"
)

func TestEchoServerParsesDeliveries(t *testing.T) {
	var stored []*wootric.Event
	server := wecho.NewServer(wootric.NewHandler(wootrictest.Secret), func(e *wootric.Event) error {
		stored = append(stored, e)
		return nil
	})
	e := wootrictest.Sample(t, wootric.ResponseUpdated, wootric.CSAT)
	tests := []struct {
		name   string
		secret string
		format wootric.Format
		want   int
	}{
		{"json", wootrictest.Secret, wootric.JSON, http.StatusOK},
		{"form", wootrictest.Secret, wootric.Form, http.StatusOK},
		{"wrong secret", "wrong", wootric.JSON, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		if w := wootrictest.Deliver(t, server, "/wootric", tc.secret, e, tc.format); w.Code != tc.want {
			t.Errorf("%s: answered %d, want %d", tc.name, w.Code, tc.want)
		}
	}
	if len(stored) != 2 || stored[0].Response.Text != e.Response.Text {
		t.Errorf("stored %d events, want the 2 verified", len(stored))
	}
}
