package wootric

import (
	"strconv"
	"strings"
	"time"
)

// EventType names an event: the payload's object ("response" or "decline"),
// a dot and its event_name, such as "response.created". Types this package
// has no constant for, such as a future "response.deleted", are valid too.
type EventType string

// maxName is the longest event type or account token printed as it is,
// and the most of any other value from a payload that quoteCut quotes.
const maxName = 64

// String returns t as it is when it has the shape of a type: an object and
// an event name, each of lower-case letters, digits and underscores, joined
// by a dot, in at most 64 bytes. It returns any other t quoted as a Go
// string, cut after 64 bytes with "..." after the quotes, so that a type
// read from a payload, printed or logged, cannot break a line, reach a
// terminal as a control sequence, or fill a log.
func (t EventType) String() string {
	if t.wellFormed() {
		return string(t)
	}
	return quoteCut(string(t))
}

// quoteCut returns s quoted as a Go string, cut after maxName bytes
// with "..." after the quotes: a value from a payload, made safe to print.
func quoteCut(s string) string {
	if len(s) > maxName {
		return strconv.Quote(s[:maxName]) + "..."
	}
	return strconv.Quote(s)
}

// wellFormed reports whether t has the shape of a type, as String says.
func (t EventType) wellFormed() bool {
	object, name, ok := strings.Cut(string(t), ".")
	return ok && len(t) <= maxName && isWord(object) && isWord(name)
}

// isWord reports whether s is a non-empty run of lower-case letters,
// digits and underscores.
func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// The event types Wootric documents.
const (
	// ResponseCreated: an end user answered a survey.
	ResponseCreated EventType = "response.created"
	// ResponseUpdated: an end user changed the score or added a comment.
	ResponseUpdated EventType = "response.updated"
	// DeclineCreated: an end user dismissed a survey.
	DeclineCreated EventType = "decline.created"
)

// SurveyMode is the kind of survey an event belongs to, as sent in the
// payload's survey_mode. Decode gives the modes Wootric documents as their
// constants, whatever the case sent ("csat" is CSAT), and keeps others as
// sent.
type SurveyMode string

// The survey modes Wootric documents, with the scores each takes.
const (
	// NPS is Net Promoter Score: "how likely are you to recommend", 0 to 10.
	NPS SurveyMode = "NPS"
	// CES is Customer Effort Score: "how easy was it", 1 to 7.
	CES SurveyMode = "CES"
	// CSAT is Customer Satisfaction: 1 to 5, or 1 to 10 where the account
	// chose that scale.
	CSAT SurveyMode = "CSAT"
)

// surveyMode returns the constant for a documented mode in any case, and
// other modes as sent.
func surveyMode(s string) SurveyMode {
	switch {
	case equalFold(s, "nps"):
		return NPS
	case equalFold(s, "ces"):
		return CES
	case equalFold(s, "csat"):
		return CSAT
	}
	return SurveyMode(s)
}

// NPSCategory is where a Net Promoter Score falls.
type NPSCategory int

// The NPS categories, as Wootric and the NPS method define them.
const (
	Detractor NPSCategory = iota + 1 // a score of 0 to 6
	Passive                          // 7 or 8
	Promoter                         // 9 or 10
)

// String returns "detractor", "passive" or "promoter", or "" for none.
func (c NPSCategory) String() string {
	switch c {
	case Detractor:
		return "detractor"
	case Passive:
		return "passive"
	case Promoter:
		return "promoter"
	}
	return ""
}

// NPSCategory returns the category of e's score if e is a response to an
// NPS survey with a score of 0 to 10, and 0 (no category) otherwise.
func (e *Event) NPSCategory() NPSCategory {
	if e.Response == nil || e.SurveyMode != NPS {
		return 0
	}
	switch s := e.Response.Score; {
	case s >= 0 && s <= 6:
		return Detractor
	case s == 7 || s == 8:
		return Passive
	case s == 9 || s == 10:
		return Promoter
	}
	return 0
}

