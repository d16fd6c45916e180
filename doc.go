// Package wootric receives Wootric outgoing webhooks.
//
// Wootric POSTs a delivery to your URL when an end user answers a survey
// (response created), changes an answer (response updated) or dismisses the
// survey (decline created). Each delivery carries an X-Wootric-Signature
// header, "sha1=" followed by the hex HMAC-SHA1 of the body keyed with the
// account's webhook secret. The body is JSON or Rails-style URL-encoded form
// data, whichever the account chose.
//
// A [Handler] reads the body once with a size limit, checks the signature in
// constant time, decodes the body into an [Event] and runs the callbacks
// registered for the event's type:
//
//	h := wootric.NewHandler(os.Getenv("WOOTRIC_SECRET"))
//	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
//		log.Printf("response %d scored %d", e.Response.ID, e.Response.Score)
//		return nil
//	})
//	mux.Handle("POST /wootric", h)
//
// An Event models the fields Wootric documents, and [Event.Lookup] reaches
// any other by its path, such as e.Lookup("survey", "channel"), the same for
// a JSON body as for a form.
//
// Each step is also a plain function that works alone: [Verify] checks a
// signature, [Decode] turns a body into an [Event], [Sign] computes the
// header value and [Encode] turns an Event back into a body, for tests and
// for senders. Package wootrictest builds signed requests of sample events
// for a receiver's tests.
//
// A Handler can also refuse stale deliveries (ReplayWindow), run each event
// once across replicas (Dedup, with a [Deduplicator] such as
// [MemoryDeduplicator], or the Redis and PostgreSQL ones in modules
// redisdedup and pgdedup), log why each delivery was refused (Logger), and
// report how every request ended and what each stage cost (Observe, which
// module otelwootric turns into OpenTelemetry metrics and spans). Without
// an Inbox, a 2xx answer means the event has run; with one (module
// riverinbox), that it is stored, for workers to run with Process.
//
// # Where to look
//
//   - Receiving: [NewHandler], [NewAccountHandler] with [Accounts],
//     [Handler], [Handler.On], [Handler.Middleware], [Handler.Parse],
//     [Handler.Process], [Event], [EventFromContext].
//   - Alone, without a Handler: [Verify], [Sign], [Decode], [Encode],
//     [ParseBody], [FormatOf], [DedupKey].
//   - Writing a store: [Deduplicator], [Claim], [ClaimFromContext]; its
//     conformance suite is package wootrictest/storetest.
//   - Writing an inbox: [Inbox], [Delivery], [Handler.Process].
//   - Observing: [Report], [Outcome], [Reason], [Stage], [StatusCode].
//
// Every error the package returns wraps one of the sentinel errors ([ErrMissingSignature],
// [ErrInvalidSignature], [ErrMalformedPayload], ...), so callers test them with
// errors.Is. No error, response body or log line the package writes contains a
// secret, a MAC or a value from the payload.
package wootric
