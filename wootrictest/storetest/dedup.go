package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
)

// TestDeduplicator checks that d keeps the contract of
// [wootric.Deduplicator], as testing/fstest.TestFS checks a file system:
// claims are atomic under concurrency, leases and TTLs end, only the
// holder of a claim completes or releases it, and three Handlers sharing d
// as replicas run every event once (see [TestReplicas]), also with faults
// in the store, the callbacks and next (see [TestFaults]). Call it from a
// test of your own store:
//
//	func TestStore(t *testing.T) {
//		storetest.TestDeduplicator(t, mystore.New(...))
//	}
//
// It uses keys under a random prefix, so a store that other tests or
// processes share may be given. It waits for leases of a few hundred
// milliseconds to end, and takes about half a minute in all (see
// FleetLease).
func TestDeduplicator(t *testing.T, d wootric.Deduplicator) {
	t.Helper()
	prefix := "wootrictest/" + randomHex(8) + "/"
	n := 0
	key := func() string { n++; return fmt.Sprintf("%sresponse/%d/k", prefix, n) }
	ctx := context.Background()
	const long = time.Minute
	const short = 150 * time.Millisecond
	pastShort := func() { time.Sleep(3 * short) }

	t.Run("claim acquires a free key with a token", func(t *testing.T) {
		k := key()
		tok := acquire(t, d, k, long)
		if got := claim(t, d, k, long); got != wootric.ClaimInProgress {
			t.Errorf("Claim(held key) = %v, want in progress", got)
		}
		if err := d.Release(ctx, k, tok); err != nil {
			t.Fatalf("Release(own claim) = %v", err)
		}
		if tok2 := acquire(t, d, k, long); tok2 == tok {
			t.Errorf("Claim after Release gave the token %q again, want a new one", tok)
		}
	})

	t.Run("complete makes the key a duplicate", func(t *testing.T) {
		k := key()
		tok := acquire(t, d, k, long)
		if err := d.Complete(ctx, k, tok, long); err != nil {
			t.Fatalf("Complete(own claim) = %v", err)
		}
		if got := claim(t, d, k, long); got != wootric.ClaimCompleted {
			t.Errorf("Claim(completed key) = %v, want completed", got)
		}
		if err := d.Release(ctx, k, tok); !errors.Is(err, wootric.ErrClaimLost) {
			t.Errorf("Release(completed key) = %v, want ErrClaimLost", err)
		}
		if got := claim(t, d, k, long); got != wootric.ClaimCompleted {
			t.Errorf("Claim(completed key, after a Release) = %v, want still completed", got)
		}
	})

	t.Run("complete and release tried again succeed", func(t *testing.T) {
		k := key()
		tok := acquire(t, d, k, long)
		for i := 1; i <= 2; i++ {
			if err := d.Complete(ctx, k, tok, long); err != nil {
				t.Fatalf("Complete(own claim) #%d = %v, want nil: a Complete tried again after its answer was lost must succeed", i, err)
			}
		}
		if got := claim(t, d, k, long); got != wootric.ClaimCompleted {
			t.Errorf("Claim(completed key) = %v, want completed", got)
		}
		if err := d.Complete(ctx, k, "not-the-token", long); !errors.Is(err, wootric.ErrClaimLost) {
			t.Errorf("Complete(another token, key completed) = %v, want ErrClaimLost", err)
		}
		k = key()
		tok = acquire(t, d, k, long)
		for i := 1; i <= 2; i++ {
			if err := d.Release(ctx, k, tok); err != nil {
				t.Fatalf("Release(own claim) #%d = %v, want nil", i, err)
			}
		}
	})

	t.Run("a lease ends", func(t *testing.T) {
		k := key()
		acquire(t, d, k, short)
		pastShort()
		acquire(t, d, k, long)
	})

	t.Run("a completed key is forgotten after its TTL", func(t *testing.T) {
		k := key()
		tok := acquire(t, d, k, long)
		if err := d.Complete(ctx, k, tok, short); err != nil {
			t.Fatalf("Complete() = %v", err)
		}
		pastShort()
		acquire(t, d, k, long)
	})

	t.Run("an expired holder cannot complete another's claim", func(t *testing.T) {
		k := key()
		old := acquire(t, d, k, short)
		pastShort()
		tok := acquire(t, d, k, long)
		if err := d.Complete(ctx, k, old, long); !errors.Is(err, wootric.ErrClaimLost) {
			t.Errorf("Complete(expired claim, key taken since) = %v, want ErrClaimLost", err)
		}
		if got := claim(t, d, k, long); got != wootric.ClaimInProgress {
			t.Errorf("Claim() = %v after the expired holder's Complete, want in progress", got)
		}
		if err := d.Complete(ctx, k, tok, long); err != nil {
			t.Errorf("Complete(current claim) = %v", err)
		}
		if err := d.Complete(ctx, k, old, long); !errors.Is(err, wootric.ErrClaimLost) {
			t.Errorf("Complete(expired claim, key completed since) = %v, want ErrClaimLost", err)
		}
	})

	t.Run("an expired holder cannot release another's claim", func(t *testing.T) {
		k := key()
		old := acquire(t, d, k, short)
		pastShort()
		acquire(t, d, k, long)
		if err := d.Release(ctx, k, old); !errors.Is(err, wootric.ErrClaimLost) {
			t.Errorf("Release(expired claim, key taken since) = %v, want ErrClaimLost", err)
		}
		if got := claim(t, d, k, long); got != wootric.ClaimInProgress {
			t.Errorf("Claim() = %v after the expired holder's Release, want in progress", got)
		}
	})

	t.Run("an expired holder may still complete a key nobody took", func(t *testing.T) {
		k := key()
		tok := acquire(t, d, k, short)
		pastShort()
		if err := d.Complete(ctx, k, tok, long); err != nil {
			t.Errorf("Complete(expired claim, key free) = %v, want nil: the run succeeded", err)
		}
		if got := claim(t, d, k, long); got != wootric.ClaimCompleted {
			t.Errorf("Claim() = %v, want completed", got)
		}
		k = key()
		tok = acquire(t, d, k, short)
		pastShort()
		if err := d.Release(ctx, k, tok); err != nil {
			t.Errorf("Release(expired claim, key free) = %v, want nil", err)
		}
	})

	t.Run("a wrong token neither completes nor releases", func(t *testing.T) {
		k := key()
		acquire(t, d, k, long)
		if err := d.Complete(ctx, k, "not-the-token", long); !errors.Is(err, wootric.ErrClaimLost) {
			t.Errorf("Complete(wrong token) = %v, want ErrClaimLost", err)
		}
		if err := d.Release(ctx, k, "not-the-token"); !errors.Is(err, wootric.ErrClaimLost) {
			t.Errorf("Release(wrong token) = %v, want ErrClaimLost", err)
		}
		if got := claim(t, d, k, long); got != wootric.ClaimInProgress {
			t.Errorf("Claim() = %v, want still in progress", got)
		}
	})

	t.Run("concurrent claims acquire once", func(t *testing.T) {
		const keys, claimants = 20, 8
		var wg sync.WaitGroup
		results := make([][claimants]wootric.ClaimResult, keys)
		ks := make([]string, keys)
		for i := range ks {
			ks[i] = key()
		}
		errs := make(chan error, keys*claimants)
		for c := 0; c < claimants; c++ {
			for i := range ks {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, _, err := d.Claim(ctx, ks[i], long)
					if err != nil {
						errs <- err
					}
					results[i][c] = res
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Claim() = %v", err)
		}
		for i, rs := range results {
			acquired, inProgress := 0, 0
			for _, r := range rs {
				switch r {
				case wootric.ClaimAcquired:
					acquired++
				case wootric.ClaimInProgress:
					inProgress++
				}
			}
			if acquired != 1 || inProgress != claimants-1 {
				t.Errorf("key %d: %d concurrent Claims gave %v, want one acquired, the rest in progress", i, claimants, rs)
			}
		}
	})

	t.Run("a release races a new claim without losing it", func(t *testing.T) {
		const keys = 20
		olds, ks := make([]string, keys), make([]string, keys)
		for i := range ks {
			ks[i] = key()
			olds[i] = acquire(t, d, ks[i], short)
		}
		pastShort()
		var wg sync.WaitGroup
		relErrs := make([]error, keys)
		claims := make([]wootric.ClaimResult, keys)
		for i := range ks {
			wg.Add(2)
			go func() { defer wg.Done(); relErrs[i] = d.Release(ctx, ks[i], olds[i]) }()
			go func() { defer wg.Done(); claims[i], _, _ = d.Claim(ctx, ks[i], long) }()
		}
		wg.Wait()
		for i := range ks {
			if claims[i] != wootric.ClaimAcquired {
				t.Errorf("key %d: Claim(expired key) = %v, want acquired", i, claims[i])
			}
			if err := relErrs[i]; err != nil && !errors.Is(err, wootric.ErrClaimLost) {
				t.Errorf("key %d: Release(expired claim) = %v, want nil or ErrClaimLost", i, err)
			}
			if got := claim(t, d, ks[i], long); got != wootric.ClaimInProgress {
				t.Errorf("key %d: Claim() = %v after the race, want in progress: the new claim must survive", i, got)
			}
		}
	})

	t.Run("three replicas run every event once", func(t *testing.T) {
		TestReplicas(t, d)
	})

	t.Run("faults in the store, callbacks and next", func(t *testing.T) {
		TestFaults(t, d)
	})
}

// acquire claims k and fails the test unless the claim is acquired with a
// token, which it returns.
func acquire(t *testing.T, d wootric.Deduplicator, k string, lease time.Duration) string {
	t.Helper()
	res, tok, err := d.Claim(context.Background(), k, lease)
	if err != nil || res != wootric.ClaimAcquired || tok == "" {
		t.Fatalf("Claim(free key) = %v, %q, %v; want acquired with a token", res, tok, err)
	}
	return tok
}

// claim claims k and returns the result, failing the test on an error or a
// token handed out with a result other than acquired.
func claim(t *testing.T, d wootric.Deduplicator, k string, lease time.Duration) wootric.ClaimResult {
	t.Helper()
	res, tok, err := d.Claim(context.Background(), k, lease)
	if err != nil {
		t.Fatalf("Claim() = %v", err)
	}
	if res != wootric.ClaimAcquired && tok != "" {
		t.Errorf("Claim() = %v with token %q, want no token", res, tok)
	}
	return res
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
