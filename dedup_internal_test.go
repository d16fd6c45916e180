package wootric

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestMemoryDeduplicatorTimes moves the deduplicator's clock, which only
// this package can reach: a lease and a TTL end exactly when they should.
func TestMemoryDeduplicatorTimes(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	m := &MemoryDeduplicator{now: func() time.Time { return now }}
	claim := func() ClaimResult {
		res, _, _ := m.Claim(ctx, "k", time.Minute)
		return res
	}

	if got := claim(); got != ClaimAcquired {
		t.Fatalf("Claim(new key) = %v", got)
	}
	now = now.Add(time.Minute - time.Nanosecond)
	if got := claim(); got != ClaimInProgress {
		t.Errorf("Claim(key leased a minute ago less 1ns) = %v, want in progress", got)
	}
	now = now.Add(time.Nanosecond)
	res, tok, _ := m.Claim(ctx, "k", time.Minute)
	if res != ClaimAcquired {
		t.Fatalf("Claim(key whose lease ended) = %v, want acquired", res)
	}
	if err := m.Complete(ctx, "k", tok, time.Hour); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour - time.Nanosecond)
	if got := claim(); got != ClaimCompleted {
		t.Errorf("Claim(key completed an hour ago less 1ns) = %v, want completed", got)
	}
	now = now.Add(time.Nanosecond)
	if got := claim(); got != ClaimAcquired {
		t.Errorf("Claim(key whose TTL ended) = %v, want acquired", got)
	}
	if m.len() != 1 {
		t.Errorf("len() = %d, want 1: a key is held once", m.len())
	}
}

// TestMemoryDeduplicatorIsBounded: when full, it forgets the key completed
// longest ago, and never a held claim: a Claim that finds it full of held
// claims fails, as a store does, so that the sender retries.
func TestMemoryDeduplicatorIsBounded(t *testing.T) {
	ctx := context.Background()
	m := &MemoryDeduplicator{Max: 3}
	tokens := map[string]string{}
	claim := func(k string) (ClaimResult, error) {
		res, tok, err := m.Claim(ctx, k, time.Hour)
		if res == ClaimAcquired {
			tokens[k] = tok
		}
		return res, err
	}
	complete := func(k string) {
		if err := m.Complete(ctx, k, tokens[k], time.Hour); err != nil {
			t.Fatalf("Complete(%s) = %v", k, err)
		}
	}
	for _, k := range []string{"done1", "held1", "done2"} {
		if res, err := claim(k); res != ClaimAcquired || err != nil {
			t.Fatalf("Claim(%s) = %v, %v", k, res, err)
		}
	}
	complete("done1")
	complete("done2")
	// Full: a new claim takes the place of done1, completed longest ago.
	if res, err := claim("held2"); res != ClaimAcquired || err != nil {
		t.Fatalf("Claim(held2) = %v, %v with room made", res, err)
	}
	// And of done2: now every key is a held claim.
	if res, err := claim("held3"); res != ClaimAcquired || err != nil {
		t.Fatalf("Claim(held3) = %v, %v with room made", res, err)
	}
	if res, err := claim("held4"); !errors.Is(err, ErrDedupStore) || res == ClaimAcquired {
		t.Errorf("Claim(new key) when full of held claims = %v, %v; want ErrDedupStore", res, err)
	}
	if err := m.Complete(ctx, "free", "t", time.Hour); !errors.Is(err, ErrDedupStore) {
		t.Errorf("Complete(free key) when full of held claims = %v, want ErrDedupStore", err)
	}
	for _, tc := range []struct {
		key  string
		want ClaimResult
	}{{"held1", ClaimInProgress}, {"held2", ClaimInProgress}, {"held3", ClaimInProgress}} {
		if res, _ := claim(tc.key); res != tc.want {
			t.Errorf("Claim(%s) = %v, want %v: a held claim is never forgotten", tc.key, res, tc.want)
		}
	}
	if m.len() != 3 {
		t.Errorf("len() = %d, want the bound 3", m.len())
	}
	// Completing a held claim makes no new key; once completed it may go.
	complete("held1")
	if res, err := claim("new"); res != ClaimAcquired || err != nil {
		t.Errorf("Claim(new key) once a key is completed = %v, %v; want acquired", res, err)
	}
	if res, err := claim("held1"); !errors.Is(err, ErrDedupStore) {
		t.Errorf("Claim(held1) = %v, %v; want ErrDedupStore: completed, it was forgotten for the new key, and the rest are held", res, err)
	}
}

// TestMemoryDeduplicatorCompleteIsIdempotent: a Complete tried again by
// the claim that completed the key succeeds, another's does not.
func TestMemoryDeduplicatorCompleteIsIdempotent(t *testing.T) {
	ctx := context.Background()
	m := &MemoryDeduplicator{}
	_, tok, _ := m.Claim(ctx, "k", time.Hour)
	for i := 0; i < 2; i++ {
		if err := m.Complete(ctx, "k", tok, time.Hour); err != nil {
			t.Errorf("Complete #%d by the claim = %v, want nil", i+1, err)
		}
	}
	if err := m.Complete(ctx, "k", tok+"x", time.Hour); !errors.Is(err, ErrClaimLost) {
		t.Errorf("Complete(another token) = %v, want ErrClaimLost", err)
	}
	if err := m.Release(ctx, "k", tok); !errors.Is(err, ErrClaimLost) {
		t.Errorf("Release(completed key) = %v, want ErrClaimLost", err)
	}
}

// TestMemoryDeduplicatorDropsExpiredKeysFirst: with leases and TTLs that
// differ, a key whose time has ended gives up its place before a live one
// is forgotten, or a full store refuses a claim.
func TestMemoryDeduplicatorDropsExpiredKeysFirst(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("completed", func(t *testing.T) {
		now := start
		m := &MemoryDeduplicator{Max: 2, now: func() time.Time { return now }}
		_, long, _ := m.Claim(ctx, "long", time.Minute)
		_, short, _ := m.Claim(ctx, "short", time.Minute)
		if err := m.Complete(ctx, "long", long, 24*time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := m.Complete(ctx, "short", short, time.Second); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
		if res, _, err := m.Claim(ctx, "new", time.Minute); res != ClaimAcquired || err != nil {
			t.Fatalf("Claim(new) = %v, %v", res, err)
		}
		if res, _, _ := m.Claim(ctx, "long", time.Minute); res != ClaimCompleted {
			t.Errorf("Claim(long) within its TTL = %v, want completed: the expired key should have gone first", res)
		}
	})
	t.Run("held", func(t *testing.T) {
		now := start
		m := &MemoryDeduplicator{Max: 2, now: func() time.Time { return now }}
		m.Claim(ctx, "long", time.Hour)
		m.Claim(ctx, "short", time.Second)
		now = now.Add(time.Minute)
		if res, _, err := m.Claim(ctx, "new", time.Minute); res != ClaimAcquired || err != nil {
			t.Errorf("Claim(new) with one live claim of Max 2 = %v, %v; want acquired", res, err)
		}
	})
}
