package wootric_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/wootric-go/wootric"
)

// TestLookup reads fields beyond the model from a JSON body and from the
// form Rails' to_query writes for the same event: both give the same.
func TestLookup(t *testing.T) {
	const (
		jsonBody = `{"response":{"id":1,"score":9,"notes":[{"id":7,"text":"Called back"},{"id":8,"text":null}],` +
			`"end_user":{"id":30,"properties":{"plan":"Pro","seats":12}},"driver_picklist":{"Ease of use":"true"}},` +
			`"survey":{"channel":"web","language":"fr","tags":["a b","c"],"empty":{},"none":[]},` +
			`"event_name":"created","metric_type":"nps","version":2,"flag":false}`
		formBody = "event_name=created&flag=false&metric_type=nps" +
			"&response%5Bdriver_picklist%5D%5BEase+of+use%5D=true" +
			"&response%5Bend_user%5D%5Bid%5D=30&response%5Bend_user%5D%5Bproperties%5D%5Bplan%5D=Pro&response%5Bend_user%5D%5Bproperties%5D%5Bseats%5D=12" +
			"&response%5Bid%5D=1" +
			"&response%5Bnotes%5D%5B%5D%5Bid%5D=7&response%5Bnotes%5D%5B%5D%5Btext%5D=Called+back&response%5Bnotes%5D%5B%5D%5Bid%5D=8&response%5Bnotes%5D%5B%5D%5Btext%5D=" +
			"&response%5Bscore%5D=9" +
			"&survey%5Bchannel%5D=web&survey%5Blanguage%5D=fr&survey%5Btags%5D%5B%5D=a+b&survey%5Btags%5D%5B%5D=c" +
			"&version=2"
	)
	tests := []struct {
		name string
		path []string
		want string
		ok   bool
	}{
		{"a top-level field", []string{"metric_type"}, "nps", true},
		{"a number is its literal", []string{"version"}, "2", true},
		{"a boolean is its literal", []string{"flag"}, "false", true},
		{"a field of another object", []string{"survey", "channel"}, "web", true},
		{"a field of the response", []string{"response", "end_user", "properties", "plan"}, "Pro", true},
		{"a modelled field too", []string{"response", "score"}, "9", true},
		{"a name with spaces", []string{"response", "driver_picklist", "Ease of use"}, "true", true},
		{"an array's item by index", []string{"survey", "tags", "1"}, "c", true},
		{"into an array of objects", []string{"response", "notes", "0", "text"}, "Called back", true},
		{"null is empty", []string{"response", "notes", "1", "text"}, "", true},
		{"an array as text", []string{"survey", "tags"}, `["a b","c"]`, true},
		{"an object as text, keys sorted", []string{"response", "end_user"}, `{"id":"30","properties":{"plan":"Pro","seats":"12"}}`, true},
		{"an array of objects as text", []string{"response", "notes"}, `[{"id":"7","text":"Called back"},{"id":"8","text":""}]`, true},
		{"an absent field", []string{"survey", "mode"}, "", false},
		{"an absent top-level field", []string{"nothing"}, "", false},
		{"an index out of range", []string{"survey", "tags", "2"}, "", false},
		{"an index that is not decimal", []string{"survey", "tags", "01"}, "", false},
		{"a key of an array", []string{"survey", "tags", "x"}, "", false},
		{"through a value", []string{"survey", "channel", "x"}, "", false},
		{"no path", nil, "", false},
	}
	for _, format := range []struct{ name, body string }{{"json", jsonBody}, {"form", formBody}} {
		e, err := wootric.Decode([]byte(format.body))
		if err != nil {
			t.Fatalf("Decode(%s) = %v", format.name, err)
		}
		for _, tc := range tests {
			if got, ok := e.Lookup(tc.path...); got != tc.want || ok != tc.ok {
				t.Errorf("%s: %s: Lookup(%q) = %q, %v, want %q, %v", format.name, tc.name, tc.path, got, ok, tc.want, tc.ok)
			}
		}
	}
}

