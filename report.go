package wootric

import (
	"errors"
	"net/http"
	"time"
)

// A Report is how one request to a [Handler] ended and what it cost, for
// metrics, traces and logs: the Handler's Observe hook receives one for
// each request, and its Logger's records are written from the same Report.
// It holds no secret, no MAC and no value from the payload but the ids and
// names below.
type Report struct {
	// Outcome is how the request ended.
	Outcome Outcome
	// Reason is why a request was refused or failed; "" when it was
	// processed or a duplicate.
	Reason Reason
	// Err is the error the request ended with, which wraps one of the
	// package's sentinel errors, or nil. As for ErrorHandler, its text
	// holds a callback's error as the callback returned it.
	Err error
	// Unrecorded is, for a processed event, why Dedup could not record it
	// as run (a duplicate of it may run again); nil otherwise.
	Unrecorded error
	// Status is the HTTP status of the answer: next's, for Middleware; 0
	// when the connection was cut without one, for a callback or next that
	// panicked with http.ErrAbortHandler; and 503 when a wrapping
	// http.TimeoutHandler had answered before the Handler (Err wraps
	// http.ErrHandlerTimeout then).
	Status int

	// EventType, SurveyMode and ObjectID (the response's or decline's id)
	// are those of the event once decoded, and zero before.
	EventType  EventType
	SurveyMode SurveyMode
	ObjectID   int64
	// Account is, for a Handler with accounts, the account token the
	// delivery named, read before the signature was verified to choose the
	// secrets: as it is if it has the shape of a token (letters, digits,
	// '-' and '_', at most 64 bytes), quoted and cut at 64 bytes if not;
	// "" when none was read.
	Account string
	// SecretIndex is the index, among the Handler's secrets (the
	// account's, for a Handler with accounts), of the one whose signature
	// matched, or -1.
	SecretIndex int
	// BodyBytes is the size of the body read, or before it is read the
	// request's Content-Length (-1 if unknown).
	BodyBytes int64
	// ContentTypeMismatch is true when the request's Content-Type names
	// the other format than the body's, which decides.
	ContentTypeMismatch bool

	// Start is when the Handler began on the request, and Duration how
	// long it took until the answer was written. Stages is the time each
	// stage took, zero for one not reached. They are set only for the
	// Observe hook: timing costs clock reads that a Handler without one
	// does not make.
	Start    time.Time
	Duration time.Duration
	Stages   [NumStages]time.Duration
}

// Outcome is how a request to a Handler ended.
type Outcome string

// The outcomes of a request.
const (
	// OutcomeProcessed: the event ran, and the answer is 2xx.
	OutcomeProcessed Outcome = "processed"
	// OutcomeStored: the delivery was put in the Handler's Inbox, for a worker to
	// run, and the answer is 200.
	OutcomeStored Outcome = "stored"
	// OutcomeDuplicate: the event had already run, or been stored, and the
	// answer is 200.
	OutcomeDuplicate Outcome = "duplicate"
	// OutcomeRefused: the request was wrong, and a retry of it gets the same 4xx
	// answer: not a POST, too large, unsigned or badly signed, malformed,
	// outside the replay window.
	OutcomeRefused Outcome = "refused"
	// OutcomeFailed: the request could not be processed now, and the answer, 5xx
	// (or next's, for Middleware), makes the sender retry: a callback
	// failed or timed out, the store failed, the event is running
	// elsewhere, or no secret is configured.
	OutcomeFailed Outcome = "failed"
)

// Reason is why a request was refused or failed: one of a small fixed
// set, fit for a metric's attribute.
type Reason string

// The reasons a request is refused or fails, each with the sentinel error
// it stands for.
const (
	ReasonMethod        Reason = "method"         // ErrMethodNotAllowed
	ReasonEncoding      Reason = "encoding"       // ErrUnsupportedEncoding
	ReasonSize          Reason = "size"           // ErrBodyTooLarge
	ReasonUnreadable    Reason = "unreadable"     // ErrBodyUnreadable
	ReasonSignature     Reason = "signature"      // ErrMissingSignature, ErrInvalidSignature
	ReasonNoSecret      Reason = "no_secret"      // ErrNoSecret
	ReasonAccount       Reason = "account"        // ErrUnknownAccount
	ReasonAccountLookup Reason = "account_lookup" // ErrAccountLookup
	ReasonMalformed     Reason = "malformed"      // ErrMalformedPayload
	ReasonReplayWindow  Reason = "replay_window"  // ErrOutsideReplayWindow
	ReasonInProgress    Reason = "in_progress"    // ErrInProgress
	ReasonStore         Reason = "store"          // ErrDedupStore, ErrClaimLost
	ReasonInbox         Reason = "inbox"          // ErrInbox
	ReasonCallback      Reason = "callback"       // ErrCallback
	ReasonTimeout       Reason = "timeout"        // ErrCallbackTimeout, http.ErrHandlerTimeout
	ReasonInternal      Reason = "internal"       // any other error
)

// Stage is a step of a Handler's work on a request, which a [Report]
// times.
type Stage int

