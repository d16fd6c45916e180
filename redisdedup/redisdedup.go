// Package redisdedup keeps the de-duplication claims of a wootric.Handler in
// Redis, so that every replica of a receiver behind a load balancer shares
// them and each event runs once:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	h := wootric.NewHandler(os.Getenv("WOOTRIC_SECRET"))
//	h.Dedup = redisdedup.New(rdb)
//
// Each key is one Redis string, under Prefix: the token of the claim that
// holds it, with the lease as its expiry, or "done:" and the token of the
// claim that completed it, with the TTL as its expiry. Claim, Complete and
// Release are each one Lua script, so each is atomic and one round trip: a
// delivery that runs costs two. Complete and Release change a key only while
// it holds their claim's token, so a replica whose lease ran out cannot
// complete or free a claim another replica has taken since; this is Redis's
// documented lock pattern. Each script, sent again with the same token and
// the key as it left it, gives the same answer, so a claim or a completion
// whose reply was lost, and that go-redis sends again, still succeeds. A cluster works too: each
// script touches one key. The scripts need Redis 6.0 or later.
//
// Redis must keep the keys it is given: an eviction policy that removes
// keys with an expiry under memory pressure (volatile-* and allkeys-*) may
// forget a completed key early, and a duplicate then runs again.
//
// Redis copies writes to its replicas asynchronously, so a failover to a
// replica can lose a write the primary acknowledged: a lost claim lets two
// replicas of the receiver run the event at once, and a lost completed key
// lets a later duplicate run again. [Deduplicator.WaitReplicas] narrows that
// window.
package redisdedup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wootric-go/wootric"
)

// The defaults of a Deduplicator.
const (
	// DefaultPrefix is put before every key of a Deduplicator whose
	// Prefix is "".
	DefaultPrefix = "wootric:dedup:"
	// DefaultWaitTimeout is how long a Deduplicator whose WaitTimeout is
	// 0 waits for its replicas.
	DefaultWaitTimeout = 100 * time.Millisecond
)

// Deduplicator is a wootric.Deduplicator on Redis. Create one with [New]. It
// is safe for concurrent use.
type Deduplicator struct {
	// Prefix is put before every key, so that the keys of several
	// receivers, or of tests, sharing one Redis stay apart. "" means
	// DefaultPrefix. Set it before the first use.
	Prefix string

	// WaitReplicas is how many replicas must acknowledge a claim taken,
	// or a key completed, before Claim or Complete succeeds; 0, the
	// default, waits for none. Each Claim and Complete then sends Redis's
	// WAIT in the same round trip as its script, on the same connection.
	// If fewer replicas acknowledge within WaitTimeout, Claim releases
	// the claim it took and returns an error wrapping
	// wootric.ErrDedupStore, so that the Handler answers 500 and the
	// sender retries; Complete returns such an error too, and the
	// Handler tries it again.
	//
	// WAIT does not make Redis strongly consistent: a failover can still,
	// in rare cases, promote a replica that missed the write (see Redis's
	// documentation of WAIT). It suits one primary with replicas, behind
	// a *redis.Client from redis.NewClient or redis.NewFailoverClient. A
	// *redis.ClusterClient or *redis.Ring routes WAIT, which names no
	// key, away from the script's connection, so with any client but a
	// *redis.Client, Claim and Complete fail with
	// wootric.ErrDedupStore while WaitReplicas is above 0.
	WaitReplicas int

	// WaitTimeout is how long WAIT waits for WaitReplicas replicas; 0
	// means DefaultWaitTimeout. Keep it under the client's ReadTimeout
	// (3 seconds by default), which also bounds the wait.
	WaitTimeout time.Duration

	client redis.UniversalClient
}

// New returns a Deduplicator that keeps its keys in the Redis of client: a
// *redis.Client, *redis.ClusterClient, *redis.Ring or a failover client.
func New(client redis.UniversalClient) *Deduplicator {
	return &Deduplicator{client: client}
}

// The scripts return 1 when they have done what was asked, 0 when the key
// held another claim or was completed, and claim 2 for "in progress" and 3
// for "completed". A completed key's value is "done:" and the token, and a
// token, being hex, has no ':'. Sent again with the key as they left it,
// claim and complete answer 1 again, and set the value anew with its expiry
// kept: from Redis 7.2 on, WAIT waits for the writes of its own connection
// only, and a call sent again may come on another.
var (
	claimScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
	return 1
end
if v == ARGV[1] then
	redis.call('SET', KEYS[1], v, 'KEEPTTL')
	return 1
end
-- "done" alone is a key completed by a version that kept no token.
if v == 'done' or string.sub(v, 1, 5) == 'done:' then return 3 end
return 2`)

	completeScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
local done = 'done:' .. ARGV[1]
if v == done then
	redis.call('SET', KEYS[1], v, 'KEEPTTL')
	return 1
end
if v and v ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], done, 'PX', ARGV[2])
return 1`)

	releaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 1 end
