package wootric

import (
	"container/list"
	"context"
	"strconv"
	"sync"
	"time"
)

// A Deduplicator remembers which deliveries a [Handler] has processed, so
// that an event Wootric sends twice (a retry after a timeout, a replay)
// runs its callbacks once. Set one as Handler.Dedup.
//
// The Handler calls Claim after a delivery is verified and decoded, and
// before any callback runs. If Claim reports false, the delivery is a
// duplicate: it is acknowledged with 200 and no callback runs. If a callback
// then fails, the Handler calls Release, so that Wootric's retry is
// processed again. An error from either answers 500.
//
// [NewMemoryDeduplicator] keeps the keys in the process. Receivers that run
// on several machines share a store instead; the interface takes a few lines
// on Redis (SET NX with an expiry, DEL):
//
//	type redisDedup struct{ rdb *redis.Client }
//
//	func (d redisDedup) Claim(ctx context.Context, key string) (bool, error) {
//		return d.rdb.SetNX(ctx, "wootric:"+key, 1, 24*time.Hour).Result()
//	}
//
//	func (d redisDedup) Release(ctx context.Context, key string) error {
//		return d.rdb.Del(ctx, "wootric:"+key).Err()
//	}
//
// or on PostgreSQL, with a table wootric_deliveries (key text primary key,
// claimed_at timestamptz default now()) pruned by a periodic DELETE:
//
//	func (d pgDedup) Claim(ctx context.Context, key string) (bool, error) {
//		res, err := d.db.ExecContext(ctx,
//			`INSERT INTO wootric_deliveries (key) VALUES ($1) ON CONFLICT DO NOTHING`, key)
//		if err != nil {
//			return false, err
//		}
//		n, err := res.RowsAffected()
//		return n == 1, err
//	}
//
//	func (d pgDedup) Release(ctx context.Context, key string) error {
//		_, err := d.db.ExecContext(ctx, `DELETE FROM wootric_deliveries WHERE key = $1`, key)
//		return err
//	}
type Deduplicator interface {
	// Claim records key and reports true if it was not already recorded,
	// or reports false if it was. It must be atomic: of two concurrent
	// Claims of one key, one reports true.
	Claim(ctx context.Context, key string) (bool, error)
	// Release forgets key, so that its next Claim reports true.
	Release(ctx context.Context, key string) error
}

// DedupKey returns the key a Handler claims for e: its type, its object's
// id and its updated_at in UTC, such as
// "response.updated/1128/2016-08-04T20:57:26.558Z". An update of a response
// changes updated_at, so it is a new event; a resend of one is not.
func DedupKey(e *Event) string {
	id, updated := e.object()
	b := make([]byte, 0, 64)
	b = append(b, e.Type...)
	b = append(b, '/')
	b = strconv.AppendInt(b, id, 10)
	b = append(b, '/')
	b = updated.UTC().AppendFormat(b, time.RFC3339Nano)
	return string(b)
}

// MemoryDeduplicator is a Deduplicator that keeps keys in memory: at most
// a fixed number, each for a fixed time. It suits a receiver that runs as
// one process; the keys are lost when it restarts. It is safe for
// concurrent use.
type MemoryDeduplicator struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	now   func() time.Time
	keys  map[string]*list.Element
	order *list.List // of memoryKey, oldest first
}

type memoryKey struct {
	key     string
	expires time.Time
}

// NewMemoryDeduplicator returns a MemoryDeduplicator that remembers up to
// max keys (10,000 if max <= 0), each for ttl (24 hours if ttl <= 0). When
// full, it forgets the oldest key first.
func NewMemoryDeduplicator(max int, ttl time.Duration) *MemoryDeduplicator {
	if max <= 0 {
		max = 10000
	}
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	return &MemoryDeduplicator{max: max, ttl: ttl, now: time.Now, keys: make(map[string]*list.Element), order: list.New()}
}

// Claim implements Deduplicator. It never fails.
func (m *MemoryDeduplicator) Claim(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	// Every key lives as long, so the expired ones are the oldest.
	for e := m.order.Front(); e != nil && !now.Before(e.Value.(memoryKey).expires); e = m.order.Front() {
		m.remove(e)
	}
	if _, ok := m.keys[key]; ok {
		return false, nil
	}
	m.keys[key] = m.order.PushBack(memoryKey{key: key, expires: now.Add(m.ttl)})
	if m.order.Len() > m.max {
		m.remove(m.order.Front())
	}
	return true, nil
}

// Release implements Deduplicator. It never fails.
func (m *MemoryDeduplicator) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.keys[key]; ok {
		m.remove(e)
	}
	return nil
}

// Len returns the number of keys remembered.
func (m *MemoryDeduplicator) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

func (m *MemoryDeduplicator) remove(e *list.Element) {
	delete(m.keys, e.Value.(memoryKey).key)
	m.order.Remove(e)
}
