// Package redisdedup keeps the de-duplication claims of a wootric.Handler in
// Redis, so that every replica of a receiver behind a load balancer shares
// them and each event runs once:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	h := wootric.NewHandler(os.Getenv("WOOTRIC_SECRET"))
//	h.Dedup = redisdedup.New(rdb)
//
// Each key is one Redis string, under Prefix: the token of the claim that
// holds it, with the lease as its expiry, or "done" with the TTL as its
// expiry. Claim, Complete and Release are each one Lua script, so each is
// atomic and one round trip: a delivery that runs costs two. Complete and
// Release change a key only while it holds their claim's token, so a
// replica whose lease ran out cannot complete or free a claim another
// replica has taken since; this is Redis's documented lock pattern. A
// cluster works too: each script touches one key.
//
// Redis must keep the keys it is given: an eviction policy that removes
// keys with an expiry under memory pressure (volatile-* and allkeys-*) may
// forget a completed key early, and a duplicate then runs again.
package redisdedup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wootric-go/wootric"
)

// DefaultPrefix is put before every key of a Deduplicator whose Prefix is
// "".
const DefaultPrefix = "wootric:dedup:"

// Deduplicator is a wootric.Deduplicator on Redis. Create one with [New]. It
// is safe for concurrent use.
type Deduplicator struct {
	// Prefix is put before every key, so that the keys of several
	// receivers, or of tests, sharing one Redis stay apart. "" means
	// DefaultPrefix. Set it before the first use.
	Prefix string

	client redis.UniversalClient
}

// New returns a Deduplicator that keeps its keys in the Redis of client: a
// *redis.Client, *redis.ClusterClient, *redis.Ring or a failover client.
func New(client redis.UniversalClient) *Deduplicator {
	return &Deduplicator{client: client}
}

// The scripts return 1 when they have done what was asked, 0 when the key
// held another claim or was completed, and claim 2 for "in progress" and 3
// for "completed". A completed key's value is "done", which no token is.
var (
	claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
	return 1
end
if v == 'done' then return 3 end
return 2`)

	completeScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and (v == 'done' or v ~= ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
return 1`)

	releaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 1 end
if v == 'done' or v ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`)
)

// Claim implements wootric.Deduplicator. Its errors wrap
// wootric.ErrDedupStore.
func (d *Deduplicator) Claim(ctx context.Context, key string, lease time.Duration) (wootric.ClaimResult, string, error) {
	token, err := newToken()
	if err != nil {
		return 0, "", storeError("claim", err)
	}
	n, err := claimScript.Run(ctx, d.client, []string{d.key(key)}, token, millis(lease)).Int()
	if err != nil {
		return 0, "", storeError("claim", err)
	}
	switch n {
	case 1:
		return wootric.ClaimAcquired, token, nil
	case 2:
		return wootric.ClaimInProgress, "", nil
	case 3:
		return wootric.ClaimCompleted, "", nil
	}
	return 0, "", storeError("claim", fmt.Errorf("script returned %d", n))
}

// Complete implements wootric.Deduplicator. Its errors wrap
// wootric.ErrDedupStore or wootric.ErrClaimLost.
func (d *Deduplicator) Complete(ctx context.Context, key, token string, ttl time.Duration) error {
	return d.settle(ctx, "complete", completeScript, key, token, millis(ttl))
}

// Release implements wootric.Deduplicator. Its errors wrap
// wootric.ErrDedupStore or wootric.ErrClaimLost.
func (d *Deduplicator) Release(ctx context.Context, key, token string) error {
	return d.settle(ctx, "release", releaseScript, key, token)
}

func (d *Deduplicator) settle(ctx context.Context, op string, script *redis.Script, key, token string, args ...any) error {
	n, err := script.Run(ctx, d.client, []string{d.key(key)}, append([]any{token}, args...)...).Int()
	switch {
	case err != nil:
		return storeError(op, err)
	case n == 0:
		return fmt.Errorf("redisdedup: %s: %w", op, wootric.ErrClaimLost)
	}
	return nil
}

func (d *Deduplicator) key(key string) string {
	if d.Prefix == "" {
		return DefaultPrefix + key
	}
	return d.Prefix + key
}

func storeError(op string, err error) error {
	return fmt.Errorf("redisdedup: %s: %w: %w", op, wootric.ErrDedupStore, err)
}

// newToken returns 128 random bits in hex: a token no other claim has.
func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// millis returns d in whole milliseconds, at least 1, as PX takes it.
func millis(d time.Duration) int64 {
	return max(int64((d+time.Millisecond-1)/time.Millisecond), 1)
}
