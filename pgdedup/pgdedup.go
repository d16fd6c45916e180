// Package pgdedup keeps the de-duplication claims of a wootric.Handler in
// PostgreSQL, so that every replica of a receiver behind a load balancer
// shares them and each event runs once:
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	d, err := pgdedup.New(ctx, pool) // creates the table if missing
//	...
//	h := wootric.NewHandler(os.Getenv("WOOTRIC_SECRET"))
//	h.Dedup = d
//
// Each key is a row of the table wootric_dedup (see [Schema]): the token of
// the claim that holds it, NULL once completed, and when that ends.
// Claim, Complete and Release are each one statement, so each is atomic
// (INSERT ... ON CONFLICT, with the row locked while it decides) and one
// round trip: a delivery that runs costs two. Complete and Release change a
// row only while it holds their claim's token, so a replica whose lease ran
// out cannot complete or free a claim another replica has taken since. All
// times are the database server's, so the replicas' clocks do not matter.
//
// Rows whose lease or TTL has ended are deleted by the Deduplicator itself,
// every PruneEvery, in the background of a Claim: no cron job is needed.
package pgdedup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wootric-go/wootric"
)

// Schema is what [New] runs, in one transaction, to create the table and
// its index if they are missing. The table is found on the connection's
// search_path; set the pool's search_path to keep it in a schema of its
// own. Run Schema yourself, with your migrations, if the receiver's
// database user may not create tables.
const Schema = `
CREATE TABLE IF NOT EXISTS wootric_dedup (
	key        text PRIMARY KEY,
	token      text,                 -- the claim holding the key; NULL once completed
	expires_at timestamptz NOT NULL  -- when the lease or the TTL ends
);
CREATE INDEX IF NOT EXISTS wootric_dedup_expires_at ON wootric_dedup (expires_at);`

// DefaultPruneEvery is how often a Deduplicator whose PruneEvery is 0
// deletes the rows whose time has ended.
const DefaultPruneEvery = 10 * time.Minute

// Deduplicator is a wootric.Deduplicator on PostgreSQL. Create one with
// [New]. It is safe for concurrent use.
type Deduplicator struct {
	// PruneEvery is how often expired rows are deleted, at most 10,000 per
	// pass, by a Claim in the background; 0 means DefaultPruneEvery, and a
	// negative value never, for a receiver that calls Prune itself. Set it
	// before the first use.
	PruneEvery time.Duration

	pool      *pgxpool.Pool
	lastPrune atomic.Int64 // unix nanoseconds of the last pass begun
}

// schemaLock is the advisory lock under which New runs Schema, so that
// replicas starting together do not race to create the table.
const schemaLock = 0x776f6f7472696300 // "wootric\0"

