package wootric

import (
	"math/bits"
	"strings"
	"time"
)

// MaxDepth is how deeply a body may nest before [Decode] refuses it: a JSON
// body's objects and arrays, or a form key's name and bracketed segments
// ("response[end_user_properties][plan]" is 3). Wootric's own payloads nest
// 3 deep; the rest is room for nested end-user properties. Rack allows 100.
const MaxDepth = 10

// Decode decodes a delivery's body into an Event. The body alone decides
// its format: one whose first non-space byte is "{" or "[" is JSON, and any
// other a form, which Rails cannot begin with "{" (its to_query escapes
// it). The request's Content-Type, which the signature does not cover,
// never changes what the bytes mean: a Handler logs a delivery whose
// Content-Type names the other format.
//
// Forms are read as Rack reads them: nested keys such as
// "response[end_user_properties][plan]" with the brackets escaped or not,
// "+" or "%20" for a space, pairs in any order, and a key without "=" or
// with an empty value meaning null. Times are accepted in the forms a Rails
// sender writes them: ISO 8601 as ActiveSupport encodes JSON
// ("2016-08-04T13:57:26.558-07:00", "...Z") and Ruby's Time#to_s
// ("2016-08-04 13:57:26 -0700", "... UTC"), with or without fractional
// seconds; a time without a zone is refused.
//
// A body with neither a response nor a decline, but another top-level
// object, such as {"end_user":{...},"event_name":"created"}, is an event of
// type "end_user.created" with neither Response nor Decline: Wootric may add
// object types, and a receiver must not refuse them. Its name must look like
// a Rails model's (lower-case letters, digits and underscores); with
// several, the first in the body names the type.
//
// Fields this package does not model are ignored, whatever they hold, and
// [Event.Lookup] reads them from Raw. A JSON number or boolean where a
// string is expected is kept as its literal text, in Tags too. Decode
// refuses, with a *[PayloadError] wrapping [ErrMalformedPayload]: a syntax
// error; a body with no object, or both a response and a decline; a
// missing or empty event_name; a response or decline without its id, or a
// response without its score; a number that is not an integer or does not
// fit; a boolean other than true or false; a time in none of the accepted
// forms; tags that are not a list of text; a modelled field given twice
// (a form's list items, such as response[tags][]=a, may come many times);
// invalid UTF-8 in any text; a form key
// whose top-level name holds a "]" or is empty; and nesting deeper than
// [MaxDepth]. A name with brackets inside a key, such as the property
// "Plan [beta]" in "response[end_user_properties][Plan [beta]]", comes back
// as named: brackets are matched by depth, and where they do not balance
// the key is read as Rack reads it.
//
// The Event's Raw field is body itself, not a copy.
func Decode(body []byte) (*Event, error) {
	e, _, err := decode(body)
	return e, err
}

// decode is Decode, and also returns where the value of the top-level
// timestamp is in body, which DedupKey leaves out; zeros if it has none.
func decode(body []byte) (*Event, [2]int, error) {
	return decodeText(string(body), body)
}

// decodeText is decode of text, the body's bytes as a string, which the
// event's strings are slices of: a caller that has made it already
// shares it rather than copy the body twice.
func decodeText(text string, body []byte) (*Event, [2]int, error) {
	d := decoder{s: text}
	var err error
	if FormatOf(body) == JSON {
		err = d.decodeJSON()
	} else {
		err = d.decodeForm()
	}
	if err != nil {
		return nil, [2]int{}, err
	}
	e, err := d.event(body)
	return e, d.stamp, err
}

// FormatOf returns the format Decode reads body as: JSON if its first
// non-space byte is "{" or "[", and Form otherwise, which Rails' to_query
// cannot begin with "{". The Content-Type a body came with plays no part.
func FormatOf(body []byte) Format {
	for _, c := range body {
		if !isSpace(c) {
			if c == '{' || c == '[' {
				return JSON
			}
			break
		}
	}
	return Form
}

