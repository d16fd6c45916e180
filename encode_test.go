package wootric_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wootric-go/wootric"
)

// assertRoundTrip checks that Decode(Encode(e, f)) is e, to the precision f
// keeps.
func assertRoundTrip(t *testing.T, name string, e *wootric.Event, f wootric.Format) {
	t.Helper()
	body, err := wootric.Encode(e, f)
	if err != nil {
		t.Fatalf("Encode(%s, %v) = %v", name, f, err)
	}
	got, err := wootric.Decode(body)
	if err != nil {
		t.Fatalf("Decode(Encode(%s, %v)) = %v\nbody: %s", name, f, err, body)
	}
	precision := time.Millisecond
	if f == wootric.Form {
		precision = time.Second
	}
	assertEvent(t, name+" via "+f.String(), got, e, precision)
	for _, pair := range [][2]time.Time{{got.Timestamp, e.Timestamp}, {createdAt(got), createdAt(e)}} {
		_, g := pair[0].Zone()
		_, w := pair[1].Zone()
		if !pair[1].IsZero() && g != w {
			t.Errorf("Decode(Encode(%s, %v)) offset %d, want %d", name, f, g, w)
		}
	}
}

func TestEncodeRoundTripsEverySample(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.*[nm]")
	rails, _ := filepath.Glob("testdata/rails/*.*[nm]")
	n := 0
	for _, file := range append(files, rails...) {
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		e, err := wootric.Decode(body)
		if err != nil {
			continue // the documentation's samples as printed
		}
		n++
		for _, f := range []wootric.Format{wootric.JSON, wootric.Form} {
			assertRoundTrip(t, file, e, f)
		}
	}
	if n < 40 {
		t.Errorf("round-tripped %d samples, want every decodable one in testdata", n)
	}
}

// TestEncodeMatchesRails compares Encode with what Rails itself wrote for
// the documentation's samples (testdata/rails, from generate.rb): the same
// bytes.
func TestEncodeMatchesRails(t *testing.T) {
	tests := []struct {
		event *wootric.Event
		file  string
		f     wootric.Format
	}{
		{docResponse(pacific), "response-created.to_json.json", wootric.JSON},
		{docResponse(pacific), "response-created.to_query.form", wootric.Form},
		{docResponse(time.UTC), "response-created-utc.to_json.json", wootric.JSON},
		{docResponse(time.UTC), "response-created-utc.to_query.form", wootric.Form},
		{docDecline(pacific), "decline-created.to_json.json", wootric.JSON},
		{docDecline(pacific), "decline-created.to_query.form", wootric.Form},
		{docDecline(time.UTC), "decline-created-utc.to_query.form", wootric.Form},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := wootric.Encode(tc.event, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if want := readTestdata(t, "rails/"+tc.file); string(got) != string(want) {
				t.Errorf("Encode() =\n%s\nwant what Rails sent\n%s", got, want)
			}
		})
	}
}

func TestEncodeRefuses(t *testing.T) {
	withProps := func(props map[string]string) *wootric.Event {
		e := docResponse(pacific)
		e.Response.EndUserProperties = props
		return e
	}
	both := docResponse(pacific)
	both.Decline = docDecline(pacific).Decline
	noName := docResponse(pacific)
	noName.Name = ""
	wrongType := docResponse(pacific)
	wrongType.Type = wootric.DeclineCreated
	badText := docResponse(pacific)
	badText.Response.Text = "caf\xe9"
	farFuture := docResponse(pacific)
	farFuture.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	oddOffset := docResponse(pacific)
	oddOffset.Response.CreatedAt = time.Date(1880, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", -7*3600-2*60-58))

	tests := []struct {
		name string
		e    *wootric.Event
		f    wootric.Format
	}{
		{"nil", nil, wootric.JSON},
		{"neither object", &wootric.Event{Name: "created"}, wootric.JSON},
		{"both objects", both, wootric.Form},
		{"no name", noName, wootric.JSON},
		{"type against object", wrongType, wootric.JSON},
		{"invalid UTF-8", badText, wootric.Form},
		{"invalid UTF-8 property", withProps(map[string]string{"a": "\xff"}), wootric.JSON},
		{"year past 9999", farFuture, wootric.JSON},
		{"offset in seconds", oddOffset, wootric.JSON},
		{"form property whose brackets do not balance", withProps(map[string]string{"a]b[": "x"}), wootric.Form},
		{"form property with an open bracket", withProps(map[string]string{"a[b": "x"}), wootric.Form},
		{"form property without a name", withProps(map[string]string{"": "x"}), wootric.Form},
		{"unknown format", docResponse(pacific), wootric.Format(9)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := wootric.Encode(tc.e, tc.f); !errors.Is(err, wootric.ErrInvalidEvent) {
				t.Errorf("Encode(%s) = %v, want ErrInvalidEvent", tc.name, err)
			}
		})
	}
	// What a form cannot carry, JSON can.
	assertRoundTrip(t, "bracketed property", withProps(map[string]string{"a[b]": "x", "": "y"}), wootric.JSON)
}

