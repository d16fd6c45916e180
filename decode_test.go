package wootric_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
)

var pacific = time.FixedZone("", -7*3600)

// at returns the time of the given wall clock in loc.
func at(loc *time.Location, year, month, day, hour, min, sec, msec int) time.Time {
	return time.Date(year, time.Month(month), day, hour, min, sec, msec*int(time.Millisecond), loc)
}

// docResponse is the documentation's response-created sample.
func docResponse(loc *time.Location) *wootric.Event {
	return &wootric.Event{
		Type: wootric.ResponseCreated, Name: "created",
		Timestamp:    at(loc, 2016, 8, 4, 13, 57, 31, 329),
		AccountToken: "NPS-xxxxxxxx", SurveyMode: wootric.NPS,
		Response: &wootric.Response{
			ID: 1128, Email: "nps@example.com", ExternalID: "123abc", Score: 7,
			IPAddress: "127.0.0.1", OriginURL: "https://wootric.com/", EndUserID: 30,
			EndUserProperties: map[string]string{"pricing_plan": "Enterprise", "product_plan": "Web App"},
			SurveyID:          1146,
			CreatedAt:         at(loc, 2016, 8, 4, 13, 57, 26, 558),
			UpdatedAt:         at(loc, 2016, 8, 4, 13, 57, 26, 558),
		},
	}
}

// docDecline is the documentation's decline-created sample.
func docDecline(loc *time.Location) *wootric.Event {
	return &wootric.Event{
		Type: wootric.DeclineCreated, Name: "created",
		Timestamp:    at(loc, 2016, 8, 4, 13, 58, 23, 309),
		AccountToken: "NPS-xxxxxxxx", SurveyMode: wootric.NPS,
		Decline: &wootric.Decline{
			ID: 19, Email: "nps@example.com", ExternalID: "123abc",
			IPAddress: "127.0.0.1", OriginURL: "https://wootric.com/", EndUserID: 31,
			EndUserProperties: map[string]string{"pricing_plan": "Pro", "product_plan": "Web App"},
			SurveyID:          1147,
			CreatedAt:         at(loc, 2016, 8, 4, 13, 58, 21, 122),
			UpdatedAt:         at(loc, 2016, 8, 4, 13, 58, 21, 122),
		},
	}
}

// richResponse is testdata/rails/generate.rb's response-updated-rich: a
// comment and properties that exercise every escape and JSON type.
func richResponse(loc *time.Location) *wootric.Event {
	e := docResponse(loc)
	e.Type, e.Name = wootric.ResponseUpdated, "updated"
	e.AccountToken, e.SurveyMode = "NPS-EU-1a2b3c4d", wootric.CES
	r := e.Response
	r.ID, r.Score, r.Email = 4242, 10, "o'brien+nps@example.com"
	r.Text = "Great \"app\" & team = 100% <3 + more\nSecond line: café ✓ 😀 \u2028end"
	r.OriginURL = "https://example.com/pricing?plan=pro&x=1#top"
	r.EndUserProperties = map[string]string{
		"pricing_plan": "Enterprise", "seats": "1000", "mrr": "12.5",
		"trial": "true", "churned": "false", "nickname": "",
		"address":     `{"city":"San Francisco","zip":"94107"}`,
		"tags":        `["a b","c&d"]`,
		"Plan name":   "Gold [beta]",
		"Plan [beta]": "Gold", "[x]": "y", "Ease of use [app]": "9",
	}
	r.UpdatedAt = at(loc, 2016, 8, 5, 9, 1, 2, 345)
	r.ExcludedFromCalculations = true
	r.Completed, r.Tags = true, []string{"promoter"}
	return e
}

// eventJSON renders e for comparison: times cut to precision, with their
// offsets, and Raw left out.
func eventJSON(t *testing.T, e *wootric.Event, precision time.Duration) string {
	t.Helper()
	c := *e
	c.Raw = nil
	c.Timestamp = c.Timestamp.Truncate(precision)
	if r := c.Response; r != nil {
		rc := *r
		rc.CreatedAt, rc.UpdatedAt = rc.CreatedAt.Truncate(precision), rc.UpdatedAt.Truncate(precision)
		c.Response = &rc
	}
	if d := c.Decline; d != nil {
		dc := *d
		dc.CreatedAt, dc.UpdatedAt = dc.CreatedAt.Truncate(precision), dc.UpdatedAt.Truncate(precision)
		c.Decline = &dc
	}
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func assertEvent(t *testing.T, name string, got, want *wootric.Event, precision time.Duration) {
	t.Helper()
	if g, w := eventJSON(t, got, precision), eventJSON(t, want, precision); g != w {
		t.Errorf("Decode(%s) =\n%s\nwant\n%s", name, g, w)
	}
}

func TestDecodeDocSamples(t *testing.T) {
	tests := []struct {
		file      string
		want      *wootric.Event
		precision time.Duration
	}{
		{"doc-response-created.json", docResponse(pacific), time.Nanosecond},
		{"response-created.form", docResponse(pacific), time.Second},
		{"decline-created.json", docDecline(pacific), time.Nanosecond},
		{"decline-created.form", docDecline(pacific), time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			body := readTestdata(t, tc.file)
			got, err := wootric.Decode(body)
			if err != nil {
				t.Fatalf("Decode(%s) = %v", tc.file, err)
			}
			assertEvent(t, tc.file, got, tc.want, tc.precision)
			if string(got.Raw) != string(body) {
				t.Errorf("Decode(%s).Raw is not the body", tc.file)
			}
			for _, tm := range []time.Time{got.Timestamp, createdAt(got)} {
				if _, off := tm.Zone(); off != -7*3600 {
					t.Errorf("Decode(%s) time %v has offset %d, want -25200 as sent", tc.file, tm, off)
				}
			}
		})
	}
}

func createdAt(e *wootric.Event) time.Time {
	if e.Response != nil {
		return e.Response.CreatedAt
	}
	return e.Decline.CreatedAt
}

// TestDecodeDocSamplesAsPrinted checks the samples exactly as the
// documentation prints them: the JSON decline has a trailing comma, and the
// forms are broken into lines, raw line feeds no form encoder sends.
func TestDecodeDocSamplesAsPrinted(t *testing.T) {
	tests := []struct {
		file   string
		offset int
		reason string
	}{
		{"doc-decline-created.json", 412, "trailing comma"},
		{"doc-response-created.form", 18, "control character"},
		{"doc-decline-created.form", 15, "control character"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			_, err := wootric.Decode(readTestdata(t, tc.file))
			var pe *wootric.PayloadError
			if !errors.Is(err, wootric.ErrMalformedPayload) || !errors.As(err, &pe) {
				t.Fatalf("Decode(%s) = %v, want a *PayloadError", tc.file, err)
			}
			if pe.Offset != tc.offset || !strings.Contains(pe.Reason, tc.reason) {
				t.Errorf("Decode(%s) = %v, want %q at byte %d", tc.file, err, tc.reason, tc.offset)
			}
		})
	}
}

