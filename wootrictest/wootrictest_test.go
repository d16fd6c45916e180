package wootrictest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/wootrictest"
	"github.com/wootric-go/wootric/wootrictest/storetest"
)

func TestSamplesDecodeAsSent(t *testing.T) {
	ranges := map[wootric.SurveyMode][2]int{wootric.NPS: {0, 10}, wootric.CES: {1, 7}, wootric.CSAT: {1, 5}}
	var events []*wootric.Event
	for _, typ := range wootrictest.EventTypes() {
		for _, m := range wootrictest.SurveyModes() {
			events = append(events, wootrictest.Sample(t, typ, m))
		}
	}
	if len(events) != 9 {
		t.Fatalf("%d samples, want 3 types in 3 modes", len(events))
	}
	for _, e := range events {
		for _, f := range []wootric.Format{wootric.JSON, wootric.Form} {
			body, err := wootric.Encode(e, f)
			if err != nil {
				t.Fatalf("Encode(%s %s, %v) = %v", e.Type, e.SurveyMode, f, err)
			}
			got, err := wootric.Decode(body)
			if err != nil || got.Type != e.Type || got.SurveyMode != e.SurveyMode {
				t.Fatalf("Decode(Encode(%s %s, %v)) = %v, %v", e.Type, e.SurveyMode, f, got, err)
			}
		}
		if r := e.Response; r != nil {
			if lim := ranges[e.SurveyMode]; r.Score < lim[0] || r.Score > lim[1] {
				t.Errorf("%s %s score %d outside %v", e.Type, e.SurveyMode, r.Score, lim)
			}
		}
	}
}

func TestSampleEventIsAFreshCopy(t *testing.T) {
	a, _ := wootrictest.SampleEvent(wootric.ResponseCreated, wootric.NPS)
	a.Response.Score = 0
	a.Response.EndUserProperties["pricing_plan"] = "changed"
	b, _ := wootrictest.SampleEvent(wootric.ResponseCreated, wootric.NPS)
	if b.Response.Score != 7 || b.Response.EndUserProperties["pricing_plan"] != "Enterprise" {
		t.Errorf("SampleEvent() shares state between calls: %+v", b.Response)
	}
}

func TestSampleEventRefusesUnknownInput(t *testing.T) {
	for _, tc := range []struct {
		t    wootric.EventType
		mode wootric.SurveyMode
	}{{"response.deleted", wootric.NPS}, {wootric.ResponseCreated, "eNPS"}, {"", ""}} {
		if e, err := wootrictest.SampleEvent(tc.t, tc.mode); err == nil {
			t.Errorf("SampleEvent(%q, %q) = %v, want an error", tc.t, tc.mode, e)
		}
	}
}

func TestNewRequest(t *testing.T) {
	e, _ := wootrictest.SampleEvent(wootric.ResponseUpdated, wootric.CES)
	for _, target := range []string{"/wootric", "/hooks/wootric?source=test", "http://receiver.example/wootric"} {
		for _, f := range []wootric.Format{wootric.JSON, wootric.Form} {
			r, err := wootrictest.NewRequest(target, "s", e, f)
			if err != nil {
				t.Fatalf("NewRequest(%q, %v) = %v", target, f, err)
			}
			body, _ := io.ReadAll(r.Body)
			if r.Method != http.MethodPost || r.Header.Get("Content-Type") != f.ContentType() ||
				wootric.Verify(body, r.Header.Get(wootric.SignatureHeader), "s") != nil || r.ContentLength != int64(len(body)) {
				t.Errorf("NewRequest(%q, %v) = %+v, not a signed POST of the event", target, f, r)
			}
		}
	}
}

func TestNewRequestReturnsErrorsInsteadOfPanicking(t *testing.T) {
	good, _ := wootrictest.SampleEvent(wootric.DeclineCreated, wootric.NPS)
	tests := []struct {
		name   string
		target string
		e      *wootric.Event
		isErr  error
	}{
		{"nil event", "/", nil, wootric.ErrInvalidEvent},
		{"event without object", "/", &wootric.Event{Name: "created"}, wootric.ErrInvalidEvent},
		{"empty target", "", good, nil},
		{"target with a space", "/a b", good, nil},
		{"target with a line break", "/a\r\nX-Evil: 1", good, nil},
		{"malformed URL", "http://[::1", good, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := wootrictest.NewRequest(tc.target, "s", tc.e, wootric.JSON)
			if err == nil || tc.isErr != nil && !errors.Is(err, tc.isErr) {
				t.Errorf("NewRequest(%q) = %v, %v, want an error", tc.target, r, err)
			}
		})
	}
}