// declaredJSON reports whether contentType names JSON ("application/json",
// or any "+json" type) or a form ("application/x-www-form-urlencoded"),
// parameters such as charset allowed, and which; known is false for any
// other type.
func declaredJSON(contentType string) (json, known bool) {
	mt := mediaType(contentType)
	switch {
	case equalFold(mt, "application/json"), len(mt) > 5 && equalFold(mt[len(mt)-5:], "+json"):
		return true, true
	case equalFold(mt, "application/x-www-form-urlencoded"):
		return false, true
	}
	return false, false
}

// mediaType returns contentType's type/subtype, without parameters.
func mediaType(contentType string) string {
	for i := 0; i < len(contentType); i++ {
		if contentType[i] == ';' {
			contentType = contentType[:i]
			break
		}
	}
	for len(contentType) > 0 && isSpace(contentType[0]) {
		contentType = contentType[1:]
	}
	for len(contentType) > 0 && isSpace(contentType[len(contentType)-1]) {
		contentType = contentType[:len(contentType)-1]
	}
	return contentType
}

func equalFold(s, lower string) bool {
	return len(s) == len(lower) && hasPrefixFold(s, lower)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// objectKind says which object a payload carries.
type objectKind uint8

const (
	noObject objectKind = iota
	responseObject
	declineObject
)

func (k objectKind) String() string {
	switch k {
	case responseObject:
		return "response"
	case declineObject:
		return "decline"
	}
	return ""
}

// Bits of decoder.top: the top-level fields seen so far.
const (
	topEventName = 1 << iota
	topTimestamp
	topAccountToken
	topSurveyMode
)

// decoder holds the state of one Decode. The JSON and form readers feed it
// values through setTop, setField and setProp, which check and convert them
// the same way for both formats.
type decoder struct {
	s     string // the body
	i     int    // the JSON reader's position in s
	depth int    // the JSON reader's nesting depth
	// unescaped holds the text of every string that had escapes, one
	// after another. Each such string is a slice of it, so that unescaping
	// allocates once per body, not once per string, and only what the
	// result holds. It never holds more bytes than the body.
	unescaped strings.Builder

	top       uint8
	name      string
	timestamp time.Time
	stamp     [2]int // where the timestamp's value is in the body
	account   string
	mode      string

	kind       objectKind
	kindOff    int    // where the object began
	other      string // the first other top-level object's name, see isObjectName
	objectKeys uint8  // the JSON reader's object keys seen, a bit per kind
	// ev is the event, allocated with its response or decline when the
	// object begins; the decoder sets the object's fields in place.
	ev     *Event
	seen   uint32 // the object's fields seen so far, bit i for fields[i]
	listed uint32 // the fields of seen that came as a form's list items
	props  map[string]string

	nested map[string]*formNode // the form reader's nested end-user properties
}

// valueKind says what a value was in the body. JSON values are typed; form
// values are all text, typed by the field they are given to.
type valueKind uint8

const (
	valueNull   valueKind = iota // JSON null, or a form key without "="
	valueString                  // a JSON string
	valueNumber                  // a JSON number, s is its literal
	valueBool                    // a JSON true or false, s is its literal
	valueObject                  // a JSON object or array, s is its raw text
	valueText                    // a form value
)

type value struct {
	kind valueKind
	s    string
	off  int // where the value began in the body
}

// isNull reports whether v means null: JSON null, a form key without "=",
// or an empty form value, which is how Rails' to_query writes nil.
func (v value) isNull() bool {
	return v.kind == valueNull || v.kind == valueText && v.s == ""
}

func (d *decoder) errAt(off int, field, reason string) error {
	return &PayloadError{Field: field, Offset: off, Reason: reason}
}

// fieldErr refuses v as the value of fields[i] of the response or decline.
func (d *decoder) fieldErr(v value, i int, reason string) error {
	return d.errAt(v.off, d.kind.String()+"."+fields[i].name, reason)
}

// topBit returns the bit of a modelled top-level field, 0 for others.
func topBit(name string) uint8 {
	switch name {
	case "event_name":
		return topEventName
	case "timestamp":
		return topTimestamp
	case "account_token":
		return topAccountToken
	case "survey_mode":
		return topSurveyMode
	}
	return 0
}

var topNames = [...]string{"event_name", "timestamp", "account_token", "survey_mode"}

// setTop sets the top-level field bit to v. A zero bit, an unknown field,
// is ignored.
func (d *decoder) setTop(bit uint8, v value) error {
	if bit == 0 {
		return nil
	}
	name := topNames[bits.TrailingZeros8(bit)]
	if d.top&bit != 0 {
		return d.errAt(v.off, name, "given twice")
	}
	d.top |= bit
	var s, reason string
	switch bit {
	case topTimestamp:
		d.timestamp, reason = toTime(v)
	default:
		s, reason = toString(v)
	}
	if reason != "" {
		return d.errAt(v.off, name, reason)
	}
	switch bit {
	case topEventName:
		d.name = s
	case topAccountToken:
		d.account = s
	case topSurveyMode:
		d.mode = s
	}
	return nil
}

// beginObject records that the body's object is kind, found at off, and
// allocates the event with it: one allocation holds both.
func (d *decoder) beginObject(kind objectKind, off int) error {
	switch d.kind {
	case noObject:
	case kind:
		return d.errAt(off, kind.String(), "given twice")
	default:
		return d.errAt(off, "", "both a response and a decline")
	}
	d.kind, d.kindOff = kind, off
	if kind == responseObject {
		x := &struct {
			e Event
			r Response
		}{}
		x.e.Response = &x.r
		d.ev = &x.e
	} else {
		x := &struct {
			e Event
			d Decline
		}{}
		x.e.Decline = &x.d
		d.ev = &x.e
	}
	return nil
}

// see records that the object's field i has a value, and refuses one
// given twice.
func (d *decoder) see(i int, v value) error {
	bit := uint32(1) << i
	if d.seen&bit != 0 {
		return d.fieldErr(v, i, "given twice")
	}
	d.seen |= bit
	return nil
}

// setField sets the object's field i to v. An i of -1, a field unknown or
// one the object does not have, is ignored.
func (d *decoder) setField(i int, v value) error {
	if i < 0 {
		return nil
	}
	if err := d.see(i, v); err != nil {
		return err
	}
	var reason string
	switch p := d.ev.field(i).(type) {
	case *int64:
		*p, reason = toInt(v, fields[i].required)
	case *int:
		var n int64
		n, reason = toInt(v, fields[i].required)
		if *p = int(n); int64(*p) != n {
			reason = "integer out of range"
		}
	case *string:
		*p, reason = toString(v)
	case *time.Time:
		*p, reason = toTime(v)
	case *bool:
		*p, reason = toBool(v)
	case *[]string:
		// Only a single value comes here; the readers give a list's
		// items to addItem.
		if !v.isNull() {
			reason = "not a list"
		}
	case *map[string]string:
		// Only a single value comes here; the readers give the members
		// of an object to setProp.
		if !v.isNull() {
			reason = "not an object"
		}
	}
	if reason != "" {
		return d.fieldErr(v, i, reason)
	}
	return nil
}

// addItem appends v to the object's list field i: an element of a JSON
// array (first is true for the array's first), or a form's list item such
// as response[tags][]=a, of which there may be several.
func (d *decoder) addItem(i int, v value, first bool) error {
	bit := uint32(1) << i
	if first || d.listed&bit == 0 {
		if err := d.see(i, v); err != nil {
			return err
		}
		d.listed |= bit
	}
	p, _ := d.ev.field(i).(*[]string)
	if p == nil { // not a list: refused as setField refuses it
		return d.fieldErr(v, i, "not a single value")
	}
	text, reason := toString(v)
	if reason != "" {
		return d.fieldErr(v, i, "not a list of text")
	}
	*p = append(*p, text)
	return nil
}

// setProp sets the end-user property key to text, which the reader has
// already turned into the property's text.
func (d *decoder) setProp(key string, off int, text string) error {
	if d.props == nil {
		d.props = make(map[string]string, 4)
	}
	// One hash of the key: a property given twice leaves the map's size
	// as it was, and the event is refused whatever it holds.
	n := len(d.props)
	if d.props[key] = text; len(d.props) == n {
		return d.errAt(off, d.kind.String()+".end_user_properties", "a property given twice")
	}
	return nil
}

// The conversions below return the reason v does not fit, or "".

func toString(v value) (string, string) {
	switch v.kind {
	case valueNull:
		return "", ""
	case valueObject:
		return "", "not a string"
	}
	return v.s, ""
}

// toInt converts v to an integer. A null is 0, or refused if required.
func toInt(v value, required bool) (int64, string) {
	switch {
	case v.isNull() && required:
		return 0, "missing"
	case v.isNull():
		return 0, ""
	case v.kind == valueNumber, v.kind == valueText:
		return parseInt(v.s)
	}
	return 0, "not an integer"
}

// parseInt parses a decimal integer with an optional sign, as
// strconv.ParseInt(s, 10, 64) does, and returns why it is refused, or "".
func parseInt(s string) (int64, string) {
	i, neg := 0, false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		i, neg = 1, s[0] == '-'
	}
	if i == len(s) {
		return 0, "not an integer"
	}
	var n uint64
	for ; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, "not an integer"
		}
		if n > 1<<63/10 {
			return 0, "integer out of range"
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<63 || n == 1<<63 && !neg {
		return 0, "integer out of range"
	}
	if neg {
		return -int64(n), ""
	}
	return int64(n), ""
}