// FuzzEncodeRoundTrip builds events from the fuzzer's values: whatever
// Encode accepts, Decode must give back.
func FuzzEncodeRoundTrip(f *testing.F) {
	f.Add(int64(1128), 7, "nps@example.com", "", "pricing_plan", "Enterprise", int64(1470344246558), -420, false, "created")
	f.Add(int64(-1), -3, "", "a \"quote\" & <tag>\n\u2028", "Plan name", "", int64(0), 0, true, "updated")
	f.Add(int64(1<<62), 10, "é", "100% + more", "k", "[1, 2]", int64(-62135596800000), 345, false, "x.y")
	f.Fuzz(func(t *testing.T, id int64, score int, email, text, key, val string, unixMs int64, offsetMin int, decline bool, name string) {
		loc := time.FixedZone("", (offsetMin%(24*60))*60)
		ts := time.UnixMilli(unixMs).In(loc)
		if ts.IsZero() {
			ts = time.Time{} // the zero instant is null, whatever its zone
		}
		props := map[string]string{key: val, "fixed": "1"}
		e := &wootric.Event{Name: name, Timestamp: ts, AccountToken: "NPS-" + email, SurveyMode: wootric.CSAT}
		e.Type = wootric.EventType("response." + name)
		if decline {
			e.Type = wootric.EventType("decline." + name)
			e.Decline = &wootric.Decline{ID: id, Email: email, EndUserProperties: props, CreatedAt: ts, UpdatedAt: ts}
		} else {
			e.Response = &wootric.Response{ID: id, Score: score, Email: email, Text: text, EndUserProperties: props,
				CreatedAt: ts, ExcludedFromCalculations: score%2 == 0, Completed: score%3 == 0}
			if val != "" {
				e.Response.Tags = []string{val, text, ""}
			}
		}
		for _, format := range []wootric.Format{wootric.JSON, wootric.Form} {
			body, err := wootric.Encode(e, format)
			if err != nil {
				if !errors.Is(err, wootric.ErrInvalidEvent) {
					t.Fatalf("Encode() = %v, which does not wrap ErrInvalidEvent", err)
				}
				valid := name != "" && ts.Year() >= 0 && ts.Year() <= 9999 && (decline || utf8.ValidString(text))
				for _, s := range []string{email, key, val, name} {
					valid = valid && utf8.ValidString(s)
				}
				if valid && (format == wootric.JSON || key != "" && !strings.ContainsAny(key, "[]")) {
					t.Fatalf("Encode(%v) refused a valid event: %v", format, err)
				}
				continue
			}
			if _, err := wootric.Decode(body); err != nil {
				t.Fatalf("Decode(Encode(%v)) = %v\nbody: %q", format, err, body)
			}
			assertRoundTrip(t, "fuzzed", e, format)
		}
	})
}

// TestEncodeEscapesAsActiveSupport checks string escapes against what
// ActiveSupport wrote for the rich sample's comment, and the escapes of the
// control characters it writes in short form.
func TestEncodeEscapesAsActiveSupport(t *testing.T) {
	rails := string(readTestdata(t, "rails/response-updated-rich.to_json.json"))
	start := strings.Index(rails, `"text":`)
	want := rails[start : start+strings.Index(rails[start:], `","`)+1]
	e := richResponse(pacific)
	e.Response.EndUserProperties = map[string]string{"c": "\b\f\x01"}
	got, err := wootric.Encode(e, wootric.JSON)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), want) {
		t.Errorf("Encode() = %s\nwant the comment as Rails wrote it: %s", got, want)
	}
	if !strings.Contains(string(got), `"c":"\b\f\u0001"`) {
		t.Errorf(`Encode() = %s, want "c":"\b\f\u0001"`, got)
	}
}
