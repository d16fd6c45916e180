package riverinbox_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/otelwootric"
	"github.com/wootric-go/wootric/riverinbox"
	"github.com/wootric-go/wootric/wootrictest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestTracesCrossTheInbox stores a delivery under a request's span and
// runs it in a worker: the worker's span links to the delivery's span
// that stored it, and the run's wootric.delivery span and the callback's
// own are nested under the worker's.
func TestTracesCrossTheInbox(t *testing.T) {
	pool, schema := database(t)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	o, err := otelwootric.New(otelwootric.Config{TracerProvider: tp, MeterProvider: sdkmetric.NewMeterProvider()})
	if err != nil {
		t.Fatal(err)
	}
	got := newRuns()
	h := wootric.NewHandler(wootrictest.Secret)
	h.Begin, h.Observe = o.Begin, o.Observe
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		_, span := tp.Tracer("crm").Start(ctx, "crm.save")
		span.End()
		got.add(e.Response.ID)
		return nil
	})
	mw := otelriver.NewMiddleware(&otelriver.MiddlewareConfig{TracerProvider: tp, EnableTracePropagation: true})
	start(t, pool, schema, h, riverinbox.Config{Workers: 1, Middleware: []rivertype.Middleware{mw}})

	_, req := sample(t, 41)
	ctx, server := tp.Tracer("test").Start(context.Background(), "POST /wootric")
	if code := serve(h, req().WithContext(ctx)); code != http.StatusOK {
		t.Fatalf("answered %d", code)
	}
	server.End()
	got.wait(t, 1)

	var deliveries []sdktrace.ReadOnlySpan
	var work, crm sdktrace.ReadOnlySpan
	for deadline := time.Now().Add(patience); ; time.Sleep(20 * time.Millisecond) {
		deliveries, work, crm = nil, nil, nil
		for _, s := range spans.Ended() {
			switch s.Name() {
			case "wootric.delivery":
				deliveries = append(deliveries, s)
			case "river.work":
				work = s
			case "crm.save":
				crm = s
			}
		}
		if len(deliveries) == 2 && work != nil && crm != nil || time.Now().After(deadline) {
			break
		}
	}
	if len(deliveries) != 2 || work == nil || crm == nil {
		t.Fatalf("spans: %d wootric.delivery, river.work %v, crm.save %v", len(deliveries), work != nil, crm != nil)
	}
	stored, ran := deliveries[0], deliveries[1]
	if ran.Parent().SpanID() == server.SpanContext().SpanID() {
		stored, ran = ran, stored // the run may end first
	}
	if stored.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("the storing delivery's parent is %v, want the request's span", stored.Parent().SpanID())
	}
	// otelriver links to its insert's span, itself a child of the
	// delivery's that stored the job.
	linked := linksTo(work.Links(), stored.SpanContext())
	for _, s := range spans.Ended() {
		if s.Parent().SpanID() == stored.SpanContext().SpanID() && linksTo(work.Links(), s.SpanContext()) {
			linked = true
		}
	}
	if !linked {
		t.Errorf("river.work's links %v, want one to the delivery that stored it, or to its insert", work.Links())
	}
	if ran.Parent().SpanID() != work.SpanContext().SpanID() || crm.Parent().SpanID() != ran.SpanContext().SpanID() {
		t.Errorf("the run's wootric.delivery's parent %v, crm.save's %v; want river.work, then the run's wootric.delivery",
			ran.Parent().SpanID(), crm.Parent().SpanID())
	}
}

func linksTo(links []sdktrace.Link, sc trace.SpanContext) bool {
	for _, l := range links {
		if l.SpanContext.SpanID() == sc.SpanID() && l.SpanContext.TraceID() == sc.TraceID() {
			return true
		}
	}
	return false
}