// TestDecodeRailsVariants decodes what Rails and Rack encoders really send
// (testdata/rails, made by generate.rb): ActiveSupport's to_query and
// to_json, Rack's build_nested_query, pretty JSON, whole-second and
// non-standard time formats, Pacific and UTC times.
func TestDecodeRailsVariants(t *testing.T) {
	files, err := filepath.Glob("testdata/rails/*.*[nm]")
	if err != nil || len(files) < 30 {
		t.Fatalf("testdata/rails holds %d samples, err %v", len(files), err)
	}
	checkRailsVariants(t, files)
}

// TestDecodeRailsVariantsLive runs generate.rb, when Ruby, Rack and
// ActiveSupport are installed, and decodes what it writes now.
func TestDecodeRailsVariantsLive(t *testing.T) {
	ruby, err := exec.LookPath("ruby")
	if err != nil {
		t.Skip("ruby is not installed (apt-get install ruby ruby-rack ruby-activesupport); the committed samples are tested by TestDecodeRailsVariants")
	}
	dir := t.TempDir()
	if out, err := exec.Command(ruby, "testdata/rails/generate.rb", dir).CombinedOutput(); err != nil {
		t.Skipf("generate.rb needs Rack and ActiveSupport (apt-get install ruby-rack ruby-activesupport): %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) < 30 {
		t.Fatalf("generate.rb wrote %d files", len(files))
	}
	checkRailsVariants(t, files)
}

func checkRailsVariants(t *testing.T, files []string) {
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			loc := pacific
			if strings.Contains(name, "-utc.") {
				loc = time.UTC
			}
			var want *wootric.Event
			switch {
			case strings.HasPrefix(name, "response-created"):
				want = docResponse(loc)
			case strings.HasPrefix(name, "decline-created"):
				want = docDecline(loc)
			case strings.HasPrefix(name, "response-updated-rich"):
				want = richResponse(loc)
			default:
				t.Fatalf("no expectation for %s", name)
			}
			precision := time.Second
			if strings.HasSuffix(name, ".to_json.json") || strings.HasSuffix(name, ".pretty.json") {
				precision = time.Millisecond
			}
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := wootric.Decode(body)
			if err != nil {
				t.Fatalf("Decode(%s) = %v", name, err)
			}
			assertEvent(t, name, got, want, precision)
			_, off := got.Timestamp.Zone()
			if _, wantOff := want.Timestamp.Zone(); off != wantOff {
				t.Errorf("Decode(%s) timestamp offset = %d, want %d", name, off, wantOff)
			}
		})
	}
}

// TestDecodeFormatIsTheBodys: the signed bytes alone decide the format.
func TestDecodeFormatIsTheBodys(t *testing.T) {
	jsonBody := readTestdata(t, "doc-response-created.json")
	formBody := readTestdata(t, "response-created.form")
	tests := []struct {
		name string
		body []byte
		json bool
	}{
		{"json", jsonBody, true},
		{"json after white space", append([]byte(" \r\n\t"), jsonBody...), true},
		{"form", formBody, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := wootric.Decode(tc.body)
			if err != nil || e.Response == nil || e.Response.ID != 1128 {
				t.Fatalf("Decode() = %v, %v, want response 1128", e, err)
			}
		})
	}
}

// TestHandlerFormatIsTheBodys replays a signed JSON body whose comment
// holds form text, with a form Content-Type: it must still be the JSON
// event, never the forged one the comment spells, and the log says that
// the label was wrong.
func TestHandlerFormatIsTheBodys(t *testing.T) {
	forged := "&event_name=created&response[id]=999&response[score]=0&timestamp=2030-01-01+00:00:00+UTC"
	body := []byte(`{"response":{"id":1128,"score":7,"text":"` + forged + `"},"event_name":"created"}`)
	for _, ct := range []string{"application/json", "application/x-www-form-urlencoded", "text/plain", ""} {
		t.Run(ct, func(t *testing.T) {
			var got *wootric.Event
			logs := &logRecords{}
			h := wootric.NewHandler(testSecret)
			h.Logger = slog.New(logs)
			h.On(wootric.ResponseCreated, func(_ context.Context, e *wootric.Event) error { got = e; return nil })
			w := httptest.NewRecorder()
			h.ServeHTTP(w, delivery(t, body, testSecret, ct))
			if w.Code != 200 || got == nil || got.Response.ID != 1128 || got.Response.Score != 7 || got.Response.Text != forged {
				t.Fatalf("answer %d, event %+v; want 200 and response 1128 scored 7, its comment as sent", w.Code, got)
			}
			mismatch := ct == "application/x-www-form-urlencoded"
			if len(logs.records) != 1 || (logs.records[0].attrs["content_type_mismatch"] == "true") != mismatch ||
				(logs.records[0].level == slog.LevelWarn) != mismatch {
				t.Errorf("records %+v, want a Warn with content_type_mismatch only for a form label", logs.records)
			}
		})
	}
}

// jsonWithTimestamp is a minimal JSON response whose timestamp is ts, a
// JSON value.
func jsonWithTimestamp(ts string) []byte {
	return []byte(`{"response":{"id":1,"score":9},"event_name":"created","timestamp":` + ts + `}`)
}

