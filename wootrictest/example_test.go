package wootrictest_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/wootrictest"
)

// A receiver under test, in five lines: a sample event, a signed request,
// a recorder, ServeHTTP, the answer.
func Example() {
	h := wootric.NewHandler(wootrictest.Secret)
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		fmt.Println("score", e.Response.Score, "from", e.SurveyMode)
		return nil
	})

	e, _ := wootrictest.SampleEvent(wootric.ResponseCreated, wootric.CSAT)
	r, _ := wootrictest.NewRequest("/wootric", wootrictest.Secret, e, wootric.Form)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code)
	// Output:
	// score 3 from CSAT
	// 200
}

// Every sample, each type in each mode, in both formats, against a
// receiver.
func ExampleEventTypes() {
	h := wootric.NewHandler(wootrictest.Secret)
	var seen []string
	for _, t := range wootrictest.EventTypes() {
		h.On(t, func(ctx context.Context, e *wootric.Event) error {
			seen = append(seen, fmt.Sprintf("%s/%s", e.Type, e.SurveyMode))
			return nil
		})
	}
	var events []*wootric.Event
	for _, t := range wootrictest.EventTypes() {
		for _, m := range wootrictest.SurveyModes() {
			e, _ := wootrictest.SampleEvent(t, m)
			events = append(events, e)
		}
	}
	for _, e := range events {
		for _, f := range []wootric.Format{wootric.JSON, wootric.Form} {
			r, err := wootrictest.NewRequest("/wootric", wootrictest.Secret, e, f)
			if err != nil {
				fmt.Println(err)
				return
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
	}
	fmt.Println(len(seen), seen[0], seen[len(seen)-1])
	// Output:
	// 18 response.created/NPS decline.created/CSAT
}

func ExampleNewRequest_wrongSecret() {
	h := wootric.NewHandler("the-real-secret")
	e, _ := wootrictest.SampleEvent(wootric.DeclineCreated, wootric.NPS)
	r, _ := wootrictest.NewRequest("/wootric", "a-guess", e, wootric.JSON)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code)
	// Output:
	// 401
}
