package redisdedup_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/redisdedup"
)

// moreReplicas is more replicas than a test server has, even while another
// test attaches one to it.
const moreReplicas = 100

func TestWaitReplicasFailsWithoutThem(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	d, free := redisdedup.NewTestDedup(c), redisdedup.NewTestDedup(c)
	d.WaitReplicas = moreReplicas
	key := t.Name() + "/" + time.Now().Format(time.RFC3339Nano)
	if res, tok, err := d.Claim(ctx, key, time.Minute); !errors.Is(err, wootric.ErrDedupStore) || tok != "" {
		t.Fatalf("Claim() with WaitReplicas %d = %v, %q, %v; want an error wrapping ErrDedupStore", moreReplicas, res, tok, err)
	}
	res, tok, err := free.Claim(ctx, key, time.Minute)
	if err != nil || res != wootric.ClaimAcquired {
		t.Fatalf("Claim() after a Claim that waited in vain = %v, %v; want acquired: the key must be free", res, err)
	}
	if err := d.Complete(ctx, key, tok, time.Minute); !errors.Is(err, wootric.ErrDedupStore) {
		t.Errorf("Complete() with WaitReplicas %d = %v, want an error wrapping ErrDedupStore", moreReplicas, err)
	}
	if err := free.Complete(ctx, key, tok, time.Minute); err != nil {
		t.Errorf("Complete() tried again without waiting = %v, want nil", err)
	}
}