// Event is one decoded delivery.
//
// Times keep the UTC offset they were sent with; a null or absent time is
// the zero time. A null or absent string is "".
type Event struct {
	// Type is the object's name, a dot and Name: "response.created".
	Type EventType
	// Name is the payload's event_name as sent: "created", "updated".
	Name string
	// Timestamp is when Wootric sent the event.
	Timestamp time.Time
	// AccountToken is the account's token, such as "NPS-xxxxxxxx"; EU
	// and AU accounts' tokens begin "NPS-EU" and "NPS-AU".
	AccountToken string
	// SurveyMode is the survey's kind: NPS, CES or CSAT, whatever the case
	// sent.
	SurveyMode SurveyMode
	// Response is set for response events and nil otherwise.
	Response *Response
	// Decline is set for decline events and nil otherwise.
	Decline *Decline
	// Raw is the body exactly as received (and verified), for the fields
	// this package does not model. It must not be modified.
	Raw []byte
}

// Response is an end user's answer to a survey.
type Response struct {
	ID         int64
	Email      string
	ExternalID string
	Score      int
	// Text is the end user's comment, "" if none.
	Text      string
	IPAddress string
	// OriginURL is the page on which the survey was shown.
	OriginURL string
	EndUserID int64
	// EndUserProperties are the properties the account set on the end user.
	// It is never nil. Values are text: a string as sent, a number or
	// boolean as its JSON literal ("1000", "12.5", "true"), null as "", and
	// an object or array as its compact JSON.
	EndUserProperties map[string]string
	SurveyID          int64
	CreatedAt         time.Time
	UpdatedAt         time.Time
	// ExcludedFromCalculations is true when the response does not count
	// towards the account's score.
	ExcludedFromCalculations bool
	// Completed is true when the end user finished the survey: gave the
	// score and, where asked, the follow-up. Wootric's API documents it;
	// the webhook's samples do not show it, and it is false when absent.
	Completed bool
	// Tags are the tags on the response, nil if there are none: a JSON
	// array of strings (a number or boolean kept as its literal text), or a
	// form's response[tags][] pairs, in the order sent.
	Tags []string
}

