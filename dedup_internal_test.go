package wootric

import (
	"context"
	"fmt"
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
	if m.Len() != 1 {
		t.Errorf("Len() = %d, want 1: a key is held once", m.Len())
	}
}

func TestMemoryDeduplicatorIsBounded(t *testing.T) {
	ctx := context.Background()
	m := &MemoryDeduplicator{Max: 3}
	for i := 0; i < 5; i++ {
		res, tok, _ := m.Claim(ctx, fmt.Sprint(i), time.Hour)
		if res != ClaimAcquired {
			t.Fatalf("Claim(%d) = %v for a new key", i, res)
		}
		if i%2 == 0 {
			_ = m.Complete(ctx, fmt.Sprint(i), tok, time.Hour)
		}
	}
	if m.Len() != 3 {
		t.Errorf("Len() = %d, want the bound 3", m.Len())
	}
	// 0 and 1 were changed longest ago and are forgotten; 2 to 4 are kept.
	for _, tc := range []struct {
		key  int
		want ClaimResult
	}{{2, ClaimCompleted}, {3, ClaimInProgress}, {4, ClaimCompleted}, {0, ClaimAcquired}} {
		if res, _, _ := m.Claim(ctx, fmt.Sprint(tc.key), time.Hour); res != tc.want {
			t.Errorf("Claim(%d) = %v, want %v", tc.key, res, tc.want)
		}
	}
}
