package wootric

import (
	"errors"
	"fmt"
	"net/http"
)

// The errors the package returns wrap one of these, so callers can tell them
// apart with errors.Is. [StatusCode] maps each to the HTTP status a [Handler]
// answers with.
var (
	// ErrNoSecret means that no non-empty secret was configured. An empty
	// secret is never used as a key: anyone could sign with it. A Handler
	// answers 500, so that the sender retries once the server is fixed.
	ErrNoSecret = errors.New("wootric: no secret configured")

	// ErrMissingSignature means that the X-Wootric-Signature header was
	// absent or empty. A Handler answers 401.
	ErrMissingSignature = errors.New("wootric: missing signature")

	// ErrInvalidSignature means that the signature was not of the form
	// "sha1=" and 40 hex digits, or matched none of the secrets. A Handler
	// answers 401.
	ErrInvalidSignature = errors.New("wootric: invalid signature")

	// ErrUnknownAccount means that a Handler with accounts
	// ([NewAccountHandler]) got a delivery that names no account, names
	// one twice, or names one it has no secret for; or whose event, once
	// verified and decoded, names another account than the one its secret
	// was chosen for. A Handler answers 401.
	ErrUnknownAccount = errors.New("wootric: unknown account")

	// ErrAccountLookup means that a Handler with accounts could not look
	// up the secrets of the account a delivery names: its [Accounts]
	// returned an error, which the error wraps. A Handler answers 503, so
	// that the sender retries.
	ErrAccountLookup = errors.New("wootric: account lookup failed")

	// ErrMalformedPayload means that a signed body could not be decoded into
	// an Event. The error is a *PayloadError that says where. A Handler
	// answers 400.
	ErrMalformedPayload = errors.New("wootric: malformed payload")

	// ErrMethodNotAllowed means that the request was not a POST. A Handler
	// answers 405 with "Allow: POST".
	ErrMethodNotAllowed = errors.New("wootric: method not allowed")

	// ErrUnsupportedEncoding means that the request had a Content-Encoding
	// other than identity, such as gzip. Wootric signs and sends bodies
	// as they are; a Handler does not decompress, and answers 415 before
	// reading the body.
	ErrUnsupportedEncoding = errors.New("wootric: unsupported Content-Encoding")

	// ErrBodyTooLarge means that the body was longer than the Handler's
	// MaxBodyBytes. A Handler answers 413 without reading past the limit.
	ErrBodyTooLarge = errors.New("wootric: body too large")

	// ErrBodyUnreadable means that reading the body failed before its end,
	// typically because the client went away or a server timeout fired. A
	// Handler answers 400, or 503 when the request's context ended the
	// read (a deadline of the server's, such as http.TimeoutHandler's), so
	// that the sender retries.
	ErrBodyUnreadable = errors.New("wootric: body unreadable")

	// ErrOutsideReplayWindow means that a Handler with a ReplayWindow got
	// a delivery whose timestamp was older than the window, too far in the
	// future, or absent. A Handler answers 400.
	ErrOutsideReplayWindow = errors.New("wootric: timestamp outside the replay window")

	// ErrCallback means that a callback returned an error or panicked, or
	// that the handler after [Handler.Middleware] answered other than 2xx
	// or panicked. The error is a *CallbackError. A Handler answers 500, so
	// that the sender retries.
	ErrCallback = errors.New("wootric: callback failed")

	// ErrCallbackTimeout means that a delivery's run (its callbacks, and
	// next after Middleware) had not returned when its deadline passed
	// (the Handler's CallbackTimeout, or with Dedup the claim's lease), or
	// failed after it. The error is a *CallbackError, which wraps
	// ErrCallback too. A Handler answers 503 without waiting for the run,
	// so that the sender retries. With Dedup the claim is held until the
	// run returns, then completed if it succeeded, late, so that the retry
	// is a duplicate, or released, so that the retry runs the event.
	ErrCallbackTimeout = errors.New("wootric: callback timed out")

	// ErrPermanent is for a callback to wrap, as fmt.Errorf("%w: %v",
	// wootric.ErrPermanent, err), to say that retrying cannot help: an
	// event the callback will never accept. An Inbox's worker sets such a
	// delivery aside with its error, as a dead letter, at once, instead of
	// retrying it. In a request it is answered as any callback's failure
	// (500): without an Inbox there is nowhere else to keep the event, and
	// the sender's retry is its last chance.
	ErrPermanent = errors.New("wootric: permanent failure")

	// ErrInbox means that a Handler with an Inbox could not store a
	// delivery: Put failed, or did not return before the run's deadline.
	// The claim, with Dedup, is released, and the Handler answers 503 with
	// a Retry-After of 30 seconds, so that the sender retries.
	ErrInbox = errors.New("wootric: inbox failed")

	// ErrInProgress means that a Handler with Dedup got a copy of an event
	// whose claim another delivery holds: it is running now, here or on
	// another replica, and has not yet succeeded or failed. A Handler
	// answers 503 with a Retry-After header of the claim's lease, so that
	// the sender retries: by then the run has succeeded, and the retry is
	// acknowledged as a duplicate, or has failed or died, and the retry
	// runs the event.
	ErrInProgress = errors.New("wootric: delivery in progress")

	// ErrDedupStore means that a [Deduplicator] could not reach or use its
	// store. A Deduplicator's errors wrap it; a Handler also wraps any other
	// error a Deduplicator returns with it. A Handler answers 500 and runs
	// nothing, so that the sender retries rather than the event being lost
	// or run twice.
	ErrDedupStore = errors.New("wootric: de-duplication store failed")

	// ErrClaimLost means that a Deduplicator's Complete or Release was
	// given a claim that no longer holds its key: the lease ran out and
	// another claim took the key, or the key was completed by another. The
	// key is left as it is.
	ErrClaimLost = errors.New("wootric: de-duplication claim lost")

	// ErrInvalidEvent means that Encode was given an event it cannot encode
	// as a body that Decode would turn back into the same event.
	ErrInvalidEvent = errors.New("wootric: invalid event")
)

