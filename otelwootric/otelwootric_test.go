package otelwootric_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/otelwootric"
	"github.com/wootric-go/wootric/wootrictest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// setup returns an Observer recording into an in-memory reader and span
// recorder, and a tracer for the request's own (server) span.
func setup(t *testing.T) (*otelwootric.Observer, *sdkmetric.ManualReader, *tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	o, err := otelwootric.New(otelwootric.Config{
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		TracerProvider: tp,
	})
	if err != nil {
		t.Fatal(err)
	}
	return o, reader, spans, tp
}

// TestObserverRecordsEachOutcome serves one delivery for each outcome and
// reason of wootrictest.Outcomes, with the Observer as the Handler's hook,
// and finds each in the metrics and in a span under the request's span.
func TestObserverRecordsEachOutcome(t *testing.T) {
	for _, c := range wootrictest.Outcomes() {
		t.Run(c.Name, func(t *testing.T) {
			o, reader, spans, tp := setup(t)
			h := c.Handler()
			h.Observe = o.Observe

			r := c.Request()
			ctx, server := tp.Tracer("test").Start(context.Background(), "POST /wootric")
			h.ServeHTTP(httptest.NewRecorder(), r.WithContext(ctx))
			server.End()

			var rm metricdata.ResourceMetrics
			if err := reader.Collect(context.Background(), &rm); err != nil {
				t.Fatal(err)
			}
			outcome := attribute.String("wootric.outcome", string(c.Outcome))
			wantType := attribute.String("wootric.event.type", string(c.EventType))
			if got := sum(t, rm, "wootric.deliveries", outcome, wantType); got != 1 {
				t.Errorf("wootric.deliveries{%v, %v} = %d, want 1", outcome.Value.String(), wantType.Value.String(), got)
			}
			reason := attribute.String("error.type", string(c.Reason))
			got := sum(t, rm, "wootric.refusals", reason, outcome, attribute.Int("http.response.status_code", c.Status))
			if want := map[bool]int64{true: 1, false: 0}[c.Reason != ""]; got != want {
				t.Errorf("wootric.refusals{%s} = %d, want %d", c.Reason, got, want)
			}
			if n := histogramCount(t, rm, "wootric.delivery.duration", outcome); n != 1 {
				t.Errorf("wootric.delivery.duration{%s} has %d values, want 1", c.Outcome, n)
			}

			var span sdktrace.ReadOnlySpan
			for _, s := range spans.Ended() {
				if s.Name() == "wootric.delivery" {
					span = s
				}
			}
			if span == nil {
				t.Fatalf("no wootric.delivery span among %d", len(spans.Ended()))
			}
			if span.Parent().SpanID() != server.SpanContext().SpanID() {
				t.Errorf("span's parent is %v, want the server span %v", span.Parent().SpanID(), server.SpanContext().SpanID())
			}
			attrs := map[attribute.Key]attribute.Value{}
			for _, kv := range span.Attributes() {
				attrs[kv.Key] = kv.Value
			}
			if attrs["wootric.outcome"].AsString() != string(c.Outcome) || attrs["error.type"].AsString() != string(c.Reason) ||
				attrs["http.response.status_code"].AsInt64() != int64(c.Status) || attrs["wootric.event.type"].AsString() != string(c.EventType) ||
				attrs["wootric.account"].AsString() != c.Account {
				t.Errorf("span attributes %v", span.Attributes())
			}
			var events []string
			for _, ev := range span.Events() {
				if ev.Name != "exception" {
					events = append(events, ev.Name)
				}
			}
			var want []string
			for s := wootric.StageRead; s <= c.LastStage; s++ {
				if s != wootric.StageDedup || h.Dedup != nil {
					want = append(want, s.String())
				}
			}
			if strings.Join(events, ",") != strings.Join(want, ",") {
				t.Errorf("span events %v, want the stages %v", events, want)
			}
			failed := c.Outcome == wootric.OutcomeFailed
			if (span.Status().Code == codes.Error) != failed {
				t.Errorf("span status %v for outcome %s", span.Status(), c.Outcome)
			}
			if failed && (len(span.Events()) == 0 || span.Events()[len(span.Events())-1].Name != "exception") {
				t.Errorf("a failure's error is not recorded: events %v", span.Events())
			}
			if !span.StartTime().Before(span.EndTime()) && c.LastStage >= 0 {
				t.Errorf("span from %v to %v", span.StartTime(), span.EndTime())
			}
			for _, kv := range span.Attributes() {
				if strings.Contains(kv.Value.String(), wootrictest.Secret) {
					t.Errorf("the secret in attribute %s", kv.Key)
				}
			}
		})
	}
}