// New returns a Deduplicator that keeps its keys in the database of pool,
// after creating its table (Schema) if missing. Its error wraps
// wootric.ErrDedupStore.
func New(ctx context.Context, pool *pgxpool.Pool) (*Deduplicator, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, storeError("creating the table", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
		return nil, storeError("creating the table", err)
	}
	if _, err := tx.Exec(ctx, Schema); err != nil {
		return nil, storeError("creating the table", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, storeError("creating the table", err)
	}
	d := &Deduplicator{pool: pool}
	d.lastPrune.Store(time.Now().UnixNano())
	return d, nil
}

// The statements. A row is free when absent or expired, held when its
// token is set, and completed when its token is NULL. $3 is a duration in
// microseconds.
const (
	// claimSQL answers 1 when it took the key, 2 when another claim holds
	// it, 3 when it is completed. A row inserted or completed by a
	// statement running at the same time may be outside this one's
	// snapshot; the answer is then 2, and the sender retries.
	claimSQL = `
WITH claimed AS (
	INSERT INTO wootric_dedup AS d (key, token, expires_at)
	VALUES ($1, $2, now() + $3::bigint * interval '1 microsecond')
	ON CONFLICT (key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
		WHERE d.expires_at <= now()
	RETURNING 1
)
SELECT CASE
	WHEN EXISTS (SELECT 1 FROM claimed) THEN 1
	WHEN (SELECT token IS NULL FROM wootric_dedup WHERE key = $1) THEN 3
	ELSE 2
END`

	// completeSQL affects one row when the claim of $2 holds the key, or
	// the key is free, and none when another claim holds it or it is
	// completed.
	completeSQL = `
INSERT INTO wootric_dedup AS d (key, token, expires_at)
VALUES ($1, NULL, now() + $3::bigint * interval '1 microsecond')
ON CONFLICT (key) DO UPDATE SET token = NULL, expires_at = excluded.expires_at
	WHERE d.token = $2 OR d.expires_at <= now()`

	// releaseSQL answers true when it freed the key or found it free, and
	// false when another claim holds it or it is completed.
	releaseSQL = `
WITH freed AS (
	DELETE FROM wootric_dedup WHERE key = $1 AND (token = $2 OR expires_at <= now())
	RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM freed)
	OR NOT EXISTS (SELECT 1 FROM wootric_dedup WHERE key = $1 AND expires_at > now())`

	pruneSQL = `
DELETE FROM wootric_dedup WHERE key IN (
	SELECT key FROM wootric_dedup WHERE expires_at <= now() LIMIT 10000 FOR UPDATE SKIP LOCKED
) AND expires_at <= now()`
)

// Claim implements wootric.Deduplicator. Its errors wrap
// wootric.ErrDedupStore.
func (d *Deduplicator) Claim(ctx context.Context, key string, lease time.Duration) (wootric.ClaimResult, string, error) {
	d.maybePrune(ctx)
	token, err := newToken()
	if err != nil {
		return 0, "", storeError("claim", err)
	}
	var n int
	if err := d.pool.QueryRow(ctx, claimSQL, key, token, lease.Microseconds()).Scan(&n); err != nil {
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
	return 0, "", storeError("claim", fmt.Errorf("statement answered %d", n))
}

// Complete implements wootric.Deduplicator. Its errors wrap
// wootric.ErrDedupStore or wootric.ErrClaimLost.
func (d *Deduplicator) Complete(ctx context.Context, key, token string, ttl time.Duration) error {
	tag, err := d.pool.Exec(ctx, completeSQL, key, token, ttl.Microseconds())
	switch {
	case err != nil:
		return storeError("complete", err)
	case tag.RowsAffected() == 0:
		return fmt.Errorf("pgdedup: complete: %w", wootric.ErrClaimLost)
	}
	return nil
}

// Release implements wootric.Deduplicator. Its errors wrap
// wootric.ErrDedupStore or wootric.ErrClaimLost.
func (d *Deduplicator) Release(ctx context.Context, key, token string) error {
	var ok bool
	switch err := d.pool.QueryRow(ctx, releaseSQL, key, token).Scan(&ok); {
	case err != nil:
		return storeError("release", err)
	case !ok:
		return fmt.Errorf("pgdedup: release: %w", wootric.ErrClaimLost)
	}
	return nil
}

// Prune deletes up to 10,000 rows whose lease or TTL has ended and returns
// how many it deleted. A Deduplicator calls it every PruneEvery; call it
// yourself if PruneEvery is negative. Its error wraps
// wootric.ErrDedupStore.
func (d *Deduplicator) Prune(ctx context.Context) (int64, error) {
	tag, err := d.pool.Exec(ctx, pruneSQL)
	if err != nil {
		return 0, storeError("prune", err)
	}
	return tag.RowsAffected(), nil
}

// pruneTimeout bounds a pass of the background pruning.
const pruneTimeout = time.Minute

// maybePrune starts a pass of Prune in the background if PruneEvery has
// passed since the last, and no other call started one first.
func (d *Deduplicator) maybePrune(ctx context.Context) {
	every := d.PruneEvery
	if every < 0 {
		return
	}
	if every == 0 {
		every = DefaultPruneEvery
	}
	last, now := d.lastPrune.Load(), time.Now().UnixNano()
	if now-last < int64(every) || !d.lastPrune.CompareAndSwap(last, now) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pruneTimeout)
		defer cancel()
		_, _ = d.Prune(ctx) // a failed pass is tried again the next time
	}()
}

func storeError(op string, err error) error {
	return fmt.Errorf("pgdedup: %s: %w: %w", op, wootric.ErrDedupStore, err)
}

// newToken returns 128 random bits in hex: a token no other claim has.
func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}