// Decline is an end user's dismissal of a survey. Its fields mean what
// [Response]'s fields of the same names mean.
type Decline struct {
	ID                int64
	Email             string
	ExternalID        string
	IPAddress         string
	OriginURL         string
	EndUserID         int64
	EndUserProperties map[string]string
	SurveyID          int64
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// field is a field of a response or a decline that this package models:
// its name in the payload, and where it is in a Response and in a Decline.
// The decoders, Encode and the errors all follow this one table: a new
// field is an entry here and one in the struct, and TestFieldTable checks
// that every exported field of Response and Decline has its entry.
//
// What a field's value may be follows from its Go type: an int64 or int
// is an integer, a string text, a time.Time a time as Rails sends it, a
// bool true or false, a []string a list of text and a map[string]string
// the end-user properties.
type field struct {
	name string
	// required: a response or decline without the field is refused.
	required bool
	// extra: the field is beyond Wootric's documented samples, so Encode
	// writes it only when it is set, and the samples come back unchanged.
	extra bool
	// ofResponse and ofDecline return a pointer to the field in r or d;
	// ofDecline is nil for a field a decline does not have.
	ofResponse func(r *Response) any
	ofDecline  func(d *Decline) any
}

// fields is the model of a response and a decline, in the order of
// Wootric's documented payload, in which Encode writes them.
var fields = [...]field{
	{name: "id", required: true,
		ofResponse: func(r *Response) any { return &r.ID }, ofDecline: func(d *Decline) any { return &d.ID }},
	{name: "email",
		ofResponse: func(r *Response) any { return &r.Email }, ofDecline: func(d *Decline) any { return &d.Email }},
	{name: "external_id",
		ofResponse: func(r *Response) any { return &r.ExternalID }, ofDecline: func(d *Decline) any { return &d.ExternalID }},
	{name: "score", required: true,
		ofResponse: func(r *Response) any { return &r.Score }},
	{name: "text",
		ofResponse: func(r *Response) any { return &r.Text }},
	{name: "ip_address",
		ofResponse: func(r *Response) any { return &r.IPAddress }, ofDecline: func(d *Decline) any { return &d.IPAddress }},
	{name: "origin_url",
		ofResponse: func(r *Response) any { return &r.OriginURL }, ofDecline: func(d *Decline) any { return &d.OriginURL }},
	{name: "end_user_id",
		ofResponse: func(r *Response) any { return &r.EndUserID }, ofDecline: func(d *Decline) any { return &d.EndUserID }},
	{name: "end_user_properties",
		ofResponse: func(r *Response) any { return &r.EndUserProperties }, ofDecline: func(d *Decline) any { return &d.EndUserProperties }},
	{name: "survey_id",
		ofResponse: func(r *Response) any { return &r.SurveyID }, ofDecline: func(d *Decline) any { return &d.SurveyID }},
	{name: "created_at",
		ofResponse: func(r *Response) any { return &r.CreatedAt }, ofDecline: func(d *Decline) any { return &d.CreatedAt }},
	{name: "updated_at",
		ofResponse: func(r *Response) any { return &r.UpdatedAt }, ofDecline: func(d *Decline) any { return &d.UpdatedAt }},
	{name: "excluded_from_calculations",
		ofResponse: func(r *Response) any { return &r.ExcludedFromCalculations }},
	{name: "completed", extra: true,
		ofResponse: func(r *Response) any { return &r.Completed }},
	{name: "tags", extra: true,
		ofResponse: func(r *Response) any { return &r.Tags }},
}

// propsField is the index of end_user_properties in fields, which the
// decoders fill member by member.
var propsField = fieldIndex(responseObject, "end_user_properties")

// fieldSlots finds a field by its name with one comparison: a name's
// slot is fieldSlot(name, mul), and mul is the first multiplier that gives
// every field's name a slot of its own (init looks for it, so that adding a
// field needs no new constant).
var fieldSlots, fieldMul = func() (t [64]int8, mul int) {
	for mul = 1; mul < 256; mul++ {
		t = [64]int8{}
		ok := true
		for i := range fields {
			slot := &t[fieldSlot(fields[i].name, mul)]
			ok = ok && *slot == 0
			*slot = int8(i + 1) // 0 is an empty slot
		}
		if ok {
			return t, mul
		}
	}
	panic("wootric: no multiplier gives each field a slot of its own")
}()

// fieldSlot mixes a name's length, first byte and middle byte; name is not
// empty.
func fieldSlot(name string, mul int) int {
	return (len(name)*mul + int(name[0]) + int(name[len(name)/2])) & 63
}

// fieldIndex returns the index in fields of the field name of kind, or -1
// for a field this package does not model or kind does not have.
func fieldIndex(kind objectKind, name string) int {
	if name == "" {
		return -1
	}
	i := int(fieldSlots[fieldSlot(name, fieldMul)]) - 1
	if i < 0 || fields[i].name != name || !fields[i].of(kind) {
		return -1
	}
	return i
}

// of reports whether an object of kind has the field.
func (f *field) of(kind objectKind) bool {
	return kind == responseObject && f.ofResponse != nil || kind == declineObject && f.ofDecline != nil
}

// nextField returns the index of the first field of kind after fields[i]
// in the table, or -1 if there is none; nextField(kind, -1) is its first.
func nextField(kind objectKind, i int) int {
	for i++; i < len(fields); i++ {
		if fields[i].of(kind) {
			return i
		}
	}
	return -1
}

// field returns a pointer to field i of e's response or decline, or nil
// if e has neither or its object lacks the field.
func (e *Event) field(i int) any {
	f := &fields[i]
	switch {
	case e.Response != nil:
		return f.ofResponse(e.Response)
	case e.Decline != nil && f.ofDecline != nil:
		return f.ofDecline(e.Decline)
	}
	return nil
}

func isList(p any) bool {
	_, ok := p.(*[]string)
	return ok
}

// isSet reports whether the field p points to holds other than its zero
// value; an empty list or map is unset.
func isSet(p any) bool {
	switch p := p.(type) {
	case *int64:
		return *p != 0
	case *int:
		return *p != 0
	case *string:
		return *p != ""
	case *time.Time:
		return !p.IsZero()
	case *bool:
		return *p
	case *[]string:
		return len(*p) > 0
	case *map[string]string:
		return len(*p) > 0
	}
	return false
}

// object returns the id and updated_at of e's response or decline, or
// zeros if it has neither.
func (e *Event) object() (id int64, updatedAt time.Time) {
	switch {
	case e.Response != nil:
		return e.Response.ID, e.Response.UpdatedAt
	case e.Decline != nil:
		return e.Decline.ID, e.Decline.UpdatedAt
	}
	return 0, time.Time{}
}
