// Package sample builds the sample events of Wootric's documentation, for
// wootrictest and for the command, which must not link package testing.
package sample

import (
	"fmt"
	"time"

	"github.com/wootric-go/wootric"
)

// Event returns a new copy of the sample event of type t in mode: see
// wootrictest.SampleEvent.
func Event(t wootric.EventType, mode wootric.SurveyMode) (*wootric.Event, error) {
	scores := map[wootric.SurveyMode][2]int{wootric.NPS: {7, 9}, wootric.CES: {5, 6}, wootric.CSAT: {3, 4}}
	score, ok := scores[mode]
	if !ok {
		return nil, fmt.Errorf("wootrictest: unknown survey mode %q", mode)
	}
	pacific := time.FixedZone("", -7*3600)
	at := func(h, m, s, ms int) time.Time {
		return time.Date(2016, 8, 4, h, m, s, ms*int(time.Millisecond), pacific)
	}
	e := &wootric.Event{Type: t, AccountToken: "NPS-xxxxxxxx", SurveyMode: mode}
	switch t {
	case wootric.ResponseCreated, wootric.ResponseUpdated:
		e.Name = string(t[len("response."):])
		e.Timestamp = at(13, 57, 31, 329)
		e.Response = &wootric.Response{
			ID: 1128, Email: "nps@example.com", ExternalID: "123abc", Score: score[0],
			IPAddress: "127.0.0.1", OriginURL: "https://wootric.com/", EndUserID: 30,
			EndUserProperties: map[string]string{"pricing_plan": "Enterprise", "product_plan": "Web App"},
			SurveyID:          1146, CreatedAt: at(13, 57, 26, 558), UpdatedAt: at(13, 57, 26, 558),
		}
		if t == wootric.ResponseUpdated {
			e.Timestamp = at(14, 2, 11, 804)
			e.Response.Score = score[1]
			e.Response.Text = "Great support, but the export could be faster."
			e.Response.UpdatedAt = at(14, 2, 10, 117)
		}
	case wootric.DeclineCreated:
		e.Name = "created"
		e.Timestamp = at(13, 58, 23, 309)
		e.Decline = &wootric.Decline{
			ID: 19, Email: "nps@example.com", ExternalID: "123abc",
			IPAddress: "127.0.0.1", OriginURL: "https://wootric.com/", EndUserID: 31,
			EndUserProperties: map[string]string{"pricing_plan": "Pro", "product_plan": "Web App"},
			SurveyID:          1147, CreatedAt: at(13, 58, 21, 122), UpdatedAt: at(13, 58, 21, 122),
		}
	default:
		return nil, fmt.Errorf("wootrictest: no sample of event type %q", t)
	}
	return e, nil
}

// Types returns the event types Event has samples of.
func Types() []wootric.EventType {
	return []wootric.EventType{wootric.ResponseCreated, wootric.ResponseUpdated, wootric.DeclineCreated}
}

// Modes returns the survey modes Event has samples in.
func Modes() []wootric.SurveyMode {
	return []wootric.SurveyMode{wootric.NPS, wootric.CES, wootric.CSAT}
}
