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
	kind, o, err := checkEvent(e, f)
	if err != nil {
		return nil, err
	}
	switch f {
	case JSON:
		return encodeJSON(e, kind, o), nil
	case Form:
		return encodeForm(e, kind, o), nil
	}
	return nil, fmt.Errorf("%w: unknown format %d", ErrInvalidEvent, int(f))
}

// recordOf returns the response or decline of e, which must have one, as
// the decoder's record of it.
func recordOf(e *Event) (objectKind, record) {
	if r := e.Response; r != nil {
		return responseObject, record{id: r.ID, endUserID: r.EndUserID, surveyID: r.SurveyID,
			score: r.Score, email: r.Email, externalID: r.ExternalID, text: r.Text, ip: r.IPAddress,
			origin: r.OriginURL, props: r.EndUserProperties, createdAt: r.CreatedAt, updatedAt: r.UpdatedAt,
			excluded: r.ExcludedFromCalculations}
	}
	d := e.Decline
	return declineObject, record{id: d.ID, endUserID: d.EndUserID, surveyID: d.SurveyID,
		email: d.Email, externalID: d.ExternalID, ip: d.IPAddress, origin: d.OriginURL,
		props: d.EndUserProperties, createdAt: d.CreatedAt, updatedAt: d.UpdatedAt}
}

// checkEvent returns e's object if Encode can encode e in f, and otherwise
// why not.
func checkEvent(e *Event, f Format) (objectKind, record, error) {
	switch {
	case e == nil:
		return noObject, record{}, fmt.Errorf("%w: nil", ErrInvalidEvent)
	case (e.Response == nil) == (e.Decline == nil):
		return noObject, record{}, fmt.Errorf("%w: want exactly one of Response and Decline", ErrInvalidEvent)
	case e.Name == "":
		return noObject, record{}, fmt.Errorf("%w: empty Name", ErrInvalidEvent)
	}
	kind, o := recordOf(e)
	if e.Type != "" && e.Type != eventType(kind, e.Name) {
		return kind, o, fmt.Errorf("%w: Type %q is not %s.%s", ErrInvalidEvent, e.Type, kind, e.Name)
	}
	texts := []string{e.Name, e.AccountToken, string(e.SurveyMode), o.email, o.externalID, o.text, o.ip, o.origin}
	for k, v := range o.props {
		texts = append(texts, k, v)
		if f == Form && (k == "" || !bracketsBalance(k)) {
			return kind, o, fmt.Errorf("%w: a form cannot carry an end-user property whose name is empty or has brackets that do not balance", ErrInvalidEvent)
		}
	}
	for _, s := range texts {
		if !utf8.ValidString(s) {
			return kind, o, fmt.Errorf("%w: text that is not UTF-8", ErrInvalidEvent)
		}
	}
	for _, t := range []time.Time{e.Timestamp, o.createdAt, o.updatedAt} {
		if _, off := t.Zone(); !t.IsZero() && (t.Year() < 0 || t.Year() > 9999 || off%60 != 0 || off <= -24*3600 || off >= 24*3600) {
			return kind, o, fmt.Errorf("%w: a time outside years 0 to 9999 or with an offset not in whole minutes under 24 hours", ErrInvalidEvent)
		}
	}
	return kind, o, nil
}

func encodeJSON(e *Event, kind objectKind, o record) []byte {
	b := make([]byte, 0, 640)
	b = append(b, `{"`...)
	b = append(b, kind.String()...)
	b = append(b, `":{"id":`...)
	b = strconv.AppendInt(b, o.id, 10)
	b = jsonField(b, "email", o.email)
	b = jsonField(b, "external_id", o.externalID)
	if kind == responseObject {
		b = append(b, `,"score":`...)
		b = strconv.AppendInt(b, int64(o.score), 10)
		b = jsonField(b, "text", o.text)
	}
	b = jsonField(b, "ip_address", o.ip)
	b = jsonField(b, "origin_url", o.origin)
	b = append(b, `,"end_user_id":`...)
	b = strconv.AppendInt(b, o.endUserID, 10)
	b = append(b, `,"end_user_properties":{`...)
	for i, k := range sortedKeys(o.props) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k, true)
		b = append(b, ':')
		b = appendJSONString(b, o.props[k], true)
	}
	b = append(b, `},"survey_id":`...)
	b = strconv.AppendInt(b, o.surveyID, 10)
	b = jsonTime(b, "created_at", o.createdAt)
	b = jsonTime(b, "updated_at", o.updatedAt)
	if kind == responseObject {
		b = append(b, `,"excluded_from_calculations":`...)
		b = strconv.AppendBool(b, o.excluded)
	}
	b = append(b, `},"event_name":`...)
	b = appendJSONString(b, e.Name, true)
	b = jsonTime(b, "timestamp", e.Timestamp)
	b = jsonField(b, "account_token", e.AccountToken)
	b = jsonField(b, "survey_mode", string(e.SurveyMode))
	return append(b, '}')
}

// jsonField appends ,"name":"s", or null for "".
func jsonField(b []byte, name, s string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s, true)
}

// jsonTime appends ,"name":"2016-08-04T13:57:26.558-07:00", or null for the
// zero time.
func jsonTime(b []byte, name string, t time.Time) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	return append(b, '"')
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

func encodeForm(e *Event, kind objectKind, o record) []byte {
	name := kind.String()
	var pairs []string
	add := func(key, value string) {
		// url.QueryEscape escapes as Ruby's CGI.escape: all but letters,
		// digits and "_.-~" as %XX, and spaces as "+".
		pairs = append(pairs, url.QueryEscape(key)+"="+url.QueryEscape(value))
	}
	field := func(f, value string) { add(name+"["+f+"]", value) }
	field("id", strconv.FormatInt(o.id, 10))
	field("email", o.email)
	field("external_id", o.externalID)
	if kind == responseObject {
		field("score", strconv.Itoa(o.score))
		field("text", o.text)
		field("excluded_from_calculations", strconv.FormatBool(o.excluded))
	}
	field("ip_address", o.ip)
	field("origin_url", o.origin)
	field("end_user_id", strconv.FormatInt(o.endUserID, 10))
	for k, v := range o.props {
		field("end_user_properties]["+k, v)
	}
	field("survey_id", strconv.FormatInt(o.surveyID, 10))
	field("created_at", rubyTime(o.createdAt))
	field("updated_at", rubyTime(o.updatedAt))
	add("event_name", e.Name)
	add("timestamp", rubyTime(e.Timestamp))
	add("account_token", e.AccountToken)
	add("survey_mode", string(e.SurveyMode))
	sort.Strings(pairs) // as to_query does
	return []byte(strings.Join(pairs, "&"))
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