// TestDeliverToARoute delivers to the path a mux serves, as a receiver's
// test does.
func TestDeliverToARoute(t *testing.T) {
	var got *wootric.Event
	h := wootric.NewHandler(wootrictest.Secret)
	h.On(wootric.DeclineCreated, func(_ context.Context, e *wootric.Event) error { got = e; return nil })
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/wootric", h)
	e := wootrictest.Sample(t, wootric.DeclineCreated, wootric.CES)
	w := wootrictest.Deliver(t, mux, "/hooks/wootric", wootrictest.Secret, e, wootric.Form)
	if w.Code != http.StatusOK || got == nil || got.Decline.ID != e.Decline.ID {
		t.Errorf("Deliver() answered %d, callback got %v", w.Code, got)
	}
}

func TestSampleFailsTheTestOnAnUnknownType(t *testing.T) {
	tb := &failTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		wootrictest.Sample(tb, "response.deleted", wootric.NPS)
	}()
	<-done
	if !tb.failed {
		t.Error("Sample(response.deleted) did not fail the test")
	}
}

// TestListsCannotBeChanged: a caller that changes the lists it got does
// not change what others get.
func TestListsCannotBeChanged(t *testing.T) {
	types, modes := wootrictest.EventTypes(), wootrictest.SurveyModes()
	types[0], modes[0] = "x", "y"
	if wootrictest.EventTypes()[0] != wootric.ResponseCreated || wootrictest.SurveyModes()[0] != wootric.NPS {
		t.Error("changing the returned lists changed the package's")
	}
}

// failTB records a fatal failure, as testing.T would, without failing the
// test that uses it.
type failTB struct {
	testing.TB
	failed bool
}

func (f *failTB) Helper() {}
func (f *failTB) Fatalf(format string, args ...any) {
	f.failed = true
	runtime.Goexit()
}

func TestDeliverFailsTheTestOnBadInput(t *testing.T) {
	tb := &failTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		wootrictest.Deliver(tb, wootric.NewHandler("s"), "/", "s", nil, wootric.JSON)
	}()
	<-done
	if !tb.failed {
		t.Error("Deliver(nil event) did not fail the test")
	}
}

func TestMemoryDeduplicatorKeepsTheContract(t *testing.T) {
	storetest.TestDeduplicator(t, &wootric.MemoryDeduplicator{})
}

// TestSampleIsFresh: two samples are two events, as Wootric sends them
// now, which a Handler with a replay window and de-duplication both runs.
func TestSampleIsFresh(t *testing.T) {
	var ran int
	h := wootric.NewHandler(wootrictest.Secret)
	h.ReplayWindow = 5 * time.Minute
	h.Dedup = &wootric.MemoryDeduplicator{}
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { ran++; return nil })
	a := wootrictest.Sample(t, wootric.ResponseCreated, wootric.NPS)
	b := wootrictest.Sample(t, wootric.ResponseCreated, wootric.NPS)
	if a.Response.ID == b.Response.ID || time.Since(a.Timestamp) > time.Minute || a.Response.CreatedAt.After(a.Timestamp) {
		t.Errorf("samples %d at %v (created %v) and %d: want new ids and times of now", a.Response.ID, a.Timestamp, a.Response.CreatedAt, b.Response.ID)
	}
	for _, e := range []*wootric.Event{a, b} {
		if w := wootrictest.Deliver(t, h, "/", wootrictest.Secret, e, wootric.JSON); w.Code != 200 {
			t.Errorf("a fresh sample answered %d", w.Code)
		}
	}
	if ran != 2 {
		t.Errorf("ran %d events, want 2", ran)
	}
}

// TestDeliverSaysWhy: a refused delivery's reason is in the test's log,
// where the answer's body says only "Bad Request".
func TestDeliverSaysWhy(t *testing.T) {
	h := wootric.NewHandler(wootrictest.Secret)
	h.ReplayWindow = time.Minute
	mux := http.NewServeMux()
	mux.Handle("POST /wootric", h)
	e, _ := wootrictest.SampleEvent(wootric.ResponseCreated, wootric.NPS) // 2016
	rec := &logTB{TB: t}
	w := wootrictest.Deliver(rec, mux, "/wootric", wootrictest.Secret, e, wootric.JSON)
	if w.Code != http.StatusBadRequest || !strings.Contains(rec.logged, "outside the replay window") {
		t.Errorf("answered %d, logged %q; want 400 and the reason", w.Code, rec.logged)
	}
}

// logTB keeps what a helper logs.
type logTB struct {
	testing.TB
	logged string
}

func (l *logTB) Logf(format string, args ...any) { l.logged += fmt.Sprintf(format, args...) + "\n" }
