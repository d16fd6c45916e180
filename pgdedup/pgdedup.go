// Package pgdedup keeps the de-duplication claims of a wootric.Handler in
// PostgreSQL, so that every replica of a receiver behind a load balancer
// shares them and each event runs once:
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	d, err := pgdedup.New(ctx, pool, pgdedup.Config{}) // creates wootric_dedup if missing
//	...
//	h := wootric.NewHandler(os.Getenv("WOOTRIC_SECRET"))
//	h.Dedup = d
//
// Each key is a row of the table wootric_dedup, or Config.Table (see
// [Schema]): the token of
// the claim that holds or completed it, whether it is completed, and when
// its lease or TTL ends. Claim, Complete and Release are each one
// statement, so each is atomic (INSERT ... ON CONFLICT, with the row locked
// while it decides) and one round trip: a delivery that runs costs two.
// Complete and Release change a row only while it holds their claim's
// token, so a replica whose lease ran out cannot complete or free a claim
// another replica has taken since.
//
// Leases and TTLs are counted on the database server's clock, so the
// replicas' clocks do not matter, and from the moment each statement sets
// or compares them, clock_timestamp(), not from the start of its
// transaction, now(). A Handler counts a run's deadline from before it
// sent Claim, so the time a Claim spends waiting for a lock (such as the
// one CREATE INDEX or LOCK TABLE takes) must not come off the lease it
// stores; nor may a completion made late in a long transaction, by
// CompleteTx, lose the transaction's age from its TTL.
//
// A callback that writes to the same database can make its effects happen
// exactly once, even when its lease runs out, with
// [Deduplicator.CompleteTx]: it completes the claim in the callback's own
// transaction, so that the writes and the completion commit together or
// not at all.
//
// Rows whose lease or TTL has ended are deleted by the Deduplicator itself,
// every PruneEvery, in the background of a Claim: no cron job is needed.
package pgdedup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wootric-go/wootric"
)

// Schema is what [New] runs, in one transaction, to create the default
// table, wootric_dedup, and its index if they are missing: [CreateSQL]
// with "wootric_dedup". An unqualified table is found on the connection's
// search_path. Run it, or CreateSQL for a table of another name, with your
// migrations if the receiver's database user may not create tables, and
// set Config.NoCreate.
//
// A completed row keeps the token of the claim that completed it, so that
// this claim's Complete, tried again, succeeds. pgdedup's first table set
// the token of a completed row to NULL, and had no column completed: New
// refuses such a table, rather than let every statement fail on it. Drop
// it and let New create it anew; an event completed within the last
// DedupTTL may then run again if sent again.
var Schema = CreateSQL(DefaultTable)

// DefaultTable is the table of a Config whose Table is "".
const DefaultTable = "wootric_dedup"

// CreateSQL returns the statements that create table, a name as
// Config.Table takes it, and its index, if they are missing.
func CreateSQL(table string) string {
	t, index := tableNames(table)
	return fmt.Sprintf(`
CREATE TABLE IF NOT EXISTS %[1]s (
	key        text PRIMARY KEY,
	token      text NOT NULL,                  -- the claim that holds or completed the key
	completed  boolean NOT NULL DEFAULT false, -- whether that claim completed it
	expires_at timestamptz NOT NULL            -- when the lease or the TTL ends
);
CREATE INDEX IF NOT EXISTS %[2]s ON %[1]s (expires_at);`, t, index)
}

// tableNames returns table quoted for SQL, and the quoted name of its
// index, which PostgreSQL keeps in the table's schema.
func tableNames(table string) (quoted, index string) {
	parts := strings.Split(table, ".")
	quoted = pgx.Identifier(parts).Sanitize()
	index = pgx.Identifier{parts[len(parts)-1] + "_expires_at"}.Sanitize()
	return quoted, index
}

// Config says where a Deduplicator keeps its keys. Its zero value keeps
// them in wootric_dedup on the search path, created by New if missing.
type Config struct {
	// Table is the table of the keys: a name, or schema.name, of letters,
	// digits and underscores. "" means DefaultTable. Tests and several
	// receivers on one database each take a table of their own.
	Table string
	// NoCreate, if true, makes New only check that the table is there and
	// has the right shape, for a user who may read and write rows but not
	// create tables: create it with CreateSQL in a migration.
	NoCreate bool
}

// ErrNoClaim is the error of [Deduplicator.CompleteTx] given a context
// without a claim: not the context of a callback of a wootric.Handler with
// Dedup set.
var ErrNoClaim = errors.New("pgdedup: no claim in the context")

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
	sql       statements   // the statements, on this Deduplicator's table
	lastPrune atomic.Int64 // unix nanoseconds of the last pass begun
}

