package redisdedup

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

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
	tb.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("WOOTRIC_TEST_REDIS_ADDR=%s: %v", addr, err)
	}
	return c
}