if v ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`)
)

// errWaitClient is the error of Claim and Complete with WaitReplicas set on
// a client other than a *redis.Client.
var errWaitClient = errors.New("WaitReplicas needs a *redis.Client, which sends WAIT on the script's connection")

// Claim implements wootric.Deduplicator. Its errors wrap
// wootric.ErrDedupStore.
func (d *Deduplicator) Claim(ctx context.Context, key string, lease time.Duration) (wootric.ClaimResult, string, error) {
	token, err := newToken()
	if err != nil {
		return 0, "", storeError("claim", err)
	}
	res, err := d.claim(ctx, key, token, lease)
	if res != wootric.ClaimAcquired {
		return res, "", err
	}
	return res, token, err
}

// claim is Claim with the token given.
func (d *Deduplicator) claim(ctx context.Context, key, token string, lease time.Duration) (wootric.ClaimResult, error) {
	n, err := d.run(ctx, claimScript, key, token, true, millis(lease))
	if err != nil {
		if n == 1 {
			d.Release(ctx, key, token) // best effort: else the lease ends
		}
		return 0, storeError("claim", err)
	}
	switch n {
	case 1:
		return wootric.ClaimAcquired, nil
	case 2:
		return wootric.ClaimInProgress, nil
	case 3:
		return wootric.ClaimCompleted, nil
	}
	return 0, storeError("claim", fmt.Errorf("script returned %d", n))
}

// Complete implements wootric.Deduplicator. Its errors wrap
// wootric.ErrDedupStore or wootric.ErrClaimLost.
func (d *Deduplicator) Complete(ctx context.Context, key, token string, ttl time.Duration) error {
	return d.settle(ctx, "complete", completeScript, key, token, true, millis(ttl))
}

// Release implements wootric.Deduplicator. Its errors wrap
// wootric.ErrDedupStore or wootric.ErrClaimLost.
func (d *Deduplicator) Release(ctx context.Context, key, token string) error {
	return d.settle(ctx, "release", releaseScript, key, token, false)
}

func (d *Deduplicator) settle(ctx context.Context, op string, script *redis.Script, key, token string, wait bool, args ...any) error {
	n, err := d.run(ctx, script, key, token, wait, args...)
	switch {
	case err != nil:
		return storeError(op, err)
	case n == 0:
		return fmt.Errorf("redisdedup: %s: %w", op, wootric.ErrClaimLost)
	}
	return nil
}

// run runs script on key with token and args, and returns its answer. If
// wait and WaitReplicas is above 0, it sends WAIT after the script on the
// same connection; when the script answered 1, having written, and fewer
// replicas acknowledged, it returns 1 with an error.
func (d *Deduplicator) run(ctx context.Context, script *redis.Script, key, token string, wait bool, args ...any) (int64, error) {
	keys := []string{d.key(key)}
	args = append([]any{token}, args...)
	if !wait || d.WaitReplicas <= 0 {
		return script.Run(ctx, d.client, keys, args...).Int64()
	}
	c, ok := d.client.(*redis.Client)
	if !ok {
		return 0, errWaitClient
	}
	timeout := d.WaitTimeout
	if timeout <= 0 {
		timeout = DefaultWaitTimeout
	}
	var eval, acks *redis.Cmd
	// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT as
	// Script.Run does. The WAIT timeout is rounded up, since 0 waits for
	// ever. The errors are read from each command, since a script that
	// wrote must be told from one that failed.
	c.Pipelined(ctx, func(p redis.Pipeliner) error {
		eval = script.Eval(ctx, p, keys, args...)
		acks = p.Do(ctx, "WAIT", d.WaitReplicas, millis(timeout))
		return nil
	})
	n, err := eval.Int64()
	if err != nil || n != 1 {
		return n, err
	}
	switch acked, err := acks.Int64(); {
	case err != nil:
		return n, fmt.Errorf("WAIT: %w", err)
	case acked < int64(d.WaitReplicas):
		return n, fmt.Errorf("WAIT: %d of %d replicas acknowledged within %v", acked, d.WaitReplicas, timeout)
	}
	return n, nil
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

// millis returns d in whole milliseconds, at least 1, as PX and WAIT take it.
func millis(d time.Duration) int64 {
	ms := int64(d / time.Millisecond) // rounded up below: d+999µs could overflow
	if d%time.Millisecond > 0 {
		ms++
	}
	return max(ms, 1)
}
