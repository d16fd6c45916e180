package wootric_test

import (
	"reflect"
	"strconv"
	"strings"
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

func TestSurveyModeIsTheConstantInAnyCase(t *testing.T) {
	tests := []struct {
		sent string
		want wootric.SurveyMode
	}{
		{"NPS", wootric.NPS}, {"nps", wootric.NPS}, {"Nps", wootric.NPS},
		{"CES", wootric.CES}, {"ces", wootric.CES},
		{"CSAT", wootric.CSAT}, {"csat", wootric.CSAT}, {"cSaT", wootric.CSAT},
		{"eNPS", "eNPS"}, {"", ""},
	}
	for _, tc := range tests {
		body := `{"decline":{"id":1},"event_name":"created","survey_mode":"` + tc.sent + `"}`
		e, err := wootric.Decode([]byte(body))
		if err != nil || e.SurveyMode != tc.want {
			t.Errorf("Decode(%q) = %v, %v, want survey mode %q", body, e, err, tc.want)
		}
	}
	if wootric.NPS != "NPS" || wootric.CES != "CES" || wootric.CSAT != "CSAT" {
		t.Error("survey mode constants differ from what Wootric sends")
	}
}

func TestNPSCategory(t *testing.T) {
	tests := []struct {
		mode  wootric.SurveyMode
		score int
		want  wootric.NPSCategory
	}{
		{wootric.NPS, 0, wootric.Detractor}, {wootric.NPS, 6, wootric.Detractor},
		{wootric.NPS, 7, wootric.Passive}, {wootric.NPS, 8, wootric.Passive},
		{wootric.NPS, 9, wootric.Promoter}, {wootric.NPS, 10, wootric.Promoter},
		{wootric.NPS, 11, 0}, {wootric.NPS, -1, 0},
		{wootric.CSAT, 9, 0}, {wootric.CES, 2, 0},
	}
	for _, tc := range tests {
		e := &wootric.Event{SurveyMode: tc.mode, Response: &wootric.Response{Score: tc.score}}
		if got := e.NPSCategory(); got != tc.want {
			t.Errorf("NPSCategory() of %s score %d = %q, want %q", tc.mode, tc.score, got, tc.want)
		}
	}
	if got := (&wootric.Event{SurveyMode: wootric.NPS, Decline: &wootric.Decline{}}).NPSCategory(); got != 0 {
		t.Errorf("NPSCategory() of a decline = %q, want none", got)
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

func TestEventTypeString(t *testing.T) {
	long := wootric.EventType("response." + strings.Repeat("a", 100))
	tests := []struct {
		t    wootric.EventType
		want string
	}{
		{wootric.ResponseCreated, "response.created"},
		{"response.deleted_2", "response.deleted_2"},
		{"response./../../escaped", `"response./../../escaped"`},
		{"response.created\nlevel=ERROR", `"response.created\nlevel=ERROR"`},
		{"response.created\x1b[2J", `"response.created\x1b[2J"`},
		{"Response.Created", `"Response.Created"`},
		{"response", `"response"`},
		{"response.a.b", `"response.a.b"`},
		{".created", `".created"`},
		{"", `""`},
		{long, strconv.Quote(string(long[:64])) + "..."},
	}
	for _, tc := range tests {
		if got := tc.t.String(); got != tc.want {
			t.Errorf("EventType(%q).String() = %s, want %s", string(tc.t), got, tc.want)
		}
	}
}
