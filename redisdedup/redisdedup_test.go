package redisdedup_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/redisdedup"
	"github.com/wootric-go/wootric/wootrictest"
	"github.com/wootric-go/wootric/wootrictest/storetest"
)

// client returns a client of the Redis at $WOOTRIC_TEST_REDIS_ADDR, or skips
// the test.
var client = redisdedup.NewTestClient

func TestDeduplicatorKeepsTheContract(t *testing.T) {
	storetest.TestDeduplicator(t, redisdedup.NewTestDedup(client(t)))
}

func TestDeduplicatorKeepsTheContractOnAPrefix(t *testing.T) {
	c := client(t)
	d := redisdedup.NewTestDedup(c)
	d.Prefix = redisdedup.TestPrefix + "prefixed:"
	ctx := context.Background()
	res, tok, err := d.Claim(ctx, "k-"+t.Name(), time.Minute)
	if err != nil || res != wootric.ClaimAcquired {
		t.Fatalf("Claim() = %v, %v", res, err)
	}
	defer d.Release(ctx, "k-"+t.Name(), tok)
	if got, err := c.Get(ctx, redisdedup.TestPrefix+"prefixed:k-"+t.Name()).Result(); err != nil || got != tok {
		t.Errorf("GET of the prefixed key = %q, %v; want the claim's token", got, err)
	}
}

// countHook counts the commands and pipelines a client sends: its round
// trips.
type countHook struct{ n atomic.Int32 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// TestDeliveryRoundTrips checks that a delivery that runs costs two round
// trips to Redis, a duplicate one, and a copy in progress one.
func TestDeliveryRoundTrips(t *testing.T) {
	c := client(t)
	hook := &countHook{}
	c.AddHook(hook)
	h := wootric.NewHandler(wootrictest.Secret)
	h.Dedup = redisdedup.NewTestDedup(c)
	started, release := make(chan struct{}), make(chan struct{})
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		if e.Response.Score == 0 {
			close(started)
			<-release
		}
		return nil
	})
	e, _ := wootrictest.SampleEvent(wootric.ResponseCreated, wootric.NPS)
	e.AccountToken = "NPS-roundtrips-" + time.Now().Format(time.RFC3339Nano)
	deliver := func() int {
		r, err := wootrictest.NewRequest("/", wootrictest.Secret, e, wootric.JSON)
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	deliver() // loads the scripts
	e.Response.ID++
	deliver()
	hook.n.Store(0)

	e.Response.ID++
	if code := deliver(); code != 200 || hook.n.Load() != 2 {
		t.Errorf("new event: %d with %d round trips, want 200 with 2", code, hook.n.Load())
	}
	hook.n.Store(0)
	if code := deliver(); code != 200 || hook.n.Load() != 1 {
		t.Errorf("duplicate: %d with %d round trips, want 200 with 1", code, hook.n.Load())
	}

	e.Response.ID++
	e.Response.Score = 0
	first := make(chan int)
	go func() { first <- deliver() }()
	<-started
	hook.n.Store(0)
	if code := deliver(); code != http.StatusServiceUnavailable || hook.n.Load() != 1 {
		t.Errorf("copy in progress: %d with %d round trips, want 503 with 1", code, hook.n.Load())
	}
	close(release)
	<-first
}

// TestStoreErrorsWrapErrDedupStore needs no server: nothing listens where
// it points the client.
func TestStoreErrorsWrapErrDedupStore(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	d := redisdedup.NewTestDedup(c)
	ctx := context.Background()
	_, _, claimErr := d.Claim(ctx, "k", time.Minute)
	tests := []struct {
		name string
		err  error
	}{
		{"Claim", claimErr},
		{"Complete", d.Complete(ctx, "k", "t", time.Minute)},
		{"Release", d.Release(ctx, "k", "t")},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, wootric.ErrDedupStore) || !strings.Contains(tc.err.Error(), "redisdedup") {
			t.Errorf("%s() with Redis unreachable = %v, want an error wrapping ErrDedupStore", tc.name, tc.err)
		}
	}
}

func BenchmarkDelivery(b *testing.B) {
	storetest.BenchmarkDeduplicator(b, redisdedup.NewTestDedup(client(b)))
}
