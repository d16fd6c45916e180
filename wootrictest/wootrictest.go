// Package wootrictest provides signed Wootric deliveries for testing a
// receiver, as net/http/httptest provides requests and recorders.
//
// A test of a receiver, in three lines:
//
//	mux := yourRoutes(wootrictest.Secret) // a wootric.Handler at POST /wootric
//	e := wootrictest.Sample(t, wootric.ResponseCreated, wootric.NPS)
//	w := wootrictest.Deliver(t, mux, "/wootric", wootrictest.Secret, e, wootric.JSON)
//	// w.Code is 200 once every callback has run
//
// Sample gives fresh events, SampleEvent the documentation's as they are,
// NewRequest and Deliver signed requests, and Outcomes a delivery for each
// way one can end, to test metrics and alerts. The conformance suite of a
// de-duplication store is package storetest.
//
// Its helpers return errors, or take a testing.TB and fail the test; none
// panics on bad input.
package wootrictest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/internal/sample"
)

// Secret is a webhook secret for tests.
const Secret = "wootrictest-secret"

// NewRequest returns an incoming POST of e to target, as a server hands it
// to a handler's ServeHTTP: e encoded in format by [wootric.Encode], with
// its Content-Type and its X-Wootric-Signature under secret. target is a
// path such as "/wootric", or an absolute URL. Unlike httptest.NewRequest,
// it returns an error, which wraps wootric.ErrInvalidEvent for an event
// that cannot be encoded, instead of panicking.
//
// To sign for one of several accounts, as a Handler made with
// wootric.NewAccountHandler expects, set e.AccountToken to the account
// and pass its secret: the samples' account is "NPS-xxxxxxxx".
func NewRequest(target, secret string, e *wootric.Event, format wootric.Format) (*http.Request, error) {
	body, err := wootric.Encode(e, format)
	if err != nil {
		return nil, err
	}
	if target == "" || strings.ContainsAny(target, " \r\n") {
		return nil, fmt.Errorf("wootrictest: invalid target %q", target)
	}
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("POST " + target + " HTTP/1.1\r\nHost: example.com\r\n\r\n")))
	if err != nil {
		return nil, fmt.Errorf("wootrictest: invalid target %q: %w", target, err)
	}
	r.RemoteAddr = "192.0.2.1:1234" // as httptest.NewRequest sets it
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Type", format.ContentType())
	r.Header.Set(wootric.SignatureHeader, wootric.Sign(secret, body))
	return r, nil
}

// Deliver sends e, encoded in format and signed with secret, to h as a
// POST to target (a path such as "/wootric", which h's routes must serve)
// and returns what h answered. It fails the test if e cannot be encoded or
// target is not a valid request target. When a wootric.Handler behind h
// refuses the delivery or fails it, Deliver logs why (the Report's error,
// through wootric.WithObserver), so that a test that then fails says it:
// the answer's body is only the status text.
func Deliver(tb testing.TB, h http.Handler, target, secret string, e *wootric.Event, format wootric.Format) *httptest.ResponseRecorder {
	tb.Helper()
	r, err := NewRequest(target, secret, e, format)
	if err != nil {
		tb.Fatalf("wootrictest.Deliver: %v", err)
		return nil
	}
	var why error
	r = r.WithContext(wootric.WithObserver(r.Context(), func(rep wootric.Report) { why = rep.Err }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if why != nil {
		tb.Logf("wootrictest.Deliver: %s answered %d: %v", target, w.Code, why)
	}
	return w
}

// SampleEvent returns a new copy of a sample event of type t in survey
// mode, built on the samples of Wootric's documentation: response 1128 with
// a score in the mode's range, decline 19. Its times are fixed in 2016, so
// a Handler with a ReplayWindow refuses it; set its Timestamp to test one.
// t is ResponseCreated, ResponseUpdated or DeclineCreated, and mode NPS, CES
// or CSAT; others are an error.
func SampleEvent(t wootric.EventType, mode wootric.SurveyMode) (*wootric.Event, error) {
	return sample.Event(t, mode)
}

// Sample returns a fresh event of type t in mode for a test, as Wootric
// would send one now: SampleEvent's sample with a new random id (up to a
// billion) and its times moved so that its timestamp is now, to the
// millisecond. So a Handler with a ReplayWindow accepts it, and a Dedup
// store that outlives the test sees a new event on every run. It fails the
// test if there is no such sample. For the documentation's sample as it
// is, fixed in 2016, use SampleEvent.
func Sample(tb testing.TB, t wootric.EventType, mode wootric.SurveyMode) *wootric.Event {
	tb.Helper()
	e, err := SampleEvent(t, mode)
	if err != nil {
		tb.Fatalf("wootrictest.Sample: %v", err)
	}
	shift := time.Now().Truncate(time.Millisecond).Sub(e.Timestamp)
	e.Timestamp = e.Timestamp.Add(shift)
	id := 1 + rand.Int64N(1e9)
	if r := e.Response; r != nil {
		r.ID, r.CreatedAt, r.UpdatedAt = id, r.CreatedAt.Add(shift), r.UpdatedAt.Add(shift)
	}
	if d := e.Decline; d != nil {
		d.ID, d.CreatedAt, d.UpdatedAt = id, d.CreatedAt.Add(shift), d.UpdatedAt.Add(shift)
	}
	return e
}

// EventTypes returns the event types SampleEvent has samples of, in a new
// slice on each call.
func EventTypes() []wootric.EventType { return sample.Types() }

// SurveyModes returns the survey modes SampleEvent has samples in, in a
// new slice on each call.
func SurveyModes() []wootric.SurveyMode { return sample.Modes() }
