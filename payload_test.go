package wootric_test

import (
	"reflect"
	"testing"

	"github.com/wootric-go/wootric"
)

func TestEventTypeIsObjectDotEventName(t *testing.T) {
	tests := []struct {
		body string
		want wootric.EventType
	}{
		{`{"response":{"id":1,"score":9},"event_name":"created"}`, wootric.ResponseCreated},
		{`{"response":{"id":1,"score":9},"event_name":"updated"}`, wootric.ResponseUpdated},
		{`{"decline":{"id":1},"event_name":"created"}`, wootric.DeclineCreated},
		{`{"decline":{"id":1},"event_name":"updated"}`, "decline.updated"},
		{"response[id]=1&response[score]=9&event_name=created", "response.created"},
	}
	for _, tc := range tests {
		t.Run(string(tc.want), func(t *testing.T) {
			e, err := wootric.Decode([]byte(tc.body))
			if err != nil {
				t.Fatalf("Decode(%q) = %v", tc.body, err)
			}
			if e.Type != tc.want {
				t.Errorf("Decode(%q).Type = %q, want %q", tc.body, e.Type, tc.want)
			}
			isResponse := tc.want == wootric.ResponseCreated || tc.want == wootric.ResponseUpdated
			if (e.Response != nil) != isResponse || (e.Decline != nil) == isResponse {
				t.Errorf("Decode(%q): Response %v, Decline %v", tc.body, e.Response, e.Decline)
			}
		})
	}
}

func TestSurveyModeKeptAsSent(t *testing.T) {
	for _, mode := range []wootric.SurveyMode{wootric.NPS, wootric.CES, wootric.CSAT, "eNPS", ""} {
		body := `{"decline":{"id":1},"event_name":"created","survey_mode":"` + string(mode) + `"}`
		e, err := wootric.Decode([]byte(body))
		if err != nil || e.SurveyMode != mode {
			t.Errorf("Decode(%q) = %v, %v, want survey mode %q", body, e, err, mode)
		}
	}
	if wootric.NPS != "NPS" || wootric.CES != "CES" || wootric.CSAT != "CSAT" {
		t.Error("survey mode constants differ from what Wootric sends")
	}
}

func TestEndUserPropertiesNeverNil(t *testing.T) {
	for _, body := range []string{
		`{"response":{"id":1,"score":9},"event_name":"created"}`,
		`{"decline":{"id":1,"end_user_properties":null},"event_name":"created"}`,
		"decline[id]=1&event_name=created",
	} {
		e, err := wootric.Decode([]byte(body))
		if err != nil {
			t.Fatalf("Decode(%q) = %v", body, err)
		}
		var props map[string]string
		if e.Response != nil {
			props = e.Response.EndUserProperties
		} else {
			props = e.Decline.EndUserProperties
		}
		if props == nil || len(props) != 0 {
			t.Errorf("Decode(%q) properties = %#v, want an empty map", body, props)
		}
	}
}

// TestPayloadFieldsAreExported keeps Event, Response and Decline comparable
// in users' tests with reflect.DeepEqual, testify or go-cmp, which fail or
// panic on an unexported field.
func TestPayloadFieldsAreExported(t *testing.T) {
	for _, v := range []any{wootric.Event{}, wootric.Response{}, wootric.Decline{}} {
		typ := reflect.TypeOf(v)
		for i := 0; i < typ.NumField(); i++ {
			if f := typ.Field(i); !f.IsExported() {
				t.Errorf("%s.%s is unexported", typ.Name(), f.Name)
			}
		}
	}
}