// PayloadError describes why a body is malformed. It wraps
// [ErrMalformedPayload]. Its message names the field and the byte offset but
// never quotes a value from the body, which may be personal data.
type PayloadError struct {
	// Field is the dotted path of the field at fault, such as
	// "response.score", or "" when the fault is in the body's syntax. It
	// names only fields this package models, never a name from the body
	// (an end-user property's name may be anything, an email or a line
	// break included): Offset says which.
	Field string
	// Offset is the byte offset in the body at which the fault was found.
	Offset int
	// Reason says what is wrong, such as "not an integer".
	Reason string
}

// Error returns "wootric: malformed payload", the field, the offset and the
// reason.
func (e *PayloadError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("wootric: malformed payload at byte %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("wootric: malformed payload: %s at byte %d: %s", e.Field, e.Offset, e.Reason)
}

// Unwrap returns ErrMalformedPayload.
func (e *PayloadError) Unwrap() error { return ErrMalformedPayload }

// CallbackError reports that a callback registered on a [Handler] failed,
// or that the handler after [Handler.Middleware] answered other than 2xx or
// panicked. It wraps both [ErrCallback] and, when the callback returned one,
// its error.
type CallbackError struct {
	// Type is the type of the event the callback was given.
	Type EventType
	// ID is the id of the event's response or decline.
	ID int64
	// Err is the error the callback returned, or nil if it panicked.
	Err error
	// Panic is the value the callback panicked with, or nil if it returned.
	Panic any

	stack []byte // where it panicked
}

// Error names the event's type and id, and quotes the callback's error.
func (e *CallbackError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("wootric: %s callback for id %d panicked", e.Type, e.ID)
	}
	return fmt.Sprintf("wootric: %s callback for id %d failed: %v", e.Type, e.ID, e.Err)
}

// Unwrap returns ErrCallback and the callback's own error, if any, so that
// errors.Is and errors.As see both.
func (e *CallbackError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrCallback}
	}
	return []error{ErrCallback, e.Err}
}

// StatusCode returns the HTTP status a [Handler] answers with for err: 200
// for nil, 405, 413, 415, 401 or 400 for a refused request, 503 for a
// delivery in progress elsewhere or callbacks that timed out, and 500 for a
// missing secret, a failed callback, a failed de-duplication store or an
// error it does not know. A callback's failure is 500 (or 503) whatever
// error the callback returned, even one that wraps another of the package's
// sentinels.
func StatusCode(err error) int {
	if err == nil {
		return http.StatusOK
	}
	status, _, _ := ending(err)
	return status
}
