package redisdedup

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestPrefix is the prefix of the keys of this run's tests, which the
// client of NewTestClient deletes when its test ends: the tests share their
// server with other runs, and leave nothing in it.
var TestPrefix = fmt.Sprintf("wootric-test-%x:", time.Now().UnixNano())

// NewTestDedup returns New(c) with TestPrefix.
func NewTestDedup(c redis.UniversalClient) *Deduplicator {
	d := New(c)
	d.Prefix = TestPrefix
	return d
}

// NewTestClient returns a client of the Redis at $WOOTRIC_TEST_REDIS_ADDR,
// or skips the test. It is exported for the tests of package
// redisdedup_test.
func NewTestClient(tb testing.TB) *redis.Client {
	tb.Helper()
	addr := os.Getenv("WOOTRIC_TEST_REDIS_ADDR")
	if addr == "" {
		tb.Skip("WOOTRIC_TEST_REDIS_ADDR is not set: set it to a Redis server's host:port to test against it")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	tb.Cleanup(func() {
		// The run's keys, whichever client of the test wrote them.
		ctx := context.Background()
		iter := c.Scan(ctx, 0, TestPrefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	if err := c.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("WOOTRIC_TEST_REDIS_ADDR=%s: %v", addr, err)
	}
	return c
}
