// Package otelwootric turns the Reports of a [wootric.Handler] into
// OpenTelemetry metrics and spans:
//
//	o, err := otelwootric.New(otelwootric.Config{}) // the global providers
//	if err != nil { ... }
//	h := wootric.NewHandler(secret)
//	h.Begin, h.Observe = o.Begin, o.Observe
//	mux.Handle("POST /wootric", otelhttp.NewHandler(h, "wootric"))
//
// For each request it records:
//
//   - wootric.deliveries, a counter of requests by wootric.outcome
//     (processed, duplicate, refused, failed), wootric.event.type and
//     wootric.survey.mode;
//   - wootric.refusals, a counter of the requests refused or failed, by
//     error.type (the [wootric.Reason]: signature, malformed, callback, ...),
//     wootric.outcome and http.response.status_code;
//   - wootric.delivery.duration, a histogram of the time the Handler took,
//     in seconds, by wootric.outcome and wootric.event.type;
//   - a span "wootric.delivery", a child of the span in the request's
//     context (otelhttp's server span, or the caller's own), from when the
//     Handler began to when it answered, with an event at the end of each
//     stage (read, verify, decode, dedup, run) holding its duration, the
//     Report's attributes, and for a failure an Error status and the error
//     recorded.
//
// Attribute names follow OpenTelemetry's semantic conventions where one
// fits (error.type, http.response.status_code, http.request.body.size);
// the others are under wootric.*. None carries personal data: an event
// type or survey mode outside the documented ones is "other", so that a
// metric's attributes stay few whatever a body holds, and the span has the
// response's or decline's id but nothing the end user wrote.
//
// With Begin set as the Handler's Begin hook, the span starts as the
// Handler begins on a delivery and is in the context of its callbacks, so
// that what they trace is nested under it, in a request as in a worker
// that runs stored deliveries (Handler.Process), where it is a child of
// the worker's span. Without Begin, the span is made when the Handler
// reports, once the request is answered, and the callbacks' own spans are
// its siblings.
package otelwootric

import (
	"context"
	"sync"
	"time"

	"github.com/wootric-go/wootric"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the meter and the tracer.
const ScopeName = "github.com/wootric-go/wootric/otelwootric"

// Attribute keys of the package's own attributes: the Report's outcome,
// event type, survey mode, object id, account and secret index, and on a
// stage's span event its duration in seconds. The account is on spans
// only, not on metrics: a receiver may serve thousands of accounts, and
// an unknown account's token comes from whoever sent the request.
const (
	OutcomeKey       = attribute.Key("wootric.outcome")
	EventTypeKey     = attribute.Key("wootric.event.type")
	SurveyModeKey    = attribute.Key("wootric.survey.mode")
	ObjectIDKey      = attribute.Key("wootric.object.id")
	AccountKey       = attribute.Key("wootric.account")
	SecretIndexKey   = attribute.Key("wootric.secret.index")
	StageDurationKey = attribute.Key("wootric.stage.duration")
)

// Config says where an Observer sends what it records. Its zero value
// sends metrics and spans to OpenTelemetry's global providers.
type Config struct {
	// MeterProvider makes the Observer's instruments; nil means
	// otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// TracerProvider makes its spans; nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
}

// An Observer records a Handler's Reports as metrics and spans. It is safe
// for concurrent use.
type Observer struct {
	deliveries metric.Int64Counter
	refusals   metric.Int64Counter
	duration   metric.Float64Histogram
	tracer     trace.Tracer

	mu      sync.RWMutex
	options map[optionsKey]*options // by the attributes they hold
}

// optionsKey is what a delivery's metric attributes are made of.
type optionsKey struct {
	outcome           wootric.Outcome
	reason            wootric.Reason
	status            int
	eventType, survey string
}

// options are the attributes of a delivery's metrics, made once for each
// combination: building an attribute set costs allocations that a
// delivery should not pay each time.
type options struct {
	deliveries, refusals metric.AddOption
	duration             metric.RecordOption
	outcome, eventType   attribute.KeyValue
}

// maxOptions bounds the options kept. The attributes' values are bounded
// (see eventType), but an account's event types are not known in advance.
const maxOptions = 1024

// optionsOf returns the options for k, made and kept on first use.
func (o *Observer) optionsOf(k optionsKey) *options {
	o.mu.RLock()
	opts := o.options[k]
	o.mu.RUnlock()
	if opts != nil {
		return opts
	}
	outcome := OutcomeKey.String(string(k.outcome))
	eventType := EventTypeKey.String(k.eventType)
	opts = &options{
		deliveries: metric.WithAttributeSet(attribute.NewSet(outcome, eventType, SurveyModeKey.String(k.survey))),
		refusals: metric.WithAttributeSet(attribute.NewSet(semconv.ErrorTypeKey.String(string(k.reason)), outcome,
			semconv.HTTPResponseStatusCodeKey.Int(k.status))),
		duration: metric.WithAttributeSet(attribute.NewSet(outcome, eventType)),
		outcome:  outcome, eventType: eventType,
	}
	o.mu.Lock()
	if len(o.options) < maxOptions {
		o.options[k] = opts
	}
	o.mu.Unlock()
	return opts
}

// New returns an Observer with its instruments made from cfg's providers.
// It fails only if a provider refuses to make an instrument.
func New(cfg Config) (*Observer, error) {
	mp, tp := cfg.MeterProvider, cfg.TracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	meter := mp.Meter(ScopeName)
	o := &Observer{tracer: tp.Tracer(ScopeName), options: make(map[optionsKey]*options)}
	var err error
	if o.deliveries, err = meter.Int64Counter("wootric.deliveries",
		metric.WithUnit("{delivery}"),
		metric.WithDescription("Webhook deliveries received, by outcome, event type and survey mode.")); err != nil {
		return nil, err
	}
	if o.refusals, err = meter.Int64Counter("wootric.refusals",
		metric.WithUnit("{delivery}"),
		metric.WithDescription("Webhook deliveries refused or failed, by reason (error.type).")); err != nil {
		return nil, err
	}
	if o.duration, err = meter.Float64Histogram("wootric.delivery.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Time the Handler took on a delivery, from its first byte read to its answer."),
		// The boundaries OpenTelemetry recommends for http.server.request.duration.
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)); err != nil {
		return nil, err
	}
	return o, nil
}

