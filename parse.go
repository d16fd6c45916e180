package wootric

import "net/http"

// Parse reads, verifies and decodes the delivery in r as h does before it
// runs callbacks, and returns the event: it refuses a method other than
// POST, a Content-Encoding, a body over MaxBodyBytes, a signature that
// matches none of h's secrets, a malformed body and, if ReplayWindow is
// set, a stale timestamp, each with an error wrapping the sentinel the
// Handler would answer with ([StatusCode] gives the status). It runs no
// callback, claims nothing from Dedup, answers nothing and logs nothing:
// it is for code that answers the request itself, such as a framework's
// handler or a serverless function. A Handler's ServeHTTP takes these
// steps through the same code before its own.
//
// The body is read once, and is in the event's Raw; r.Body is left read.
func (h *Handler) Parse(r *http.Request) (*Event, error) {
	d := delivery{size: r.ContentLength, secret: -1}
	if err := h.receive(nil, r, &d); err != nil {
		return nil, err
	}
	return d.event, nil
}

// ParseBody verifies body against signature, the X-Wootric-Signature
// header's value, with secrets, and decodes it: [Verify] then [Decode], for
// a body that arrives without an *http.Request, as in an AWS Lambda
// function's event (decode a base64-encoded body first: the signature is
// of the bytes Wootric sent).
func ParseBody(body []byte, signature string, secrets ...string) (*Event, error) {
	if err := Verify(body, signature, secrets...); err != nil {
		return nil, err
	}
	return Decode(body)
}
