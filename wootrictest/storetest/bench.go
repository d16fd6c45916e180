package storetest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/wootrictest"
)

// BenchmarkDeduplicator measures deliveries through a Handler with Dedup
// set to d, so that stores can be compared side by side: "serial" runs one
// delivery at a time, as a store's round trips add to each; "parallel" runs
// GOMAXPROCS at once. Each delivery is a new event (the documentation's
// response sample as JSON, with its own id), so each is claimed, run by one
// callback that does nothing, and completed: the success path. A nil d
// measures the same deliveries without de-duplication. Call it
// from a benchmark of your own store:
//
//	func BenchmarkStore(b *testing.B) {
//		storetest.BenchmarkDeduplicator(b, mystore.New(...))
//	}
func BenchmarkDeduplicator(b *testing.B, d wootric.Deduplicator) {
	h := wootric.NewHandler(wootrictest.Secret)
	if d != nil {
		h.Dedup = d
	}
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { return nil })
	account := "NPS-bench-" + randomHex(6)

	// deliveries returns n signed bodies of new events.
	deliveries := func(b *testing.B, n int) (bodies [][]byte, sigs []string) {
		e, err := wootrictest.SampleEvent(wootric.ResponseCreated, wootric.NPS)
		if err != nil {
			b.Fatal(err)
		}
		e.AccountToken = account
		bodies, sigs = make([][]byte, n), make([]string, n)
		for i := range bodies {
			e.Response.ID++
			if bodies[i], err = wootric.Encode(e, wootric.JSON); err != nil {
				b.Fatal(err)
			}
			sigs[i] = wootric.Sign(wootrictest.Secret, bodies[i])
		}
		// Each run of the benchmark function has keys of its own.
		account += "x"
		return bodies, sigs
	}
	deliver := func(b *testing.B, body []byte, sig string) {
		r := httptest.NewRequest(http.MethodPost, "/wootric", bytes.NewReader(body))
		r.Header.Set(wootric.SignatureHeader, sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Errorf("delivery answered %d, want 200", w.Code)
		}
	}

	b.Run("serial", func(b *testing.B) {
		bodies, sigs := deliveries(b, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			deliver(b, bodies[i], sigs[i])
		}
	})
	b.Run("parallel", func(b *testing.B) {
		bodies, sigs := deliveries(b, b.N)
		var next atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1) - 1
				deliver(b, bodies[i], sigs[i])
			}
		})
	})
}