// schemaLock is the advisory lock under which New runs Schema, so that
// replicas starting together do not race to create the table.
const schemaLock = 0x776f6f7472696300 // "wootric\0"

// New returns a Deduplicator that keeps its keys in the database of pool,
// in cfg.Table, after creating it (CreateSQL) if missing, unless
// cfg.NoCreate. It fails if the table is missing and cfg.NoCreate is set,
// or if the table is pgdedup's first, without the column completed (see
// Schema). Its error wraps wootric.ErrDedupStore.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Deduplicator, error) {
	table := cfg.Table
	if table == "" {
		table = DefaultTable
	}
	if !validTable(table) {
		return nil, storeError("checking the table", fmt.Errorf("table %q is not a name of letters, digits and underscores, or schema.name", table))
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, storeError("creating the table", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	if !cfg.NoCreate {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
			return nil, storeError("creating the table", err)
		}
		if _, err := tx.Exec(ctx, CreateSQL(table)); err != nil {
			return nil, storeError("creating the table", err)
		}
	}
	var exists, current bool
	if err := tx.QueryRow(ctx, currentTableSQL, table).Scan(&exists, &current); err != nil {
		return nil, storeError("checking the table", err)
	}
	switch {
	case !exists:
		return nil, storeError("checking the table", fmt.Errorf("table %s does not exist: create it with CreateSQL, or leave Config.NoCreate unset", table))
	case !current:
		return nil, storeError("checking the table", fmt.Errorf("%s is pgdedup's first table, without the column completed: drop it, and New creates it anew (see Schema)", table))
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, storeError("creating the table", err)
	}
	d := &Deduplicator{pool: pool, sql: statementsOn(table)}
	d.lastPrune.Store(time.Now().UnixNano())
	return d, nil
}

// validTable reports whether table is name or schema.name, each of ASCII
// letters, digits and underscores, not beginning with a digit.
func validTable(table string) bool {
	parts := strings.Split(table, ".")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 63 || '0' <= p[0] && p[0] <= '9' {
			return false
		}
		for i := 0; i < len(p); i++ {
			if c := p[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
				return false
			}
		}
	}
	return true
}

// statements are the statements below, on one table.
type statements struct{ claim, complete, release, prune string }

func statementsOn(table string) statements {
	t, _ := tableNames(table)
	on := func(sql string) string { return strings.ReplaceAll(sql, "wootric_dedup", t) }
	return statements{on(claimSQL), on(completeSQL), on(releaseSQL), on(pruneSQL)}
}