// TestObserverBoundsAttributes: event types and survey modes outside the
// documented ones do not grow a metric's attributes without end.
func TestObserverBoundsAttributes(t *testing.T) {
	o, reader, _, _ := setup(t)
	h := wootric.NewHandler(wootrictest.Secret)
	h.Observe = o.Observe
	for _, body := range []string{
		`{"response":{"id":1,"score":9},"event_name":"Deleted Now","survey_mode":"Pulse"}`,
		`{"response":{"id":2,"score":9},"event_name":"a.b","survey_mode":"x"}`,
		`{"end_user":{"id":3},"event_name":"created","survey_mode":"nps"}`,
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		r.Header.Set(wootric.SignatureHeader, wootric.Sign(wootrictest.Secret, []byte(body)))
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	processed := attribute.String("wootric.outcome", "processed")
	for _, c := range []struct {
		attrs []attribute.KeyValue
		want  int64
	}{
		{[]attribute.KeyValue{processed, attribute.String("wootric.event.type", "other"), attribute.String("wootric.survey.mode", "other")}, 2},
		{[]attribute.KeyValue{processed, attribute.String("wootric.event.type", "end_user.created"), attribute.String("wootric.survey.mode", "NPS")}, 1},
	} {
		if got := sum(t, rm, "wootric.deliveries", c.attrs...); got != c.want {
			t.Errorf("wootric.deliveries%v = %d, want %d", c.attrs, got, c.want)
		}
	}
}

// data returns the data of the metric name, or nil if none was recorded.
func data(rm metricdata.ResourceMetrics, name string) metricdata.Aggregation {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m.Data
			}
		}
	}
	return nil
}

// sum returns the total of the counter name's points that have attrs.
func sum(t *testing.T, rm metricdata.ResourceMetrics, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	var total int64
	d := data(rm, name)
	if d == nil {
		return 0 // nothing recorded
	}
	s, ok := d.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is %T, want a Sum[int64]", name, d)
	}
	for _, p := range s.DataPoints {
		if hasAll(p.Attributes, attrs) {
			total += p.Value
		}
	}
	return total
}

// histogramCount returns how many values the histogram name's points with
// attrs hold.
func histogramCount(t *testing.T, rm metricdata.ResourceMetrics, name string, attrs ...attribute.KeyValue) uint64 {
	t.Helper()
	var n uint64
	d := data(rm, name)
	if d == nil {
		return 0 // nothing recorded
	}
	hist, ok := d.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is %T, want a Histogram[float64]", name, d)
	}
	for _, p := range hist.DataPoints {
		if hasAll(p.Attributes, attrs) {
			n += p.Count
		}
	}
	return n
}

func hasAll(set attribute.Set, attrs []attribute.KeyValue) bool {
	for _, kv := range attrs {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// TestBeginNestsTheCallbacksSpans: with Begin, what a callback traces is a
// child of wootric.delivery, itself a child of the request's span, in a
// request and in a call of Process alike.
func TestBeginNestsTheCallbacksSpans(t *testing.T) {
	o, _, spans, tp := setup(t)
	h := wootric.NewHandler(wootrictest.Secret)
	h.Begin, h.Observe = o.Begin, o.Observe
	h.On(wootric.ResponseCreated, func(ctx context.Context, _ *wootric.Event) error {
		_, span := tp.Tracer("crm").Start(ctx, "crm.save")
		span.End()
		return nil
	})
	e := wootrictest.Sample(t, wootric.ResponseCreated, wootric.NPS)
	r, err := wootrictest.NewRequest("/wootric", wootrictest.Secret, e, wootric.JSON)
	if err != nil {
		t.Fatal(err)
	}
	for _, via := range []string{"request", "Process"} {
		ctx, parent := tp.Tracer("test").Start(context.Background(), "parent "+via)
		if via == "request" {
			h.ServeHTTP(httptest.NewRecorder(), r.WithContext(ctx))
		} else {
			body, _ := wootric.Encode(e, wootric.JSON)
			ev, _ := wootric.Decode(body)
			if err := h.Process(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		parent.End()
		byName := map[string]sdktrace.ReadOnlySpan{}
		for _, s := range spans.Ended() {
			if s.SpanContext().TraceID() == parent.SpanContext().TraceID() {
				byName[s.Name()] = s
			}
		}
		delivery, crm := byName["wootric.delivery"], byName["crm.save"]
		if delivery == nil || crm == nil {
			t.Fatalf("%s: spans %v, want wootric.delivery and crm.save", via, byName)
		}
		if delivery.Parent().SpanID() != parent.SpanContext().SpanID() || crm.Parent().SpanID() != delivery.SpanContext().SpanID() {
			t.Errorf("%s: wootric.delivery's parent %v, crm.save's %v; want the caller's span, then wootric.delivery", via, delivery.Parent().SpanID(), crm.Parent().SpanID())
		}
		if delivery.EndTime().Before(crm.EndTime()) {
			t.Errorf("%s: wootric.delivery ended before the callback's span", via)
		}
	}
}
