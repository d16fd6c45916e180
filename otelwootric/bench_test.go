package otelwootric_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/otelwootric"
	"github.com/wootric-go/wootric/wootrictest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkObserver measures what the Observer costs a delivery processed:
// the Handler without a hook, with the Observer on the SDK's providers
// (every span sampled and kept in memory, metrics aggregated in memory),
// and with spans not sampled.
func BenchmarkObserver(b *testing.B) {
	e, _ := wootrictest.SampleEvent(wootric.ResponseCreated, wootric.NPS)
	body, err := wootric.Encode(e, wootric.JSON)
	if err != nil {
		b.Fatal(err)
	}
	sdk := func(sampler sdktrace.Sampler) func(h *wootric.Handler) {
		return func(h *wootric.Handler) {
			o, err := otelwootric.New(otelwootric.Config{
				MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())),
				TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler),
					sdktrace.WithSpanProcessor(discard{})),
			})
			if err != nil {
				b.Fatal(err)
			}
			h.Observe = o.Observe
		}
	}
	for _, c := range []struct {
		name string
		set  func(h *wootric.Handler)
	}{
		{"none", func(*wootric.Handler) {}},
		{"otel", sdk(sdktrace.AlwaysSample())},
		{"otel-unsampled", sdk(sdktrace.NeverSample())},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := wootric.NewHandler(wootrictest.Secret)
			h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { return nil })
			c.set(h)
			r := httptest.NewRequest(http.MethodPost, "/wootric", nil)
			r.Header.Set(wootric.SignatureHeader, wootric.Sign(wootrictest.Secret, body))
			rd := bytes.NewReader(body)
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				r.Body = io.NopCloser(rd)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("answered %d", w.Code)
				}
			}
		})
	}
}

// discard is a span processor that drops every span once ended, as an
// exporter's batcher would after sending it.
type discard struct{}

func (discard) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discard) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discard) Shutdown(context.Context) error                  { return nil }
func (discard) ForceFlush(context.Context) error                { return nil }