// The stages of a request, in the order they run.
const (
	StageRead   Stage = iota // reading the body
	StageVerify              // checking the signature
	StageDecode              // decoding the body and checking the replay window
	StageDedup               // claiming the event, and completing or releasing it
	StageRun                 // the callbacks, and next for Middleware
	NumStages   = 5          // the number of stages
)

// String returns the stage's name: "read", "verify", "decode", "dedup" or
// "run".
func (s Stage) String() string {
	if s >= 0 && s < NumStages {
		return stageNames[s]
	}
	return "unknown"
}

var stageNames = [NumStages]string{"read", "verify", "decode", "dedup", "run"}

// endings is, for each sentinel error a request can end with, the status
// the Handler answers, the reason and the outcome: one table for
// StatusCode, Reports and logs. The first that err wraps counts. The
// sentinels with which the Handler wraps an error of someone else's (a
// callback's, an Accounts', an Inbox's, a store's) come first, so that
// whatever that error wraps in turn, a sentinel of this package's
// included, changes nothing; and among them, a timeout is first (it is
// also a callback's failure), and a callback's failure whose claim could
// not be released is first a callback's.
var endings = [...]struct {
	err     error
	status  int
	reason  Reason
	outcome Outcome
}{
	{http.ErrHandlerTimeout, http.StatusServiceUnavailable, ReasonTimeout, OutcomeFailed},
	{ErrCallbackTimeout, http.StatusServiceUnavailable, ReasonTimeout, OutcomeFailed},
	{ErrCallback, http.StatusInternalServerError, ReasonCallback, OutcomeFailed},
	{ErrAccountLookup, http.StatusServiceUnavailable, ReasonAccountLookup, OutcomeFailed},
	{ErrInbox, http.StatusServiceUnavailable, ReasonInbox, OutcomeFailed},
	{ErrInProgress, http.StatusServiceUnavailable, ReasonInProgress, OutcomeFailed},
	{ErrDedupStore, http.StatusInternalServerError, ReasonStore, OutcomeFailed},
	{ErrClaimLost, http.StatusInternalServerError, ReasonStore, OutcomeFailed},
	{ErrNoSecret, http.StatusInternalServerError, ReasonNoSecret, OutcomeFailed},
	{errReadCut, http.StatusServiceUnavailable, ReasonUnreadable, OutcomeFailed},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed, ReasonMethod, OutcomeRefused},
	{ErrBodyTooLarge, http.StatusRequestEntityTooLarge, ReasonSize, OutcomeRefused},
	{ErrUnsupportedEncoding, http.StatusUnsupportedMediaType, ReasonEncoding, OutcomeRefused},
	{ErrMissingSignature, http.StatusUnauthorized, ReasonSignature, OutcomeRefused},
	{ErrUnknownAccount, http.StatusUnauthorized, ReasonAccount, OutcomeRefused},
	{ErrInvalidSignature, http.StatusUnauthorized, ReasonSignature, OutcomeRefused},
	{ErrMalformedPayload, http.StatusBadRequest, ReasonMalformed, OutcomeRefused},
	{ErrBodyUnreadable, http.StatusBadRequest, ReasonUnreadable, OutcomeRefused},
	{ErrOutsideReplayWindow, http.StatusBadRequest, ReasonReplayWindow, OutcomeRefused},
}

// ending returns the entry of endings that err wraps; for an error that
// wraps none, a 500 failure for ReasonInternal.
func ending(err error) (status int, reason Reason, outcome Outcome) {
	for _, e := range endings {
		if errors.Is(err, e.err) {
			return e.status, e.reason, e.outcome
		}
	}
	return http.StatusInternalServerError, ReasonInternal, OutcomeFailed
}

// lap adds the time since the last lap to stage s, if d is timed.
func (d *delivery) lap(s Stage) {
	if d.start.IsZero() {
		return
	}
	now := time.Now()
	d.stages[s] += now.Sub(d.last)
	d.last = now
}

// report returns the Report of a delivery that ended with err.
func (h *Handler) report(d *delivery, err error) Report {
	rep := Report{
		Outcome: OutcomeProcessed, Err: err, Unrecorded: d.unrecorded, Status: http.StatusOK,
		Account: d.account, SecretIndex: d.secret, BodyBytes: d.size, ContentTypeMismatch: d.mislabelled,
		Start: d.start, Stages: d.stages,
	}
	switch {
	case err != nil:
		rep.Status, rep.Reason, rep.Outcome = ending(err)
		rep.Unrecorded = nil
	case d.dup:
		rep.Outcome = OutcomeDuplicate
	case d.stored:
		rep.Outcome = OutcomeStored
	}
	switch {
	case d.answer != nil:
		rep.Status = d.answer.code
	case aborted(err):
		rep.Status = 0
	}
	if d.event != nil {
		rep.EventType, rep.SurveyMode, rep.ObjectID = d.typ, d.mode, d.id
	}
	if !d.start.IsZero() {
		rep.Duration = time.Since(d.start)
	}
	return rep
}
