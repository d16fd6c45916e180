package wootric

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Format is the encoding of a delivery's body, which a Wootric account
// chooses when it sets up its webhook.
type Format int

const (
	// JSON is ActiveSupport's JSON encoding.
	JSON Format = iota + 1
	// Form is Rails' URL encoding of nested parameters (Hash#to_query).
	Form
)

// ContentType returns the Content-Type a sender gives a body of format f.
func (f Format) ContentType() string {
	if f == Form {
		return "application/x-www-form-urlencoded"
	}
	return "application/json"
}

// String returns "json" or "form".
func (f Format) String() string {
	switch f {
	case JSON:
		return "json"
	case Form:
		return "form"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// Encode returns the body Wootric would send for e, the inverse of [Decode].
//
// As JSON it is ActiveSupport's encoding: the object first, its fields in
// the documentation's order, times with milliseconds and the event's offset
// ("2016-08-04T13:57:26.558-07:00"), "<", ">" and "&" escaped as ActiveSupport
// escapes them. As a form it is Rails' to_query: pairs sorted, brackets and
// other reserved characters escaped, "+" for spaces, times as Ruby prints
// them ("2016-08-04 13:57:26 -0700", whole seconds). In both, an empty
// string and a zero time are sent as null, and end-user properties as
// strings, in key order.
//
// Decode(Encode(e)) equals e, but for Raw, and for times below the
// millisecond in JSON and below the second in a form. Encode refuses, with
// an error wrapping [ErrInvalidEvent], an event with neither or both of
// Response and Decline, an empty Name, a Type other than the object's name,
// a dot and Name, text that is not valid UTF-8, a time outside the years 0
// to 9999 or whose offset is not in whole minutes, and, in a form, a
// property name that is empty or holds a bracket, which no form can carry.
func Encode(e *Event, f Format) ([]byte, error) {
	kind, err := checkEvent(e, f)
	if err != nil {
		return nil, err
	}
	switch f {
	case JSON:
		return encodeJSON(e, kind), nil
	case Form:
		return encodeForm(e, kind), nil
	}
	return nil, fmt.Errorf("%w: unknown format %d", ErrInvalidEvent, int(f))
}

// checkEvent returns e's object if Encode can encode e in f, and otherwise
// why not.
func checkEvent(e *Event, f Format) (objectKind, error) {
	switch {
	case e == nil:
		return noObject, fmt.Errorf("%w: nil", ErrInvalidEvent)
	case (e.Response == nil) == (e.Decline == nil):
		return noObject, fmt.Errorf("%w: want exactly one of Response and Decline", ErrInvalidEvent)
	case e.Name == "":
		return noObject, fmt.Errorf("%w: empty Name", ErrInvalidEvent)
	}
	kind := declineObject
	if e.Response != nil {
		kind = responseObject
	}
	if e.Type != "" && e.Type != eventType(kind, e.Name) {
		return kind, fmt.Errorf("%w: Type %q is not %s.%s", ErrInvalidEvent, e.Type, kind, e.Name)
	}
	texts := []string{e.Name, e.AccountToken, string(e.SurveyMode)}
	times := []time.Time{e.Timestamp}
	for i := range fields {
		switch p := e.field(i).(type) {
		case *string:
			texts = append(texts, *p)
		case *[]string:
			texts = append(texts, *p...)
		case *time.Time:
			times = append(times, *p)
		case *map[string]string:
			for k, v := range *p {
				texts = append(texts, k, v)
				if f == Form && (k == "" || !bracketsBalance(k)) {
					return kind, fmt.Errorf("%w: a form cannot carry an end-user property whose name is empty or has brackets that do not balance", ErrInvalidEvent)
				}
			}
		}
	}
	for _, s := range texts {
		if !utf8.ValidString(s) {
			return kind, fmt.Errorf("%w: text that is not UTF-8", ErrInvalidEvent)
		}
	}
	for _, t := range times {
		if _, off := t.Zone(); !t.IsZero() && (t.Year() < 0 || t.Year() > 9999 || off%60 != 0 || off <= -24*3600 || off >= 24*3600) {
			return kind, fmt.Errorf("%w: a time outside years 0 to 9999 or with an offset not in whole minutes under 24 hours", ErrInvalidEvent)
		}
	}
	return kind, nil
}

func encodeJSON(e *Event, kind objectKind) []byte {
	b := make([]byte, 0, 640)
	b = append(b, `{"`...)
	b = append(b, kind.String()...)
	b = append(b, `":{`...)
	n := 0
	for i := range fields {
		p := e.field(i)
		if p == nil || fields[i].extra && !isSet(p) {
			continue
		}
		if n++; n > 1 {
			b = append(b, ',')
		}
		b = jsonValue(jsonKey(b, fields[i].name), p)
	}
	b = append(b, `},"event_name":`...)
	b = appendJSONString(b, e.Name, true)
	b = jsonValue(jsonKey(append(b, ','), "timestamp"), &e.Timestamp)
	b = jsonValue(jsonKey(append(b, ','), "account_token"), &e.AccountToken)
	mode := string(e.SurveyMode)
	b = jsonValue(jsonKey(append(b, ','), "survey_mode"), &mode)
	return append(b, '}')
}

// jsonKey appends "name":.
func jsonKey(b []byte, name string) []byte {
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// jsonValue appends the value p points to, a field's, as ActiveSupport
// encodes it: "" and the zero time as null, times as
// "2016-08-04T13:57:26.558-07:00", properties as strings in key order.
func jsonValue(b []byte, p any) []byte {
	switch p := p.(type) {
	case *int64:
		return strconv.AppendInt(b, *p, 10)
	case *int:
		return strconv.AppendInt(b, int64(*p), 10)
	case *bool:
		return strconv.AppendBool(b, *p)
	case *string:
		if *p == "" {
			return append(b, "null"...)
		}
		return appendJSONString(b, *p, true)
	case *time.Time:
		if p.IsZero() {
			return append(b, "null"...)
		}
		b = append(b, '"')
		b = p.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		return append(b, '"')
	case *[]string:
		b = append(b, '[')
		for i, s := range *p {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s, true)
		}
		return append(b, ']')
	case *map[string]string:
		b = append(b, '{')
		for i, k := range sortedKeys(*p) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k, true)
			b = append(b, ':')
			b = appendJSONString(b, (*p)[k], true)
		}
		return append(b, '}')
	}
	panic("wootric: a field of a type jsonValue does not know") // see TestFieldTable
}

