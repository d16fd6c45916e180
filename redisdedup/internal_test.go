package redisdedup

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wootric-go/wootric"
)

// TestClaimSentAgainIsAcquired checks the claim script sent twice with one
// token, as go-redis sends it again when its reply is lost: the claim is
// acquired both times, its lease is not extended, and another token finds
// it in progress.
func TestClaimSentAgainIsAcquired(t *testing.T) {
	c := NewTestClient(t)
	d := New(c)
	d.Prefix = TestPrefix + "again:"
	ctx := context.Background()
	key := t.Name() + "/" + time.Now().Format(time.RFC3339Nano)
	token, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Release(ctx, key, token) })

	tests := []struct {
		name  string
		token string
		lease time.Duration
		want  wootric.ClaimResult
	}{
		{"first", token, time.Minute, wootric.ClaimAcquired},
		{"sent again", token, time.Hour, wootric.ClaimAcquired},
		{"another token", "0123456789abcdef", time.Minute, wootric.ClaimInProgress},
	}
	for _, tc := range tests {
		got, err := d.claim(ctx, key, tc.token, tc.lease)
		if err != nil || got != tc.want {
			t.Errorf("%s: claim(%q, %v) = %v, %v; want %v", tc.name, tc.token, tc.lease, got, err, tc.want)
		}
	}
	if ttl, err := c.PTTL(ctx, d.key(key)).Result(); err != nil || ttl > time.Minute {
		t.Errorf("PTTL after the claim sent again = %v, %v; want at most the first lease, %v", ttl, err, time.Minute)
	}
}

// TestWaitReplicasNeedsAClient checks that WaitReplicas with a client that
// routes WAIT away from the script's connection fails rather than not
// waiting. Nothing is sent: the clients point where nothing listens.
func TestWaitReplicasNeedsAClient(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		client redis.UniversalClient
	}{
		{"cluster", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})},
		{"ring", redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.client.Close()
			d := New(tc.client)
			d.WaitReplicas = 1
			_, _, claimErr := d.Claim(ctx, "k", time.Minute)
			completeErr := d.Complete(ctx, "k", "t", time.Minute)
			for _, err := range []error{claimErr, completeErr} {
				if !errors.Is(err, errWaitClient) || !errors.Is(err, wootric.ErrDedupStore) {
					t.Errorf("Claim or Complete with WaitReplicas on a %s client = %v, want errWaitClient wrapping ErrDedupStore", tc.name, err)
				}
			}
		})
	}
}

// TestMillisRoundsUpWithoutOverflow: PX takes whole milliseconds, at least
// one; a lease or TTL near the largest Duration must not wrap around to 1.
func TestMillisRoundsUpWithoutOverflow(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int64
	}{
		{0, 1},
		{time.Nanosecond, 1},
		{time.Millisecond, 1},
		{time.Millisecond + 1, 2},
		{time.Minute, 60000},
		{math.MaxInt64, math.MaxInt64/int64(time.Millisecond) + 1},
	}
	for _, tc := range tests {
		if got := millis(tc.d); got != tc.want {
			t.Errorf("millis(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}
