package wootric

import "time"

// EventType names an event: the payload's object ("response" or "decline"),
// a dot and its event_name, such as "response.created". Types this package
// has no constant for, such as a future "response.deleted", are valid too.
type EventType string

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