// The statements. A key is free when its row is absent or expired;
// otherwise the claim of the row's token holds it, or has completed it if
// completed is set. $1 is the key, $2 a token, $3 a lease or TTL. Every
// time is clock_timestamp(), read as the statement gets there (see the
// package doc); a row's new expires_at is read once the row's lock is
// taken, so that a wait for that lock does not come off it either.
const (
	// currentTableSQL answers whether the table $1, as the search_path
	// finds it, exists, and whether it has the shape of Schema.
	currentTableSQL = `
SELECT to_regclass($1) IS NOT NULL, EXISTS (
	SELECT FROM pg_attribute
	WHERE attrelid = to_regclass($1) AND attname = 'completed' AND NOT attisdropped
)`

	// claimSQL answers 1 when it took the key, 2 when another claim holds
	// it, 3 when it is completed. When it took nothing, the row is read
	// back as the statement's snapshot, taken when it began, shows it: a
	// row another transaction inserted or completed while this one waited
	// for its lock is read as absent or held, and the answer is 2, so the
	// sender retries. A row read as completed and live is the row as it is:
	// nothing changes a completed row until it expires.
	claimSQL = `
WITH claimed AS (
	INSERT INTO wootric_dedup AS d (key, token, expires_at)
	VALUES ($1, $2, clock_timestamp() + $3::interval)
	ON CONFLICT (key) DO UPDATE SET token = $2, completed = false, expires_at = clock_timestamp() + $3::interval
		WHERE d.expires_at <= clock_timestamp()
	RETURNING 1
)
SELECT CASE
	WHEN EXISTS (SELECT FROM claimed) THEN 1
	WHEN (SELECT completed AND expires_at > clock_timestamp() FROM wootric_dedup WHERE key = $1) THEN 3
	ELSE 2
END`

	// completeSQL answers true when it completed the key, which the claim
	// of $2 held or which was free, or found the key completed by that
	// claim already, which it leaves as it is; and false, changing
	// nothing, when another claim holds the key or completed it. As in
	// claimSQL, a row read back as completed and live is the row as it is.
	completeSQL = `
WITH done AS (
	INSERT INTO wootric_dedup AS d (key, token, completed, expires_at)
	VALUES ($1, $2, true, clock_timestamp() + $3::interval)
	ON CONFLICT (key) DO UPDATE SET token = $2, completed = true, expires_at = clock_timestamp() + $3::interval
		WHERE (d.token = $2 AND NOT d.completed) OR d.expires_at <= clock_timestamp()
	RETURNING 1
)
SELECT EXISTS (SELECT FROM done)
	OR EXISTS (SELECT FROM wootric_dedup WHERE key = $1 AND token = $2 AND completed AND expires_at > clock_timestamp())`

	// releaseSQL answers true when it freed the key or found it free, and
	// false when another claim holds it or it is completed.
	releaseSQL = `
WITH freed AS (
	DELETE FROM wootric_dedup
	WHERE key = $1 AND ((token = $2 AND NOT completed) OR expires_at <= clock_timestamp())
	RETURNING 1
)
SELECT EXISTS (SELECT FROM freed)
	OR NOT EXISTS (SELECT FROM wootric_dedup WHERE key = $1 AND expires_at > clock_timestamp())`

	// pruneSQL reads the clock in a subquery, once, so that the index on
	// expires_at serves the comparison, which it cannot with a volatile
	// function such as clock_timestamp() called for each row.
	pruneSQL = `
DELETE FROM wootric_dedup WHERE key IN (
	SELECT key FROM wootric_dedup WHERE expires_at <= (SELECT clock_timestamp()) LIMIT 10000 FOR UPDATE SKIP LOCKED
) AND expires_at <= (SELECT clock_timestamp())`
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
	if err := d.pool.QueryRow(ctx, d.sql.claim, key, token, lease).Scan(&n); err != nil {
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
	return complete(ctx, d.pool, d.sql.complete, key, token, ttl)
}

// CompleteTx completes, within tx, the claim that ctx holds: the one a
// Handler gives its callbacks (see wootric.ClaimFromContext). The
// callback's own writes in tx and the completion then commit together, or
// neither does. Call it last in tx, as the row it locks holds up other
// Claims of the key until tx ends, and commit tx only if it returns nil.
// It returns ErrNoClaim if ctx holds no claim, and an error wrapping
// wootric.ErrClaimLost if another claim holds the key or completed it:
// then roll tx back and return the error, for the event is the other
// claim's to run. Its other errors wrap wootric.ErrDedupStore.
//
// Once tx commits, the event counts as run, whatever follows: use it in
// the run's last step, the last callback registered for the event's type
// (and not before a next, after Middleware, that may still fail), with
// every effect of the event in tx. A later step that fails cannot undo the
// completion, and the sender's retry is acknowledged as a duplicate.
//
// This makes the effects in tx commit exactly once, even when the claim's
// lease runs out while the callback runs. A Claim of the key by another
// replica, once the lease has run out, waits for tx: if tx commits, the
// key is completed, and the Claim does not take it; if tx rolls back, the
// Claim takes the key, and the event runs again. A claim that another
// replica took before CompleteTx makes it fail, and tx rolls back. Once tx
// has committed, the Handler's own Complete of the claim finds the key
// completed by its token, and succeeds.
//
// A Claim that waited for tx answers wootric.ClaimInProgress rather than
// ClaimCompleted: under READ COMMITTED it reads the row back as it was
// when the Claim began, held. Its delivery is answered 503, and the
// sender's retry finds the key completed. Under REPEATABLE READ or
// SERIALIZABLE, a Claim that changed the row after tx began makes
// CompleteTx fail with a serialization error, and tx rolls back as well.
func (d *Deduplicator) CompleteTx(ctx context.Context, tx pgx.Tx) error {
	c, ok := wootric.ClaimFromContext(ctx)
	if !ok {
		return ErrNoClaim
	}
	return complete(ctx, tx, d.sql.complete, c.Key, c.Token, c.TTL)
}

// querier is where the completion runs: the pool, or a caller's
// transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func complete(ctx context.Context, q querier, sql, key, token string, ttl time.Duration) error {
	var ok bool
	switch err := q.QueryRow(ctx, sql, key, token, ttl).Scan(&ok); {
	case err != nil:
		return storeError("complete", err)
	case !ok:
		return fmt.Errorf("pgdedup: complete: %w", wootric.ErrClaimLost)
	}
	return nil
}

// Release implements wootric.Deduplicator. Its errors wrap
// wootric.ErrDedupStore or wootric.ErrClaimLost.
func (d *Deduplicator) Release(ctx context.Context, key, token string) error {
	var ok bool
	switch err := d.pool.QueryRow(ctx, d.sql.release, key, token).Scan(&ok); {
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
	tag, err := d.pool.Exec(ctx, d.sql.prune)
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