func TestDecodeTimes(t *testing.T) {
	tests := []struct {
		in     string
		want   string // RFC 3339 with nanoseconds, or "" for the zero time
		offset int
	}{
		{`"2016-08-04T13:57:26.558-07:00"`, "2016-08-04T13:57:26.558-07:00", -7 * 3600},
		{`"2016-08-04T20:57:26.558Z"`, "2016-08-04T20:57:26.558Z", 0},
		{`"2016-08-04T13:57:26-07:00"`, "2016-08-04T13:57:26-07:00", -7 * 3600},
		{`"2016-08-04T13:57:26.123456789+05:30"`, "2016-08-04T13:57:26.123456789+05:30", 5*3600 + 1800},
		{`"2016-08-04T13:57:26.5+05:45"`, "2016-08-04T13:57:26.5+05:45", 5*3600 + 2700},
		{`"2016-08-04 13:57:26 -0700"`, "2016-08-04T13:57:26-07:00", -7 * 3600},
		{`"2016-08-04 13:57:26.558 -0700"`, "2016-08-04T13:57:26.558-07:00", -7 * 3600},
		{`"2016-08-04 20:57:26 UTC"`, "2016-08-04T20:57:26Z", 0},
		{`"2016-08-04 20:57:26 +0000"`, "2016-08-04T20:57:26Z", 0},
		{`"2016/08/04 13:57:26 -0700"`, "2016-08-04T13:57:26-07:00", -7 * 3600},
		{`"2016-02-29 12:00:00 +1400"`, "2016-02-29T12:00:00+14:00", 14 * 3600},
		{`null`, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			e, err := wootric.Decode(jsonWithTimestamp(tc.in))
			if err != nil {
				t.Fatalf("Decode(timestamp %s) = %v", tc.in, err)
			}
			got := ""
			if !e.Timestamp.IsZero() {
				got = e.Timestamp.Format(time.RFC3339Nano)
			}
			_, off := e.Timestamp.Zone()
			if got != tc.want || off != tc.offset {
				t.Errorf("Decode(timestamp %s) = %s (offset %d), want %s (offset %d)", tc.in, got, off, tc.want, tc.offset)
			}
		})
	}
	refused := []string{
		`"2016-08-04 13:57:26"`, // no zone: the offset would be a guess
		`"2016-08-04"`,
		`"2016-08-04T13:57"`,
		`""`,
		`1470344246`,
		`"1470344246"`,
		`"Thu, 04 Aug 2016 13:57:26 -0700"`,
		`"2016-02-30 10:00:00 UTC"`,
		`"2015-02-29 10:00:00 UTC"`,
		`"2016-13-01 10:00:00 UTC"`,
		`"2016-08-04T24:00:00Z"`,
		`"2016-08-04T13:60:00Z"`,
		`"2016-08-04T13:57:60Z"`,
		`"2016-08-04T13:57:26.Z"`,
		`"2016-08-04T13:57:26.1234567891Z"`,
		`"2016-08-04T13:57:26+24:00"`,
		`"2016-08-04T13:57:26+07:60"`,
		`"2016-08-04T13:57:26 PST"`,
		`"2016-08-04T13:57:26Zjunk"`,
		`"２016-08-04T13:57:26Z"`,
		`"2016-08-04x13:57:26Z"`,
		`"+016-08-04T13:57:26Z"`,
	}
	for _, in := range refused {
		t.Run("refuses "+in, func(t *testing.T) {
			_, err := wootric.Decode(jsonWithTimestamp(in))
			var pe *wootric.PayloadError
			if !errors.As(err, &pe) || pe.Field != "timestamp" {
				t.Fatalf("Decode(timestamp %s) = %v, want a PayloadError for timestamp", in, err)
			}
		})
	}
}

func TestDecodeEndUserProperties(t *testing.T) {
	const form = "event_name=created&response[id]=1&response[score]=9&"
	tests := []struct {
		name string
		body string
		want map[string]string
	}{
		{"json scalars as text", `{"response":{"id":1,"score":9,"end_user_properties":{"n":1000,"f":12.5,"e":-1E3,"t":true,"b":false,"z":null,"s":"x"}},"event_name":"created"}`,
			map[string]string{"n": "1000", "f": "12.5", "e": "-1E3", "t": "true", "b": "false", "z": "", "s": "x"}},
		{"json nested values as compact json", `{"response":{"id":1,"score":9,"end_user_properties":{"o": { "a" : [1, "x y", null, {"b":"\u00e9\""}] }, "l":[ ]}},"event_name":"created"}`,
			map[string]string{"o": `{"a":[1,"x y",null,{"b":"é\""}]}`, "l": `[]`}},
		{"json nested strings with only the escapes JSON requires", `{"response":{"id":1,"score":9,"end_user_properties":{"o":["\u003c\b\u2028\t"]}},"event_name":"created"}`,
			map[string]string{"o": "[\"<\\u0008\u2028\\t\"]"}},
		{"json absent", `{"response":{"id":1,"score":9},"event_name":"created"}`, map[string]string{}},
		{"json null", `{"response":{"id":1,"score":9,"end_user_properties":null},"event_name":"created"}`, map[string]string{}},
		{"json empty", `{"response":{"id":1,"score":9,"end_user_properties":{}},"event_name":"created"}`, map[string]string{}},
		{"json escaped key", `{"response":{"id":1,"score":9,"end_user_properties":{"pl\u0061n":"x"}},"event_name":"created"}`, map[string]string{"plan": "x"}},
		{"form absent", form, map[string]string{}},
		{"form empty hash", form + "response[end_user_properties]=", map[string]string{}},
		{"form null and empty", form + "response[end_user_properties][a]&response[end_user_properties][b]=", map[string]string{"a": "", "b": ""}},
		{"form array", form + "response[end_user_properties][l][]=1&response[end_user_properties][l][]=a+b", map[string]string{"l": `["1","a b"]`}},
		{"form hash", form + "response[end_user_properties][h][b]=2&response[end_user_properties][h][a]=%22", map[string]string{"h": `{"b":"2","a":"\""}`}},
		{"form array of hashes, as rack groups them", form + "response[end_user_properties][l][][a]=1&response[end_user_properties][l][][b]=2&response[end_user_properties][l][][a]=3",
			map[string]string{"l": `[{"a":"1","b":"2"},{"a":"3"}]`}},
		{"form null in a nested value", form + "response[end_user_properties][h][a]", map[string]string{"h": `{"a":null}`}},
		{"form escaped brackets", form + "response%5Bend_user_properties%5D%5Bplan%5D=Pro", map[string]string{"plan": "Pro"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := wootric.Decode([]byte(tc.body))
			if err != nil {
				t.Fatalf("Decode(%q) = %v", tc.body, err)
			}
			got := e.Response.EndUserProperties
			if got == nil || len(got) != len(tc.want) {
				t.Fatalf("Decode(%q) properties = %#v, want %#v", tc.body, got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("Decode(%q) properties[%q] = %q, want %q", tc.body, k, got[k], v)
				}
			}
		})
	}
}