// begun is the context key of the span Begin started.
type begun struct{}

// Begin starts the span "wootric.delivery" under the span in ctx, and
// returns ctx with it, for Observe to end. Set it as a Handler's Begin
// hook: h.Begin = o.Begin.
func (o *Observer) Begin(ctx context.Context) context.Context {
	ctx, span := o.tracer.Start(ctx, "wootric.delivery", trace.WithSpanKind(trace.SpanKindInternal))
	return context.WithValue(ctx, begun{}, span)
}

// Observe records rep, the Report of a request or of a call of Process,
// and ends the span Begin started in ctx, or makes one under the span in
// ctx. Set it as a Handler's Observe hook: h.Observe = o.Observe.
func (o *Observer) Observe(ctx context.Context, rep wootric.Report) {
	opts := o.optionsOf(optionsKey{rep.Outcome, rep.Reason, rep.Status, eventType(rep.EventType), surveyMode(rep.SurveyMode)})
	o.deliveries.Add(ctx, 1, opts.deliveries)
	if rep.Reason != "" {
		o.refusals.Add(ctx, 1, opts.refusals)
	}
	o.duration.Record(ctx, rep.Duration.Seconds(), opts.duration)
	o.span(ctx, &rep, opts.outcome, opts.eventType)
}

// span records the delivery's span, from rep.Start to its end.
func (o *Observer) span(ctx context.Context, rep *wootric.Report, outcome, eventType attribute.KeyValue) {
	start := rep.Start
	if start.IsZero() { // a Report made without timings
		start = time.Now()
	}
	span, begun := ctx.Value(begun{}).(trace.Span)
	if !begun {
		_, span = o.tracer.Start(ctx, "wootric.delivery", trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindInternal))
	}
	if !span.IsRecording() {
		span.End()
		return
	}
	attrs := []attribute.KeyValue{
		outcome, semconv.HTTPResponseStatusCodeKey.Int(rep.Status),
		semconv.HTTPRequestBodySizeKey.Int64(rep.BodyBytes),
	}
	if rep.Reason != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(string(rep.Reason)))
	}
	if rep.EventType != "" {
		attrs = append(attrs, eventType, SurveyModeKey.String(surveyMode(rep.SurveyMode)), ObjectIDKey.Int64(rep.ObjectID))
	}
	if rep.Account != "" {
		attrs = append(attrs, AccountKey.String(rep.Account))
	}
	if rep.SecretIndex >= 0 {
		attrs = append(attrs, SecretIndexKey.Int(rep.SecretIndex))
	}
	span.SetAttributes(attrs...)

	// The stages run one after another, but for dedup, whose claim comes
	// before run and whose settling after: each event is at the end of
	// its stage with the stages laid end to end.
	at := start
	for s, d := range rep.Stages {
		if d == 0 {
			continue
		}
		at = at.Add(d)
		span.AddEvent(wootric.Stage(s).String(), trace.WithTimestamp(at), trace.WithAttributes(StageDurationKey.Float64(d.Seconds())))
	}
	switch {
	case rep.Outcome == wootric.OutcomeFailed:
		span.RecordError(rep.Err)
		span.SetStatus(codes.Error, string(rep.Reason))
	case rep.Unrecorded != nil:
		span.RecordError(rep.Unrecorded)
	}
	if begun {
		span.End()
	} else {
		span.End(trace.WithTimestamp(start.Add(rep.Duration)))
	}
}

// eventType returns t if it is a documented type or another made of
// lower-case letters, digits, "_" and one ".", no longer than 64 bytes,
// as Wootric's are; "" if none; and "other" for anything else.
func eventType(t wootric.EventType) string {
	if len(t) > 64 {
		return "other"
	}
	dots := 0
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c == '.':
			dots++
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		default:
			return "other"
		}
	}
	if dots > 1 || t != "" && dots == 0 {
		return "other"
	}
	return string(t)
}

// surveyMode returns the documented modes as they are, "" for none, and
// "other" for any other.
func surveyMode(m wootric.SurveyMode) string {
	switch m {
	case wootric.NPS, wootric.CES, wootric.CSAT, "":
		return string(m)
	}
	return "other"
}