func toBool(v value) (bool, string) {
	if v.isNull() {
		return false, ""
	}
	if v.kind == valueBool || v.kind == valueText {
		switch v.s {
		case "true":
			return true, ""
		case "false":
			return false, ""
		}
	}
	return false, "not true or false"
}

func toTime(v value) (time.Time, string) {
	var t time.Time
	ok := false
	switch {
	case v.isNull():
		return time.Time{}, ""
	case v.kind == valueString || v.kind == valueText:
		t, ok = parseTime(v.s)
	}
	if !ok {
		return time.Time{}, "not a time as Rails sends it"
	}
	return t, ""
}

// isObjectName reports whether a top-level key may name an object type
// Wootric does not document yet, such as "end_user": like a Rails model's,
// 1 to 64 lower-case letters, digits and underscores, beginning with a
// letter. The name becomes part of the event's type, which is logged, so
// nothing else is taken.
func isObjectName(name string) bool {
	if len(name) == 0 || len(name) > 64 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// noteObject records key as the body's other object, if it is the first
// that may be one.
func (d *decoder) noteObject(key string) {
	if d.other == "" && topBit(key) == 0 && isObjectName(key) {
		d.other = key
	}
}

// event checks that the body held a whole event and returns it.
func (d *decoder) event(raw []byte) (*Event, error) {
	end := len(d.s)
	if d.top&topEventName == 0 {
		return nil, d.errAt(end, "event_name", "missing")
	}
	if d.name == "" {
		return nil, d.errAt(end, "event_name", "empty")
	}
	if d.kind == noObject && d.other != "" {
		// An object type this package does not model: an event all the
		// same, so that a Handler acknowledges it or runs its callbacks,
		// rather than refuse every delivery of it.
		e := &Event{}
		d.fillEvent(e, raw)
		e.Type = EventType(d.other + "." + d.name)
		return e, nil
	}
	if d.kind == noObject {
		return nil, d.errAt(end, "", "no object: neither a response, a decline nor another")
	}
	for i := range fields {
		if fields[i].required && d.seen&(1<<i) == 0 && d.ev.field(i) != nil {
			return nil, d.errAt(d.kindOff, d.kind.String()+"."+fields[i].name, "missing")
		}
	}
	d.finishNested()
	if d.props == nil {
		d.props = map[string]string{}
	}
	*d.ev.field(propsField).(*map[string]string) = d.props
	d.fillEvent(d.ev, raw)
	return d.ev, nil
}

func (d *decoder) fillEvent(e *Event, raw []byte) {
	e.Type = eventType(d.kind, d.name)
	e.Name = d.name
	e.Timestamp = d.timestamp
	e.AccountToken = d.account
	e.SurveyMode = surveyMode(d.mode)
	e.Raw = raw
}

func eventType(kind objectKind, name string) EventType {
	switch {
	case kind == responseObject && name == "created":
		return ResponseCreated
	case kind == responseObject && name == "updated":
		return ResponseUpdated
	case kind == declineObject && name == "created":
		return DeclineCreated
	}
	return EventType(kind.String() + "." + name)
}