// TestLookupAsRailsReads covers the shapes where a body's keys collide:
// the last counts, and a form conflict Rack refuses has no value.
func TestLookupAsRailsReads(t *testing.T) {
	base := "response[id]=1&response[score]=9&event_name=created&"
	tests := []struct {
		name string
		body string
		path []string
		want string
		ok   bool
	}{
		{"json key given twice: the last", `{"response":{"id":1,"score":9},"event_name":"created","x":{"a":1},"x":{"b":2}}`, []string{"x"}, `{"b":"2"}`, true},
		{"json member given twice: the last", `{"response":{"id":1,"score":9},"event_name":"created","x":{"a":1,"a":[2]}}`, []string{"x", "a", "0"}, "2", true},
		{"json empty object and array", `{"response":{"id":1,"score":9},"event_name":"created","x":{"a":{},"b":[]}}`, []string{"x"}, `{"a":{},"b":[]}`, true},
		{"json nested array", `{"response":{"id":1,"score":9},"event_name":"created","x":[[1,null],"é\n"]}`, []string{"x"}, `[["1",""],"é\n"]`, true},
		{"form value given twice: the last", base + "x=1&x=2", []string{"x"}, "2", true},
		{"form value replaces a hash", base + "x[a]=1&x=2", []string{"x"}, "2", true},
		{"form value replaces an array", base + "x[]=1&x=2", []string{"x"}, "2", true},
		{"form hash under a value is refused", base + "x=2&x[a]=1", []string{"x"}, "", false},
		{"form array under a hash is refused", base + "x[a]=1&x[]=2", []string{"x"}, "", false},
		{"form nested through a value is refused", base + "x[a]=1&x[a][b]=2", []string{"x", "a"}, "", false},
		{"form items group into hashes as Rack groups them", base + "x[][a]=1&x[][b]=2&x[][a]=3", []string{"x"}, `[{"a":"1","b":"2"},{"a":"3"}]`, true},
		{"form key without a value", base + "x[a]&x[b]=", []string{"x"}, `{"a":"","b":""}`, true},
		{"form name with brackets", base + "x%5BPlan+%5Bbeta%5D%5D=Gold", []string{"x", "Plan [beta]"}, "Gold", true},
		{"form unbalanced key as Rack reads it", base + "x[a]b]=1", []string{"x", "a", "b"}, "1", true},
		{"not a body Decode accepts", "x=%zz", []string{"x"}, "", false},
	}
	for _, tc := range tests {
		e := &wootric.Event{Raw: []byte(tc.body)}
		if got, ok := e.Lookup(tc.path...); got != tc.want || ok != tc.ok {
			t.Errorf("%s: Lookup(%q) = %q, %v, want %q, %v", tc.name, tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

// TestLookupAgreesAcrossRailsVariants reads the rich sample's unmodelled
// fields from every body Rails and Rack wrote for it (testdata/rails):
// JSON compact and pretty, to_query and build_nested_query.
func TestLookupAgreesAcrossRailsVariants(t *testing.T) {
	files, _ := filepath.Glob("testdata/rails/response-updated-rich.*")
	paths := map[string]string{
		"response/survey":                                `{"Label [x]":"draft","id":"1","name":"Q3"}`,
		"response/survey/Label [x]":                      "draft",
		"response/tags/0":                                "promoter",
		"response/end_user_properties/address/city":      "San Francisco",
		"response/end_user_properties/tags":              `["a b","c&d"]`,
		"response/end_user_properties/Ease of use [app]": "9",
		"response/end_user_properties/mrr":               "12.5",
		"response/end_user_properties/trial":             "true",
		"response/end_user_properties/nickname":          "",
		"account_token":                                  "NPS-EU-1a2b3c4d",
	}
	n := 0
	for _, file := range files {
		if strings.Contains(file, "nonstandard") || strings.Contains(file, "precision") {
			continue
		}
		e, err := wootric.Decode(readTestdata(t, strings.TrimPrefix(file, "testdata/")))
		if err != nil {
			t.Fatalf("Decode(%s) = %v", file, err)
		}
		n++
		for path, want := range paths {
			if got, ok := e.Lookup(strings.Split(path, "/")...); got != want || !ok {
				t.Errorf("%s: Lookup(%s) = %q, %v, want %q", file, path, got, ok, want)
			}
		}
	}
	if n < 4 {
		t.Errorf("read %d variants, want 4 or more", n)
	}
}

// FuzzLookup reads any body along any path: never a panic, and for a JSON
// body, what encoding/json reads there, every value as text.
func FuzzLookup(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[1,{"c":null}],"b":[true]}}`), "a", "b", "0")
	f.Add([]byte("a[b][][c]=1&a[b][][c]=2&a[b]=x"), "a", "b", "0")
	f.Add([]byte("a[x%5By%5D]=1&a=&a[]"), "a", "x[y]", "")
	f.Fuzz(func(t *testing.T, body []byte, p0, p1, p2 string) {
		e := &wootric.Event{Raw: body}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		isJSON := dec.Decode(&m) == nil && !dec.More()
		for _, path := range [][]string{{p0}, {p0, p1}, {p0, p1, p2}} {
			got, ok := e.Lookup(path...)
			if !ok {
				if got != "" {
					t.Fatalf("Lookup(%q) = %q, false", path, got)
				}
				continue
			}
			if !isJSON {
				continue
			}
			want, found := jsonAt(m, path)
			if !found {
				t.Fatalf("Lookup(%q) = %q in %q, where encoding/json finds nothing", path, got, body)
			}
			if s, isText := want.(string); isText {
				if got != s {
					t.Fatalf("Lookup(%q) = %q, want %q", path, got, s)
				}
				continue
			}
			var g any
			if err := json.Unmarshal([]byte(got), &g); err != nil || !reflect.DeepEqual(g, want) {
				t.Fatalf("Lookup(%q) = %q, want %#v", path, got, want)
			}
		}
	})
}

// jsonAt returns the value at path in m as Lookup gives it: every number,
// boolean and null as text.
func jsonAt(m map[string]any, path []string) (any, bool) {
	var v any = m
	for _, step := range path {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[step]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(step)
			if err != nil || i < 0 || i >= len(x) || strconv.Itoa(i) != step {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return asText(v), true
}

func asText(v any) any {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return string(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = asText(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = asText(e)
		}
		return a
	}
	return v
}
