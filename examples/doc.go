// Package examples holds receivers of Wootric webhooks in the frameworks
// and platforms Go users deploy on, each a package of its own with its
// test: chi (a Handler mounted on a route), gin (the Handler wrapped, so
// de-duplication and callbacks work as in net/http), echo (the
// request-level Handler.Parse in an echo handler) and AWS Lambda (ParseBody
// on API Gateway and function URL events, base64 bodies included).
//
// It is a module of its own, so that the core module keeps no
// dependency; .ci/run builds and tests it with the rest.
package examples
