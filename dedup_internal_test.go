package wootric

import (
	"context"
	"testing"
	"time"
)

// TestMemoryDeduplicatorForgetsAfterTTL moves the deduplicator's clock,
// which only this package can reach.
func TestMemoryDeduplicatorForgetsAfterTTL(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	m := NewMemoryDeduplicator(10, time.Hour)
	m.now = func() time.Time { return now }

	if ok, _ := m.Claim(ctx, "a"); !ok {
		t.Fatal("Claim(new key) = false")
	}
	now = now.Add(59 * time.Minute)
	if ok, _ := m.Claim(ctx, "a"); ok {
		t.Error("Claim(key claimed 59 minutes ago) = true, want false within the TTL")
	}
	now = now.Add(time.Minute)
	if ok, _ := m.Claim(ctx, "a"); !ok {
		t.Error("Claim(key claimed an hour ago) = false, want true after the TTL")
	}
	if m.Len() != 1 {
		t.Errorf("Len() = %d, want 1: expired keys are dropped", m.Len())
	}
}