// appendJSONString appends s, valid UTF-8, as a JSON string with the
// escapes JSON requires: the canonical form Decode gives nested properties.
// With activeSupport, it escapes as ActiveSupport's encoder does: also <, >,
// &, U+2028 and U+2029 as \u escapes, and backspace and form feed as \b and
// \f.
func appendJSONString(b []byte, s string, activeSupport bool) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case activeSupport && c == '\b':
			b = append(b, '\\', 'b')
		case activeSupport && c == '\f':
			b = append(b, '\\', 'f')
		case c < 0x20, activeSupport && (c == '<' || c == '>' || c == '&'):
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		case activeSupport && strings.HasPrefix(s[i:], "\u2028"), activeSupport && strings.HasPrefix(s[i:], "\u2029"):
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[s[i+2]-0xa0])
			i += 2
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func encodeForm(e *Event, kind objectKind) []byte {
	var pairs []string
	add := func(key, value string) {
		// url.QueryEscape escapes as Ruby's CGI.escape: all but letters,
		// digits and "_.-~" as %XX, and spaces as "+".
		pairs = append(pairs, url.QueryEscape(key)+"="+url.QueryEscape(value))
	}
	for i := range fields {
		p := e.field(i)
		if p == nil || fields[i].extra && !isSet(p) {
			continue
		}
		key := kind.String() + "[" + fields[i].name + "]"
		switch p := p.(type) {
		case *[]string:
			// An array's items stay in order: to_query sorts the
			// array's pairs as one, joined.
			items := make([]string, len(*p))
			for i, s := range *p {
				items[i] = url.QueryEscape(key+"[]") + "=" + url.QueryEscape(s)
			}
			pairs = append(pairs, strings.Join(items, "&"))
		case *map[string]string:
			for k, v := range *p {
				add(key+"["+k+"]", v)
			}
		default:
			add(key, formValue(p))
		}
	}
	add("event_name", e.Name)
	add("timestamp", formValue(&e.Timestamp))
	add("account_token", e.AccountToken)
	add("survey_mode", string(e.SurveyMode))
	sort.Strings(pairs) // as to_query does
	return []byte(strings.Join(pairs, "&"))
}

// formValue returns the single value p points to, a field's, as to_query
// writes it: times as Ruby prints them, and the zero time as nil, "".
func formValue(p any) string {
	switch p := p.(type) {
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *int:
		return strconv.Itoa(*p)
	case *bool:
		return strconv.FormatBool(*p)
	case *string:
		return *p
	case *time.Time:
		return rubyTime(*p)
	}
	panic("wootric: a field of a type formValue does not know") // see TestFieldTable
}

// rubyTime formats t as Ruby's Time#to_s: "2016-08-04 13:57:26 -0700", or
// "... UTC" in UTC; "" for the zero time, which to_query sends as nil.
func rubyTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if _, off := t.Zone(); off == 0 {
		return t.Format("2006-01-02 15:04:05") + " UTC"
	}
	return t.Format("2006-01-02 15:04:05 -0700")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