// TestDecodeAccepts covers what Rails, Rack and Wootric may send beyond the
// samples: each body must decode to the event wanted.
func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name string
		body string
		want *wootric.Event
	}{
		{"unknown event name is its own type", `{"response":{"id":1,"score":9},"event_name":"deleted"}`,
			responseEvent("deleted", wootric.Response{ID: 1, Score: 9})},
		{"unknown decline event", "decline[id]=1&event_name=archived",
			declineEvent("archived", wootric.Decline{ID: 1})},
		{"unknown fields of any shape are ignored", `{"response":{"id":1,"score":9,"labels":["a",{"b":[null,true,1.5e-3]}],"survey":{"id":2}},"event_name":"created","extra":{"x":[]},"version":2}`,
			responseEvent("created", wootric.Response{ID: 1, Score: 9})},
		{"unknown form fields of any shape are ignored", "response[id]=1&response[score]=9&response[survey][id]=2&response[labels][]=a&extra[x][y]=1&version&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9})},
		{"a decline ignores response-only fields", `{"decline":{"id":1,"score":"n/a","text":{},"excluded_from_calculations":7},"event_name":"created"}`,
			declineEvent("created", wootric.Decline{ID: 1})},
		{"a null object is absent", `{"response":null,"decline":{"id":3},"event_name":"created"}`,
			declineEvent("created", wootric.Decline{ID: 3})},
		{"json null strings are empty", `{"response":{"id":1,"score":0,"text":null,"email":null},"event_name":"created"}`,
			responseEvent("created", wootric.Response{ID: 1})},
		{"json number or boolean kept as text in a string field", `{"response":{"id":1,"score":9,"external_id":123,"email":true},"event_name":"created"}`,
			responseEvent("created", wootric.Response{ID: 1, Score: 9, ExternalID: "123", Email: "true"})},
		{"json escapes", `{"response":{"id":1,"score":9,"text":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\u0026"},"event_name":"cre\u0061ted"}`,
			responseEvent("created", wootric.Response{ID: 1, Score: 9, Text: "\"\\/\b\f\n\r\té😀&"})},
		{"json negative and zero integers", `{"response":{"id":-0,"score":-1,"end_user_id":0},"event_name":"created"}`,
			responseEvent("created", wootric.Response{Score: -1})},
		{"json largest id", `{"response":{"id":9223372036854775807,"score":9},"event_name":"created"}`,
			responseEvent("created", wootric.Response{ID: 1<<63 - 1, Score: 9})},
		{"form plus and %20 are spaces", "response[id]=1&response[score]=9&response[text]=a+b%20c&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9, Text: "a b c"})},
		{"form %2B is a plus", "response[id]=1&response[score]=9&response[email]=a%2Bb%40x.io&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9, Email: "a+b@x.io"})},
		{"form lower-case escapes", "response%5bid%5d=1&response%5bscore%5d=9&response%5btext%5d=%c3%a9&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9, Text: "é"})},
		{"form raw UTF-8", "response[id]=1&response[score]=9&response[text]=café&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9, Text: "café"})},
		{"form key without = is null", "response[id]=1&response[score]=9&response[text]&response[end_user_id]&response[excluded_from_calculations]&timestamp&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9})},
		{"form empty values are null", "response[id]=1&response[score]=9&response[survey_id]=&response[created_at]=&response[excluded_from_calculations]=&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9})},
		{"form empty pairs are skipped", "&&response[id]=1&&response[score]=9&event_name=created&",
			responseEvent("created", wootric.Response{ID: 1, Score: 9})},
		{"form booleans", "response[id]=1&response[score]=9&response[excluded_from_calculations]=true&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9, ExcludedFromCalculations: true})},
		{"form value with = and ;", "response[id]=1&response[score]=9&response[text]=a=b;c&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9, Text: "a=b;c"})},
		{"form unbalanced bracket read as Rack reads it", "response[id=1&response[score]=9&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9})},
		{"form escaped unbalanced bracket read as Rack reads it", "event_name=created&response%5Bid=1&response[score]=9",
			responseEvent("created", wootric.Response{ID: 1, Score: 9})},
		{"property names with brackets, as to_query escapes them",
			"response%5Bend_user_properties%5D%5BPlan+%5Bbeta%5D%5D=Gold&response%5Bend_user_properties%5D%5B%5Bx%5D%5D=2&response%5Bend_user_properties%5D%5BEase+of+use+%5Bapp%5D%5D=9&response[id]=1&response[score]=9&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9, EndUserProperties: map[string]string{"Plan [beta]": "Gold", "[x]": "2", "Ease of use [app]": "9"}})},
		{"property names with brackets, as build_nested_query escapes them",
			"response[end_user_properties][Plan+%5Bbeta%5D]=Gold&response[end_user_properties][%5Bx%5D]=2&response[id]=1&response[score]=9&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9, EndUserProperties: map[string]string{"Plan [beta]": "Gold", "[x]": "2"}})},
		{"a nested property named with brackets", "response[end_user_properties][a [1]][b]=x&response[id]=1&response[score]=9&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9, EndUserProperties: map[string]string{"a [1]": `{"b":"x"}`}})},
		{"an unmodelled field named with brackets", "survey[Label [x]]=1&response[id]=1&response[score]=9&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9})},
		{"a pair Rack drops is ignored", "response[end_user_properties][[]=5&response[id]=1&response[score]=9&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9})},
		{"another object type is an event", `{"end_user":{"id":5,"email":"a@b.c"},"event_name":"created","account_token":"NPS-1"}`,
			&wootric.Event{Type: "end_user.created", Name: "created", AccountToken: "NPS-1"}},
		{"another object type as a form", "end_user[id]=5&end_user[properties][plan]=Pro&event_name=created&survey_mode=NPS",
			&wootric.Event{Type: "end_user.created", Name: "created", SurveyMode: wootric.NPS}},
		{"the first of other objects names the type", `{"survey":{"id":1},"end_user":{"id":5},"event_name":"updated"}`,
			&wootric.Event{Type: "survey.updated", Name: "updated"}},
		{"other objects beside a response are ignored", `{"survey":{"channel":"web"},"response":{"id":1,"score":9},"event_name":"created"}`,
			responseEvent("created", wootric.Response{ID: 1, Score: 9})},
		{"other form objects beside a decline are ignored", "survey[channel]=web&decline[id]=1&event_name=created",
			declineEvent("created", wootric.Decline{ID: 1})},
		{"json tags and completed", `{"response":{"id":1,"score":9,"tags":["vip","a & b",7,true,null],"completed":true},"event_name":"created"}`,
			responseEvent("created", wootric.Response{ID: 1, Score: 9, Tags: []string{"vip", "a & b", "7", "true", ""}, Completed: true})},
		{"form tags and completed, as to_query writes them", "response%5Bcompleted%5D=true&response%5Bid%5D=1&response%5Bscore%5D=9&response%5Btags%5D%5B%5D=vip&response%5Btags%5D%5B%5D=a+%26+b&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9, Tags: []string{"vip", "a & b"}, Completed: true})},
		{"json empty and null tags are none", `{"response":{"id":1,"score":9,"tags":[],"completed":false},"event_name":"created"}`,
			responseEvent("created", wootric.Response{ID: 1, Score: 9})},
		{"form tags key without items is none", "response[id]=1&response[score]=9&response[tags]=&event_name=created",
			responseEvent("created", wootric.Response{ID: 1, Score: 9})},
		{"a decline's tags are not modelled", `{"decline":{"id":1,"tags":"x","completed":"maybe"},"event_name":"created"}`,
			declineEvent("created", wootric.Decline{ID: 1})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := wootric.Decode([]byte(tc.body))
			if err != nil {
				t.Fatalf("Decode(%q) = %v", tc.body, err)
			}
			if got, want := eventJSON(t, e, time.Nanosecond), eventJSON(t, tc.want, time.Nanosecond); got != want {
				t.Errorf("Decode(%q) =\n%s\nwant\n%s", tc.body, got, want)
			}
		})
	}
}

// responseEvent returns a response event named name, with r, no properties
// unless r has some, and no top-level field but event_name.
func responseEvent(name string, r wootric.Response) *wootric.Event {
	if r.EndUserProperties == nil {
		r.EndUserProperties = map[string]string{}
	}
	return &wootric.Event{Type: wootric.EventType("response." + name), Name: name, Response: &r}
}

// declineEvent is responseEvent for a decline.
func declineEvent(name string, d wootric.Decline) *wootric.Event {
	if d.EndUserProperties == nil {
		d.EndUserProperties = map[string]string{}
	}
	return &wootric.Event{Type: wootric.EventType("decline." + name), Name: name, Decline: &d}
}

func TestDecodeRefuses(t *testing.T) {
	deep := strings.Repeat("[", wootric.MaxDepth) + strings.Repeat("]", wootric.MaxDepth)
	tests := []struct {
		name   string
		body   string
		field  string // the PayloadError's Field
		reason string // part of its Reason
		offset int    // its Offset, or -1 for any
	}{
		{"not a JSON object", `["response"]`, "", "not a JSON object", 0},
		{"both response and decline", `{"response":{"id":1,"score":9},"decline":{"id":2},"event_name":"created"}`, "", "both a response and a decline", -1},
		{"both in a form", "response[id]=1&decline[id]=2&event_name=created", "", "both a response and a decline", 15},
		{"neither", `{"event_name":"created"}`, "", "neither", -1},
		{"empty body", ``, "event_name", "missing", 0},
		{"missing event_name", `{"response":{"id":1,"score":9}}`, "event_name", "missing", -1},
		{"empty event_name", `{"response":{"id":1,"score":9},"event_name":""}`, "event_name", "empty", -1},
		{"null event_name", "response[id]=1&response[score]=9&event_name", "event_name", "empty", -1},
		{"missing id", `{"response":{"score":9},"event_name":"created"}`, "response.id", "missing", 1},
		{"missing decline id", "decline[email]=a&event_name=created", "decline.id", "missing", 0},
		{"missing score", `{"response":{"id":1},"event_name":"created"}`, "response.score", "missing", 1},
		{"null score", `{"response":{"id":1,"score":null},"event_name":"created"}`, "response.score", "missing", 28},
		{"empty form score", "response[id]=1&response[score]=&event_name=created", "response.score", "missing", 31},
		{"fractional score", `{"response":{"id":1,"score":9.5},"event_name":"created"}`, "response.score", "not an integer", 28},
		{"exponent score", `{"response":{"id":1,"score":1e1},"event_name":"created"}`, "response.score", "not an integer", -1},
		{"quoted score", `{"response":{"id":1,"score":"9"},"event_name":"created"}`, "response.score", "not an integer", -1},
		{"form score not a number", "response[id]=1&response[score]=nine&event_name=created", "response.score", "not an integer", 31},
		{"id out of range", `{"response":{"id":9223372036854775808,"score":9},"event_name":"created"}`, "response.id", "out of range", 18},
		{"form id out of range", "response[id]=-9223372036854775809&response[score]=9&event_name=created", "response.id", "out of range", 13},
		{"boolean not true or false", `{"response":{"id":1,"score":9,"excluded_from_calculations":"yes"},"event_name":"created"}`, "response.excluded_from_calculations", "not true or false", -1},
		{"boolean as a number", `{"response":{"id":1,"score":9,"excluded_from_calculations":1},"event_name":"created"}`, "response.excluded_from_calculations", "not true or false", -1},
		{"form boolean as 1", "response[id]=1&response[score]=9&response[excluded_from_calculations]=1&event_name=created", "response.excluded_from_calculations", "not true or false", -1},
		{"bad time", `{"response":{"id":1,"score":9,"created_at":"yesterday"},"event_name":"created"}`, "response.created_at", "not a time", -1},
		{"no object", `{"event_name":"created","timestamp":null}`, "", "no object", -1},
		{"an other key that is no object", `{"end_user":[1],"event_name":"created"}`, "", "no object", -1},
		{"an object whose name is no model's", `{"End User":{"id":1},"event_name":"created"}`, "", "no object", -1},
		{"a form value that is no hash", "end_user=5&event_name=created", "", "no object", -1},
		{"response given twice, then null", `{"response":{"id":1,"score":9},"event_name":"created","response":null}`, "response", "given twice", 54},
		{"decline null, then given", `{"decline":null,"decline":{"id":1},"event_name":"created"}`, "decline", "given twice", 16},
		{"id given twice", `{"response":{"id":1,"id":2,"score":9},"event_name":"created"}`, "response.id", "given twice", 25},
		{"form id given twice", "response[id]=1&response[id]=1&response[score]=9&event_name=created", "response.id", "given twice", -1},
		{"event_name given twice", `{"event_name":"created","response":{"id":1,"score":9},"event_name":"updated"}`, "event_name", "given twice", -1},
		{"property given twice", `{"response":{"id":1,"score":9,"end_user_properties":{"a":1,"a":2}},"event_name":"created"}`, "response.end_user_properties", "a property given twice", -1},
		{"form property given twice", "response[id]=1&response[score]=9&response[end_user_properties][a]=1&response[end_user_properties][a]=2&event_name=created", "response.end_user_properties", "a property given twice", -1},
		{"form property both value and hash", "response[id]=1&response[score]=9&response[end_user_properties][a]=1&response[end_user_properties][a][b]=2&event_name=created", "response.end_user_properties", "a property given twice", -1},
		{"form property both hash and value", "response[id]=1&response[score]=9&response[end_user_properties][a][b]=2&response[end_user_properties][a]=1&event_name=created", "response.end_user_properties", "a property given twice", -1},
		{"form nested property given twice", "response[id]=1&response[score]=9&response[end_user_properties][a][b]=1&response[end_user_properties][a][b]=2&event_name=created", "response.end_user_properties", "conflicting", -1},
		{"form nested property conflict", "response[id]=1&response[score]=9&response[end_user_properties][a][b]=2&response[end_user_properties][a][]=1&event_name=created", "response.end_user_properties", "conflicting", -1},
		{"response not an object", `{"response":5,"event_name":"created"}`, "response", "not an object", 12},
		{"properties an array", `{"response":{"id":1,"score":9,"end_user_properties":["a"]},"event_name":"created"}`, "response.end_user_properties", "not an object", -1},
		{"form properties a value", "response[id]=1&response[score]=9&response[end_user_properties]=Pro&event_name=created", "response.end_user_properties", "not an object", -1},
		{"string field an object", `{"response":{"id":1,"score":9,"email":{"a":1}},"event_name":"created"}`, "response.email", "not a string", -1},
		{"form response a value", "response=1&event_name=created", "response", "not a hash", 0},
		{"form field nested", "response[id][x]=1&event_name=created", "response.id", "not a single value", -1},
		{"form top field nested", "event_name[x]=created&response[id]=1&response[score]=9", "event_name", "not a single value", 0},
		{"tags a string", `{"response":{"id":1,"score":9,"tags":"vip"},"event_name":"created"}`, "response.tags", "not a list", 37},
		{"tags holding an object", `{"response":{"id":1,"score":9,"tags":["a",{"b":1}]},"event_name":"created"}`, "response.tags", "not a list of text", 42},
		{"tags given twice", `{"response":{"id":1,"score":9,"tags":[],"tags":["a"]},"event_name":"created"}`, "response.tags", "given twice", -1},
		{"form tags both a value and items", "response[id]=1&response[score]=9&response[tags]=&response[tags][]=b&event_name=created", "response.tags", "given twice", -1},
		{"form tags both items and a value", "response[id]=1&response[score]=9&response[tags][]=a&response[tags]=b&event_name=created", "response.tags", "given twice", -1},
		{"form tags nested", "response[id]=1&response[score]=9&response[tags][][x]=a&event_name=created", "response.tags", "not a single value", -1},
		{"form score as items", "response[id]=1&response[score][]=9&event_name=created", "response.score", "not a single value", -1},
		{"completed not a boolean", `{"response":{"id":1,"score":9,"completed":"yes"},"event_name":"created"}`, "response.completed", "not true or false", -1},
		{"trailing comma", `{"response":{"id":1,"score":9,},"event_name":"created"}`, "", "trailing comma", -1},
		{"trailing comma in an unknown array", `{"response":{"id":1,"score":9,"labels":[1,]},"event_name":"created"}`, "", "trailing comma", -1},
		{"missing comma", `{"response":{"id":1 "score":9},"event_name":"created"}`, "", "expected ','", -1},
		{"leading zero", `{"response":{"id":01,"score":9},"event_name":"created"}`, "", "expected ','", -1},
		{"bad literal", `{"response":{"id":1,"score":9,"x":tru},"event_name":"created"}`, "", "invalid character", -1},
		{"bare minus", `{"response":{"id":-,"score":9},"event_name":"created"}`, "", "invalid number", -1},
		{"unquoted key", `{response:{"id":1}}`, "", "expected a string key", 1},
		{"missing colon", `{"response" {"id":1}}`, "", "expected ':'", -1},
		{"truncated", `{"response":{"id":1,"score":9`, "", "unexpected end", -1},
		{"unterminated string", `{"response":{"id":1,"score":9,"text":"abc`, "", "unterminated string", -1},
		{"data after the object", `{"response":{"id":1,"score":9},"event_name":"created"} {}`, "", "data after", 55},
		{"raw control character in a string", "{\"response\":{\"id\":1,\"score\":9,\"text\":\"a\tb\"},\"event_name\":\"created\"}", "", "control character", 39},
		{"invalid UTF-8 in a string", "{\"response\":{\"id\":1,\"score\":9,\"text\":\"caf\xe9\"},\"event_name\":\"created\"}", "", "invalid UTF-8", 41},
		{"invalid UTF-8 after an escape", "{\"response\":{\"id\":1,\"score\":9,\"text\":\"\\n\xff\"},\"event_name\":\"created\"}", "", "invalid UTF-8", -1},
		{"invalid UTF-8 in a key", "{\"response\":{\"id\":1,\"score\":9,\"\xc3\":1},\"event_name\":\"created\"}", "", "invalid UTF-8", -1},
		{"invalid UTF-8 in an unknown field", "{\"response\":{\"id\":1,\"score\":9,\"x\":[\"\xed\xa0\x80\"]},\"event_name\":\"created\"}", "", "invalid UTF-8", -1},
		{"unpaired high surrogate", `{"response":{"id":1,"score":9,"text":"\ud83d"},"event_name":"created"}`, "", "unpaired surrogate", -1},
		{"unpaired low surrogate", `{"response":{"id":1,"score":9,"text":"\ude00x"},"event_name":"created"}`, "", "unpaired surrogate", -1},
		{"surrogate followed by a non-surrogate", `{"response":{"id":1,"score":9,"text":"\ud83d\u0041"},"event_name":"created"}`, "", "unpaired surrogate", -1},
		{"invalid escape", `{"response":{"id":1,"score":9,"text":"\x41"},"event_name":"created"}`, "", "invalid escape", -1},
		{"short unicode escape", `{"response":{"id":1,"score":9,"text":"\u41"},"event_name":"created"}`, "", "invalid \\u escape", -1},
		{"json nested too deep", `{"response":{"id":1,"score":9,"x":` + deep + `},"event_name":"created"}`, "", "nested deeper than", -1},
		{"json properties nested too deep", `{"response":{"id":1,"score":9,"end_user_properties":{"a":` + deep[wootric.MaxDepth-8:len(deep)-(wootric.MaxDepth-8)] + `}},"event_name":"created"}`, "", "nested deeper than", -1},
		{"form key nested too deep", "response[id]=1&response[score]=9&x" + strings.Repeat("[a]", wootric.MaxDepth) + "=1&event_name=created", "", "nested deeper than", 33},
		{"form closing bracket first", "response]id[=1&event_name=created", "", "unbalanced brackets", 0},
		{"form text after a bracket, read as Rack reads it", "response[id]x=1&event_name=created", "response.id", "not a single value", 14},
		{"form key without a name", "event_name=created&[id]=1", "", "without a name", 19},
		{"form invalid escape", "response[id]=1&response[score]=9&response[text]=100%&event_name=created", "", "invalid %-escape", 51},
		{"form escape not hex", "response[id]=1&response[score]=9&response[text]=%zz&event_name=created", "", "invalid %-escape", 48},
		{"form raw control character", "response[id]=1&response[score]=9&response[text]=a\tb&event_name=created", "", "control character", 49},
		{"form raw line feed", "response[id]=1&\nresponse[score]=9&event_name=created", "", "control character", 15},
		{"form invalid UTF-8", "response[id]=1&response[score]=9&response[text]=caf%E9&event_name=created", "", "invalid UTF-8", 48},
		{"form raw invalid UTF-8", "response[id]=1&response[score]=9&response[text]=caf\xe9&event_name=created", "", "invalid UTF-8", 48},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := wootric.Decode([]byte(tc.body))
			var pe *wootric.PayloadError
			if !errors.Is(err, wootric.ErrMalformedPayload) || !errors.As(err, &pe) {
				t.Fatalf("Decode(%q) = %v, %v, want a *PayloadError", tc.body, e, err)
			}
			if pe.Field != tc.field || !strings.Contains(pe.Reason, tc.reason) || tc.offset >= 0 && pe.Offset != tc.offset {
				t.Errorf("Decode(%q) = %v, want field %q, reason %q, offset %d", tc.body, err, tc.field, tc.reason, tc.offset)
			}
			if pe.Offset < 0 || pe.Offset > len(tc.body) {
				t.Errorf("Decode(%q) offset %d is outside the body", tc.body, pe.Offset)
			}
		})
	}
}

// TestDecodeErrorsHoldNoPersonalData checks that a refusal names the field
// but never quotes what the end user sent.
func TestDecodeErrorsHoldNoPersonalData(t *testing.T) {
	const secret = "jane.doe@example.com"
	bodies := []string{
		`{"response":{"id":1,"score":"` + secret + `","email":"` + secret + `"},"event_name":"created"}`,
		`{"response":{"id":1,"score":9,"created_at":"` + secret + `"},"event_name":"created"}`,
		`{"response":{"id":1,"score":9,"excluded_from_calculations":"` + secret + `"},"event_name":"created"}`,
		"response[id]=1&response[score]=" + secret + "&event_name=created",
		"response[id]=1&response[score]=9&response[text]=" + secret + "%zz&event_name=created",
		"response[id]=" + secret + "&event_name=created",
	}
	for _, body := range bodies {
		_, err := wootric.Decode([]byte(body))
		if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "jane") {
			t.Errorf("Decode(%q) = %v, want an error that does not quote the value", body, err)
		}
	}
}

// FuzzDecode feeds Decode every sample in testdata, in both formats, and
// checks that it never panics, that every error is a *PayloadError inside
// the body, and that every event it accepts is whole.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.*[nm]")
	rails, _ := filepath.Glob("testdata/rails/*.*[nm]")
	for _, file := range append(files, rails...) {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := wootric.Decode(body)
		if err != nil {
			var pe *wootric.PayloadError
			if !errors.Is(err, wootric.ErrMalformedPayload) || !errors.As(err, &pe) {
				t.Fatalf("Decode() = %v, want a *PayloadError", err)
			}
			if pe.Offset < 0 || pe.Offset > len(body) {
				t.Fatalf("Decode() error offset %d outside a %d-byte body", pe.Offset, len(body))
			}
			return
		}
		if string(e.Raw) != string(body) {
			t.Fatal("Decode().Raw is not the body")
		}
		if e.Name == "" || !strings.HasSuffix(string(e.Type), "."+e.Name) {
			t.Fatalf("Decode() type %q, name %q", e.Type, e.Name)
		}
		switch {
		case e.Response != nil && e.Decline == nil:
			if e.Response.EndUserProperties == nil || !strings.HasPrefix(string(e.Type), "response.") {
				t.Fatalf("Decode() = %+v, %+v", e, e.Response)
			}
		case e.Decline != nil && e.Response == nil:
			if e.Decline.EndUserProperties == nil || !strings.HasPrefix(string(e.Type), "decline.") {
				t.Fatalf("Decode() = %+v, %+v", e, e.Decline)
			}
		case e.Response == nil && e.Decline == nil:
			if strings.HasPrefix(string(e.Type), "response.") || strings.HasPrefix(string(e.Type), "decline.") {
				t.Fatalf("Decode() = %+v, a %s event without its object", e, e.Type)
			}
		default:
			t.Fatalf("Decode() = %+v, want at most one of Response and Decline", e)
		}
	})
}

// TestFormPropertiesAsRackParsesThem asks Rack itself, when Ruby is
// installed, how it parses nested end-user properties, and checks that
// Decode reads the same values (objects and arrays as compact JSON).
func TestFormPropertiesAsRackParsesThem(t *testing.T) {
	ruby, err := exec.LookPath("ruby")
	if err != nil {
		t.Skip("ruby is not installed (apt-get install ruby ruby-rack); TestDecodeEndUserProperties covers the same rules")
	}
	const p = "response[end_user_properties]"
	bodies := []string{
		p + "[plan]=Pro&" + p + "[seats]=10",
		p + "[tags][]=a&" + p + "[tags][]=b+c&" + p + "[tags][]=%22q%22",
		p + "[l][][a]=1&" + p + "[l][][b]=2&" + p + "[l][][a]=3",
		p + "[l][][a]=1&" + p + "[l][][b][c]=2&" + p + "[l][][b][c]=3",
		p + "[h][k][j]=1&" + p + "[h][k][i]=2&" + p + "[h][m]=x",
		p + "[n]&" + p + "[e]=&" + p + "[h][n]",
		"response%5Bend_user_properties%5D%5BPlan+name%5D=Gold+%5Bbeta%5D&" + p + "[caf%C3%A9]=%E2%9C%93",
		p + "[x][]=1&" + p + "[x][]&" + p + "[y][][z]",
		// Names whose brackets do not balance, which Rack and Decode read
		// alike: "x][y" as to_query writes it, "b]c", "b[c", and "[",
		// whose pair Rack drops.
		"response%5Bend_user_properties%5D%5Bx%5D%5By%5D=3",
		p + "[b]c]=4",
		p + "[b[c]=5",
		p + "[[]=6",
	}
	script := `require "rack"; require "json"
STDIN.each_line do |l|
  h = Rack::Utils.parse_nested_query(l.chomp).dig("response", "end_user_properties") || {}
  puts JSON.generate(h.transform_values { |v| v.is_a?(String) || v.nil? ? v.to_s : JSON.generate(v) })
end`
	cmd := exec.Command(ruby, "-e", script)
	cmd.Stdin = strings.NewReader(strings.Join(bodies, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("ruby could not load Rack (apt-get install ruby-rack): %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(bodies) {
		t.Fatalf("ruby printed %d lines for %d bodies:\n%s", len(lines), len(bodies), out)
	}
	for i, body := range bodies {
		var rack map[string]string
		if err := json.Unmarshal([]byte(lines[i]), &rack); err != nil {
			t.Fatalf("ruby printed %q: %v", lines[i], err)
		}
		e, err := wootric.Decode([]byte("event_name=created&response[id]=1&response[score]=9&" + body))
		if err != nil {
			t.Errorf("Decode(%q) = %v; Rack reads %v", body, err, rack)
			continue
		}
		got := e.Response.EndUserProperties
		if len(got) != len(rack) {
			t.Errorf("Decode(%q) properties = %q, Rack reads %q", body, got, rack)
			continue
		}
		for k, v := range rack {
			if got[k] != v {
				t.Errorf("Decode(%q) properties[%q] = %q, Rack reads %q", body, k, got[k], v)
			}
		}
	}
}

// TestPayloadErrorHoldsNoNameFromTheBody sends a property named with an
// email and a line break, given twice: neither the error nor the log may
// carry it (personal data, and a forged log line in a text logger).
func TestPayloadErrorHoldsNoNameFromTheBody(t *testing.T) {
	const name = "jane@example.com\nlevel=ERROR msg=forged"
	escaped := url.QueryEscape(name)
	tests := []struct {
		name string
		body string
	}{
		{"json", `{"response":{"id":1,"score":9,"end_user_properties":{"` + strings.ReplaceAll(name, "\n", `\n`) + `":1,"` + strings.ReplaceAll(name, "\n", `\n`) + `":2}},"event_name":"created"}`},
		{"form", "response[id]=1&response[score]=9&response[end_user_properties][" + escaped + "]=1&response[end_user_properties][" + escaped + "]=2&event_name=created"},
		{"form nested", "response[id]=1&response[score]=9&response[end_user_properties][" + escaped + "][a]=1&response[end_user_properties][" + escaped + "][]=2&event_name=created"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wootric.Decode([]byte(tc.body))
			var pe *wootric.PayloadError
			if !errors.As(err, &pe) {
				t.Fatalf("Decode() = %v, want a *PayloadError", err)
			}
			if msg := err.Error(); strings.Contains(msg, "jane") || strings.Contains(msg, "\n") || pe.Field != "response.end_user_properties" {
				t.Errorf("Decode() = %q (Field %q), want no name from the body and Field response.end_user_properties", msg, pe.Field)
			}

			logs := &logRecords{}
			h := wootric.NewHandler(testSecret)
			h.Logger = slog.New(logs)
			h.ServeHTTP(httptest.NewRecorder(), delivery(t, []byte(tc.body), testSecret, ""))
			if len(logs.records) != 1 || strings.Contains(fmt.Sprint(logs.records[0].attrs), "jane") {
				t.Errorf("records %+v, want one without the name", logs.records)
			}
		})
	}
}

// TestDecodeStopsAtMaxDepth feeds a megabyte of nesting: Decode must stop
// where the nesting passes MaxDepth, not walk on.
func TestDecodeStopsAtMaxDepth(t *testing.T) {
	const size = 1 << 20
	tests := []struct {
		name string
		body string
		max  int // the error's offset is at most this
	}{
		{"json arrays", `{"x":` + strings.Repeat("[", size), 5 + wootric.MaxDepth},
		{"json objects", `{"x":` + strings.Repeat(`{"a":`, size/5), 5 + 5*wootric.MaxDepth},
		{"json properties", `{"response":{"id":1,"score":9,"end_user_properties":{"a":` + strings.Repeat("[", size), 60 + wootric.MaxDepth},
		{"form key", "event_name=created&x" + strings.Repeat("[a]", size/3) + "=1", 19},
		{"form escaped key", "event_name=created&x" + strings.Repeat("%5Ba%5D", size/7) + "=1", 19},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wootric.Decode([]byte(tc.body))
			var pe *wootric.PayloadError
			if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "nested deeper") || pe.Offset > tc.max {
				t.Fatalf("Decode(deep %s) = %v, want a nesting error by byte %d", tc.name, err, tc.max)
			}
		})
	}
}

// manyProperties returns a delivery with n end-user properties, in JSON or
// as a form.
func manyProperties(n int, form bool) []byte {
	var b bytes.Buffer
	if form {
		b.WriteString("event_name=created&response[id]=1&response[score]=9")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "&response[end_user_properties][p%d]=%d", i, i)
		}
		return b.Bytes()
	}
	b.WriteString(`{"event_name":"created","response":{"id":1,"score":9,"end_user_properties":{`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"p%d":%d`, i, i)
	}
	b.WriteString("}}}")
	return b.Bytes()
}

// TestDecodeManyProperties decodes 200,000 properties, in linear time (see
// BenchmarkDecodeManyProperties): there is no count limit, the body size
// limit bounds them. A Handler's default 1 MiB refuses such a body.
func TestDecodeManyProperties(t *testing.T) {
	const n = 200000
	for _, form := range []bool{false, true} {
		body := manyProperties(n, form)
		e, err := wootric.Decode(body)
		if err != nil || len(e.Response.EndUserProperties) != n || e.Response.EndUserProperties["p199999"] != "199999" {
			t.Fatalf("Decode(%d properties, form %v) = %v", n, form, err)
		}
		h := wootric.NewHandler(testSecret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, delivery(t, body, testSecret, ""))
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("Handler with the default limit answered %d to %d bytes, want 413", w.Code, len(body))
		}
	}
}

// TestHandlerSlowBodyEndsWithTheContext sends a body that never ends to a
// real server whose request context has a deadline: the Handler must give
// up when the context ends, not wait for the server's ReadTimeout.
// eventAt returns a signed delivery of a response whose timestamp is ts.

func BenchmarkDecodeManyProperties(b *testing.B) {
	for _, form := range []bool{false, true} {
		body := manyProperties(200000, form)
		name := "json"
		if form {
			name = "form"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := wootric.Decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFormatOf: the body's first non-space byte decides, as Decode reads it.
func TestFormatOf(t *testing.T) {
	for body, want := range map[string]wootric.Format{
		`{"response":{}}`:            wootric.JSON,
		" \r\n\t[1]":                 wootric.JSON,
		"response%5Bid%5D=1":         wootric.Form,
		"%7B%22a%22%3A1%7D":          wootric.Form,
		"":                           wootric.Form,
		"  event_name=created&x={1}": wootric.Form,
	} {
		if got := wootric.FormatOf([]byte(body)); got != want {
			t.Errorf("FormatOf(%q) = %v, want %v", body, got, want)
		}
	}
}

// TestDecodeKeysInAnyOrder checks that the order and the spelling of an
// object's keys do not change the event: the decoder compares each key
// first with the field that follows the last in Rails' order, and a key
// that is not that one, or that is spelled with an escape, must be read
// the same way all the same.
func TestDecodeKeysInAnyOrder(t *testing.T) {
	for _, file := range []string{"rails/response-updated-rich.to_json.json", "rails/decline-created.to_json.json"} {
		body := readTestdata(t, file)
		want, err := wootric.Decode(body)
		if err != nil {
			t.Fatal(err)
		}
		object := "response"
		if want.Decline != nil {
			object = "decline"
		}
		members, rest := objectMembers(t, body, object)
		n := len(members)
		variants := map[string]func(i int) (key string, value string, extra string){
			"reversed": func(i int) (string, string, string) {
				m := members[n-1-i]
				return strconv.Quote(m[0]), m[1], ""
			},
			"rotated by one": func(i int) (string, string, string) {
				m := members[(i+1)%n]
				return strconv.Quote(m[0]), m[1], ""
			},
			"first letter escaped": func(i int) (string, string, string) {
				k := members[i][0]
				return fmt.Sprintf(`"\u%04x%s"`, k[0], k[1:]), members[i][1], ""
			},
			"unknown keys before each, one its name and more, one less": func(i int) (string, string, string) {
				k := members[i][0]
				return strconv.Quote(k), members[i][1], strconv.Quote(k+"_") + `:1,` + strconv.Quote(k[:len(k)-1]) + `:"x",`
			},
			"white space around keys": func(i int) (string, string, string) {
				return " \n\t" + strconv.Quote(members[i][0]) + " ", " " + members[i][1], ""
			},
		}
		for name, member := range variants {
			var b strings.Builder
			b.WriteString(`{"` + object + `":{`)
			for i := range n {
				if i > 0 {
					b.WriteString(",")
				}
				key, value, extra := member(i)
				b.WriteString(extra + key + ":" + value)
			}
			b.WriteString("}" + rest)
			got, err := wootric.Decode([]byte(b.String()))
			if err != nil {
				t.Errorf("%s, %s: %v\nbody %s", file, name, err, b.String())
				continue
			}
			assertEvent(t, file+", "+name, got, want, 0)
		}
	}
}

// objectMembers returns the keys and raw values of the object named
// object in the compact JSON body, in their order, and the body's text
// after the object.
func objectMembers(t *testing.T, body []byte, object string) (members [][2]string, rest string) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatal(err)
	}
	_, after, ok := bytes.Cut(body, top[object])
	if !ok {
		t.Fatalf("no %s object in %s", object, body)
	}
	dec := json.NewDecoder(bytes.NewReader(top[object]))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatal(err)
		}
		members = append(members, [2]string{key.(string), string(raw)})
	}
	if len(members) < 10 {
		t.Fatalf("%s has %d members", object, len(members))
	}
	return members, string(after)
}
