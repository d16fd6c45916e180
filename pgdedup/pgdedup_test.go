package pgdedup_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/pgdedup"
	"github.com/wootric-go/wootric/wootrictest"
	"github.com/wootric-go/wootric/wootrictest/storetest"
)

// urlVar names the variable that points the tests at a PostgreSQL server.
const urlVar = "WOOTRIC_TEST_POSTGRES_URL"

// serverExample is the example that runs against the server, and prints
// what it finds there.
const serverExample = "ExampleDeduplicator_CompleteTx"

// TestMain keeps go test usable without a server. A test skips itself
// (see pool), but an example cannot: one with an Output comment runs, and
// fails unless it prints that output, which it cannot honestly do without
// the server. So without urlVar, TestMain adds the example to -test.skip,
// which applies to examples too (Go 1.22 and later), and says so. CI sets
// urlVar, and runs it.
func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(urlVar) == "" {
		skip := "^" + serverExample + "$"
		if s := flag.Lookup("test.skip").Value.String(); s != "" {
			skip = s + "|" + skip
		}
		if err := flag.Set("test.skip", skip); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("pgdedup: %s is not set: the tests against PostgreSQL skip, and %s does not run\n", urlVar, serverExample)
		os.Exit(m.Run())
	}
	code := m.Run()
	if p, err := pgxpool.New(context.Background(), os.Getenv(urlVar)); err == nil {
		_, _ = p.Exec(context.Background(), "DROP TABLE IF EXISTS "+testTable)
		p.Close()
	}
	os.Exit(code)
}

// countTracer counts the statements a pool runs.
type countTracer struct{ n atomic.Int32 }

func (c *countTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *countTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// pool returns a pool on the database at $WOOTRIC_TEST_POSTGRES_URL,
// configured by configure if not nil, or skips the test.
func pool(tb testing.TB, configure func(*pgxpool.Config)) *pgxpool.Pool {
	tb.Helper()
	url := os.Getenv(urlVar)
	if url == "" {
		tb.Skip(urlVar + " is not set: set it to a PostgreSQL URL, such as postgres://user:pass@127.0.0.1:5432/db, to test against it")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		tb.Fatalf("%s: %v", urlVar, err)
	}
	if configure != nil {
		configure(cfg)
	}
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("%s: %v", urlVar, err)
	}
	tb.Cleanup(p.Close)
	return p
}

// namedPool returns a pool of one connection, whose application_name is
// name, so that a test can see it wait in pg_stat_activity.
func namedPool(tb testing.TB, name string) *pgxpool.Pool {
	return pool(tb, func(cfg *pgxpool.Config) {
		cfg.MaxConns = 1
		cfg.ConnConfig.RuntimeParams["application_name"] = name
	})
}

// testTable is the table of this run's tests, which TestMain drops: the
// tests share their database with other runs, and leave nothing in it.
var testTable = "wootric_dedup_test_" + randomHex()

// newDedup returns a Deduplicator on testTable.
func newDedup(tb testing.TB, p *pgxpool.Pool) *pgdedup.Deduplicator {
	tb.Helper()
	d, err := pgdedup.New(context.Background(), p, pgdedup.Config{Table: testTable})
	if err != nil {
		tb.Fatalf("New() = %v", err)
	}
	return d
}

// TestNewCreatesTheTableOnce starts replicas at once on a database without
// the table (a schema of its own): each New must succeed.
func TestNewCreatesTheTableOnce(t *testing.T) {
	p := schemaPool(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = pgdedup.New(context.Background(), p, pgdedup.Config{}) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("New() #%d at once = %v", i, err)
		}
	}
}

func TestDeduplicatorKeepsTheContract(t *testing.T) {
	storetest.TestDeduplicator(t, newDedup(t, pool(t, nil)))
}

// TestDeliveryRoundTrips checks that a delivery that runs costs two
// statements, and a duplicate one.
func TestDeliveryRoundTrips(t *testing.T) {
	tracer := &countTracer{}
	d := newDedup(t, pool(t, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = tracer }))
	h := wootric.NewHandler(wootrictest.Secret)
	h.Dedup = d
	e, _ := wootrictest.SampleEvent(wootric.ResponseCreated, wootric.NPS)
	e.AccountToken = "NPS-roundtrips-" + time.Now().Format(time.RFC3339Nano)
	deliver := func() int {
		r, err := wootrictest.NewRequest("/", wootrictest.Secret, e, wootric.JSON)
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	tracer.n.Store(0)
	if code := deliver(); code != 200 || tracer.n.Load() != 2 {
		t.Errorf("new event: %d with %d statements, want 200 with 2", code, tracer.n.Load())
	}
	tracer.n.Store(0)
	if code := deliver(); code != 200 || tracer.n.Load() != 1 {
		t.Errorf("duplicate: %d with %d statements, want 200 with 1", code, tracer.n.Load())
	}
}

func TestPruneDeletesOnlyExpiredRows(t *testing.T) {
	p := pool(t, nil)
	d := newDedup(t, p)
	d.PruneEvery = -1
	ctx := context.Background()
	prefix := "prune-" + time.Now().Format(time.RFC3339Nano) + "/"
	for i, lease := range []time.Duration{time.Millisecond, time.Millisecond, time.Hour} {
		if res, _, err := d.Claim(ctx, prefix+string(rune('a'+i)), lease); err != nil || res != wootric.ClaimAcquired {
			t.Fatalf("Claim() = %v, %v", res, err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := d.Prune(ctx); err != nil {
		t.Fatalf("Prune() = %v", err)
	}
	var left []string
	rows, _ := p.Query(ctx, `SELECT key FROM `+testTable+` WHERE key LIKE $1 ORDER BY key`, prefix+"%")
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		left = append(left, strings.TrimPrefix(k, prefix))
	}
	if rows.Err() != nil || len(left) != 1 || left[0] != "c" {
		t.Errorf("rows left after Prune: %v (%v), want only c, whose lease is live", left, rows.Err())
	}
}

func TestPruneRunsInTheBackground(t *testing.T) {
	p := pool(t, nil)
	d := newDedup(t, p)
	d.PruneEvery = time.Nanosecond
	ctx := context.Background()
	key := "background-prune-" + time.Now().Format(time.RFC3339Nano)
	if _, _, err := d.Claim(ctx, key, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	_, _, _ = d.Claim(ctx, "another-"+key, time.Millisecond) // starts a pass
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var n int
		if err := p.QueryRow(ctx, `SELECT count(*) FROM `+testTable+` WHERE key = $1`, key).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired row is still there 10 s after a Claim past PruneEvery")
		}
	}
}

// TestNewRefusesAnOldTable gives New a wootric_dedup in the shape of an
// earlier pgdedup, in a schema of its own.
func TestNewRefusesAnOldTable(t *testing.T) {
	ctx := context.Background()
	p := schemaPool(t)
	if _, err := p.Exec(ctx, `CREATE TABLE wootric_dedup (key text PRIMARY KEY, token text, expires_at timestamptz NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pgdedup.New(ctx, p, pgdedup.Config{}); !errors.Is(err, wootric.ErrDedupStore) || !strings.Contains(err.Error(), "without the column completed") {
		t.Errorf("New() with an old wootric_dedup = %v, want an error wrapping ErrDedupStore that names the column completed", err)
	}
}

// TestLeaseCountsFromTheStatement holds a Claim behind a lock on the table
// and checks that its lease is counted from when the lock was released.
// Counted from its transaction's start (now()), the lease would lose the
// wait: the transaction began before the Claim was seen waiting, and so
// before the lock holder read the time it released the lock. Counted from
// the statement's clock, the lease begins after that time: a busy machine
// only makes it begin later.
func TestLeaseCountsFromTheStatement(t *testing.T) {
	ctx := context.Background()
	p := pool(t, nil)
	name := "pgdedup-test-" + randomHex()
	d := newDedup(t, namedPool(t, name))
	d.PruneEvery = -1 // a pass would wait for the lock too, on the same connection
	prefix := "lease/" + randomHex() + "/"
	// A first Claim prepares the statement on the connection, so that the
	// second waits for the lock in the transaction that executes it, as
	// most Claims do: waiting in one that only prepares it, it would begin
	// the next after the wait, and now() could not be told from
	// clock_timestamp().
	if _, _, err := d.Claim(ctx, prefix+"first", time.Minute); err != nil {
		t.Fatalf("Claim() = %v", err)
	}
	tx, err := p.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	if _, err := tx.Exec(ctx, `LOCK TABLE `+testTable+` IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}

	const lease = 2 * time.Second
	key := prefix + "k"
	done := claimInBackground(ctx, d, key, lease)
	if err := waitForLock(ctx, p, name); err != nil {
		t.Fatal(err)
	}
	var released time.Time
	if err := tx.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&released); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || r.res != wootric.ClaimAcquired {
		t.Fatalf("Claim(free key) = %v, %v; want acquired", r.res, r.err)
	}
	var expires time.Time
	if err := p.QueryRow(ctx, `SELECT expires_at FROM `+testTable+` WHERE key = $1`, key).Scan(&expires); err != nil {
		t.Fatal(err)
	}
	if want := released.Add(lease); expires.Before(want) {
		t.Errorf("Claim(lease %v) that waited for a lock released at %s: lease ends at %s, want at %s or later (%v short)",
			lease, released.Format(time.StampMicro), expires.Format(time.StampMicro), want.Format(time.StampMicro), want.Sub(expires))
	}
}

// TestClaimThatWaitedReadsTheKeyAsItIs: a completed key's TTL has ended,
// and a Claim of it waits for another claim that takes it (here a
// transaction that does as Claim does). The waiting Claim's snapshot,
// taken before it waited, shows the key completed, but it is held now:
// the answer must be in progress, not completed.
func TestClaimThatWaitedReadsTheKeyAsItIs(t *testing.T) {
	ctx := context.Background()
	p := pool(t, nil)
	d := newDedup(t, p)
	name := "pgdedup-test-" + randomHex()
	other := newDedup(t, namedPool(t, name))
	other.PruneEvery = -1
	key := "waited/" + randomHex()
	if res, token, err := d.Claim(ctx, key, time.Minute); err != nil || res != wootric.ClaimAcquired {
		t.Fatalf("Claim(free key) = %v, %v", res, err)
	} else if err := d.Complete(ctx, key, token, time.Minute); err != nil {
		t.Fatalf("Complete() = %v", err)
	}
	if _, err := p.Exec(ctx, `UPDATE `+testTable+` SET expires_at = clock_timestamp() WHERE key = $1`, key); err != nil {
		t.Fatal(err) // the TTL ends
	}
	tx, err := p.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	_, err = tx.Exec(ctx, `UPDATE `+testTable+` SET token = 'another', completed = false, expires_at = clock_timestamp() + interval '1 minute' WHERE key = $1`, key)
	if err != nil {
		t.Fatal(err)
	}
	done := claimInBackground(ctx, other, key, time.Minute)
	if err := waitForLock(ctx, p, name); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || r.res != wootric.ClaimInProgress {
		t.Errorf("Claim() that waited for another claim of the key = %v, %v; want in progress", r.res, r.err)
	}
}

// TestCompleteTxCommitsWithTheCallbacksWrites: a callback writes a row and
// completes its claim in one transaction. The row is written once, the key
// is completed by the callback's claim, the Handler's own Complete then
// succeeds, and a second delivery of the event is a duplicate.
func TestCompleteTxCommitsWithTheCallbacksWrites(t *testing.T) {
	p := pool(t, nil)
	d := newDedup(t, p)
	table := effectsTable(t, p)
	runs := 0
	var claim wootric.Claim
	deliver := newHandler(d, func(ctx context.Context, e *wootric.Event) error {
		runs++
		claim, _ = wootric.ClaimFromContext(ctx)
		return pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "INSERT INTO "+table+" (key) VALUES ($1)", claim.Key); err != nil {
				return err
			}
			return d.CompleteTx(ctx, tx)
		})
	})
	e := newEvent()
	for i, want := range []wootric.Outcome{wootric.OutcomeProcessed, wootric.OutcomeDuplicate} {
		rep := deliver(t, e)
		if rep.Status != http.StatusOK || rep.Outcome != want || rep.Err != nil || rep.Unrecorded != nil {
			t.Errorf("delivery %d: %d %s (%v, not recorded: %v), want 200 %s", i+1, rep.Status, rep.Outcome, rep.Err, rep.Unrecorded, want)
		}
	}
	if runs != 1 {
		t.Errorf("the callback ran %d times, want once", runs)
	}
	if n := countRows(t, p, table); n != 1 {
		t.Errorf("%d rows written, want 1", n)
	}
	token, completed := row(t, p, claim.Key)
	if !completed || token != claim.Token {
		t.Errorf("key's row: token %q, completed %v; want the callback's claim's token %q, completed", token, completed, claim.Token)
	}
}

// TestCompleteTxFailsOnceTheClaimIsLost: another replica takes the key
// while the callback runs. CompleteTx fails with ErrClaimLost, and the
// callback's writes roll back.
func TestCompleteTxFailsOnceTheClaimIsLost(t *testing.T) {
	p := pool(t, nil)
	d := newDedup(t, p)
	// takeOver gives c up, as when its lease runs out, and has another
	// replica claim the key, and complete it if complete is set.
	takeOver := func(ctx context.Context, c wootric.Claim, complete bool) error {
		if err := d.Release(ctx, c.Key, c.Token); err != nil {
			return err
		}
		res, token, err := d.Claim(ctx, c.Key, time.Minute)
		if err != nil || res != wootric.ClaimAcquired {
			return fmt.Errorf("another replica's Claim = %v, %v; want acquired", res, err)
		}
		if complete {
			return d.Complete(ctx, c.Key, token, time.Minute)
		}
		return nil
	}
	tests := []struct {
		name     string
		complete bool
		want     wootric.ClaimResult // a Claim of the key afterwards
	}{
		{"another claim holds the key", false, wootric.ClaimInProgress},
		{"another claim completed the key", true, wootric.ClaimCompleted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table := effectsTable(t, p)
			var claim wootric.Claim
			var lost error
			deliver := newHandler(d, func(ctx context.Context, e *wootric.Event) error {
				claim, _ = wootric.ClaimFromContext(ctx)
				return pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, "INSERT INTO "+table+" (key) VALUES ($1)", claim.Key); err != nil {
						return err
					}
					if err := takeOver(ctx, claim, tc.complete); err != nil {
						return err
					}
					lost = d.CompleteTx(ctx, tx)
					return lost
				})
			})
			rep := deliver(t, newEvent())
			if !errors.Is(lost, wootric.ErrClaimLost) {
				t.Errorf("CompleteTx() = %v, want ErrClaimLost (delivery: %v)", lost, rep.Err)
			}
			if rep.Status != http.StatusInternalServerError || !errors.Is(rep.Err, wootric.ErrClaimLost) {
				t.Errorf("delivery: %d (%v), want 500 with the callback's ErrClaimLost", rep.Status, rep.Err)
			}
			if n := countRows(t, p, table); n != 0 {
				t.Errorf("%d rows written, want none: the transaction must roll back", n)
			}
			if res, _, err := d.Claim(context.Background(), claim.Key, time.Minute); err != nil || res != tc.want {
				t.Errorf("Claim() afterwards = %v, %v; want %v, the other replica's", res, err, tc.want)
			}
		})
	}
}

// TestCompleteTxHoldsOffAnotherReplica: the lease of a callback's claim
// runs out, and the callback completes the claim in its transaction.
// Another replica's Claim waits for the transaction. If it commits, the
// Claim answers in progress, as its snapshot shows the row, and the next
// one completed; if it rolls back, the Claim takes the key.
func TestCompleteTxHoldsOffAnotherReplica(t *testing.T) {
	errRollback := errors.New("rolled back by the test")
	tests := []struct {
		name   string
		commit bool
		want   wootric.ClaimResult // the other replica's Claim
		rows   int
	}{
		{"commit", true, wootric.ClaimInProgress, 1},
		{"roll back", false, wootric.ClaimAcquired, 0},
	}
	p := pool(t, nil)
	d := newDedup(t, p)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "pgdedup-test-" + randomHex()
			other := newDedup(t, namedPool(t, name))
			other.PruneEvery = -1
			table := effectsTable(t, p)
			var claim wootric.Claim
			var got claimResult // the other replica's Claim
			deliver := newHandler(d, func(ctx context.Context, e *wootric.Event) error {
				claim, _ = wootric.ClaimFromContext(ctx)
				// The lease runs out, as the store counts it.
				if _, err := p.Exec(ctx, `UPDATE `+testTable+` SET expires_at = clock_timestamp() WHERE key = $1`, claim.Key); err != nil {
					return err
				}
				var done <-chan claimResult
				err := pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, "INSERT INTO "+table+" (key) VALUES ($1)", claim.Key); err != nil {
						return err
					}
					if err := d.CompleteTx(ctx, tx); err != nil {
						return err
					}
					done = claimInBackground(context.Background(), other, claim.Key, time.Minute)
					if err := waitForLock(ctx, p, name); err != nil {
						return err
					}
					if !tc.commit {
						return errRollback
					}
					return nil
				})
				if done != nil {
					got = <-done // it waits for tx to end
				}
				return err
			})
			rep := deliver(t, newEvent())
			if rep.Err != nil && !errors.Is(rep.Err, errRollback) {
				t.Fatalf("delivery: %v", rep.Err)
			}
			if got.err != nil || got.res != tc.want {
				t.Errorf("the other replica's Claim = %v, %v; want %v", got.res, got.err, tc.want)
			}
			if n := countRows(t, p, table); n != tc.rows {
				t.Errorf("%d rows written, want %d", n, tc.rows)
			}
			if !tc.commit {
				return
			}
			if rep.Status != http.StatusOK || rep.Unrecorded != nil {
				t.Errorf("delivery: %d (not recorded: %v), want 200, recorded", rep.Status, rep.Unrecorded)
			}
			if res, _, err := other.Claim(context.Background(), claim.Key, time.Minute); err != nil || res != wootric.ClaimCompleted {
				t.Errorf("the other replica's next Claim = %v, %v; want completed", res, err)
			}
		})
	}
}

// TestCompleteTxWithoutAClaim needs no server: CompleteTx finds no claim
// before it touches the transaction.
func TestCompleteTxWithoutAClaim(t *testing.T) {
	var d pgdedup.Deduplicator
	if err := d.CompleteTx(context.Background(), nil); !errors.Is(err, pgdedup.ErrNoClaim) {
		t.Errorf("CompleteTx(context without a claim) = %v, want ErrNoClaim", err)
	}
}

// TestStoreErrorsWrapErrDedupStore needs no server: nothing listens where
// it points the pool.
func TestStoreErrorsWrapErrDedupStore(t *testing.T) {
	p, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = pgdedup.New(context.Background(), p, pgdedup.Config{})
	if !errors.Is(err, wootric.ErrDedupStore) || !strings.Contains(err.Error(), "pgdedup") {
		t.Errorf("New() with PostgreSQL unreachable = %v, want an error wrapping ErrDedupStore", err)
	}
}

func BenchmarkDelivery(b *testing.B) {
	d := newDedup(b, pool(b, nil))
	storetest.BenchmarkDeduplicator(b, d)
}

// schemaPool returns a pool whose search_path is a new schema, dropped
// when the test ends, so that the test may create or change wootric_dedup
// without touching the one other tests share.
func schemaPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	admin := pool(t, nil)
	schema := "pgdedup_test_" + randomHex()
	if _, err := admin.Exec(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	return pool(t, func(cfg *pgxpool.Config) { cfg.ConnConfig.RuntimeParams["search_path"] = schema })
}

// newHandler returns a function that delivers an event to a Handler with
// Dedup d, which runs fn for each response created, and returns the
// delivery's Report.
func newHandler(d *pgdedup.Deduplicator, fn wootric.Callback) func(*testing.T, *wootric.Event) wootric.Report {
	h := wootric.NewHandler(wootrictest.Secret)
	h.Dedup = d
	var rep wootric.Report
	h.Observe = func(_ context.Context, r wootric.Report) { rep = r }
	h.On(wootric.ResponseCreated, fn)
	return func(t *testing.T, e *wootric.Event) wootric.Report {
		t.Helper()
		r, err := wootrictest.NewRequest("/", wootrictest.Secret, e, wootric.JSON)
		if err != nil {
			t.Fatal(err)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		return rep
	}
}

// newEvent returns a response created that no other test sends.
func newEvent() *wootric.Event {
	e, _ := wootrictest.SampleEvent(wootric.ResponseCreated, wootric.NPS)
	e.AccountToken = "NPS-" + randomHex()
	return e
}

// effectsTable creates a table of its own for the test's callback to write
// to, and returns its name.
func effectsTable(t *testing.T, p *pgxpool.Pool) string {
	t.Helper()
	name := "pgdedup_test_effects_" + randomHex()
	if _, err := p.Exec(context.Background(), "CREATE TABLE "+name+" (key text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = p.Exec(context.Background(), "DROP TABLE "+name) })
	return name
}

func countRows(t *testing.T, p *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := p.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// row returns the token of key's row in wootric_dedup and whether it is
// completed.
func row(t *testing.T, p *pgxpool.Pool, key string) (token string, completed bool) {
	t.Helper()
	err := p.QueryRow(context.Background(), `SELECT token, completed FROM `+testTable+` WHERE key = $1`, key).Scan(&token, &completed)
	if err != nil {
		t.Fatalf("the row of %q: %v", key, err)
	}
	return token, completed
}

type claimResult struct {
	res wootric.ClaimResult
	err error
}

// claimInBackground claims key on a goroutine of its own, and sends the
// result on the channel it returns.
func claimInBackground(ctx context.Context, d *pgdedup.Deduplicator, key string, lease time.Duration) <-chan claimResult {
	done := make(chan claimResult, 1)
	go func() {
		res, _, err := d.Claim(ctx, key, lease)
		done <- claimResult{res, err}
	}()
	return done
}

// waitForLock returns once the connection whose application_name is name
// waits for a lock, or an error after 30 s.
func waitForLock(ctx context.Context, p *pgxpool.Pool, name string) error {
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var waiting bool
		err := p.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock')`, name).Scan(&waiting)
		switch {
		case err != nil:
			return err
		case waiting:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("%s did not wait for a lock within 30 s", name)
		}
	}
}

// randomHex returns 8 random hex digits, for names no other test uses.
func randomHex() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// TestConfigTableAndNoCreate: a table of another name keeps the contract;
// NoCreate refuses a missing table, naming what to run, and takes one a
// migration made; a name that is not one is refused.
func TestConfigTableAndNoCreate(t *testing.T) {
	ctx := context.Background()
	p := schemaPool(t)
	if _, err := pgdedup.New(ctx, p, pgdedup.Config{Table: "receiver_keys", NoCreate: true}); !errors.Is(err, wootric.ErrDedupStore) || !strings.Contains(err.Error(), "CreateSQL") {
		t.Errorf("New(NoCreate) without the table = %v, want an error wrapping ErrDedupStore that names CreateSQL", err)
	}
	if _, err := p.Exec(ctx, pgdedup.CreateSQL("receiver_keys")); err != nil {
		t.Fatalf("CreateSQL: %v", err)
	}
	d, err := pgdedup.New(ctx, p, pgdedup.Config{Table: "receiver_keys", NoCreate: true})
	if err != nil {
		t.Fatalf("New(NoCreate) with the table = %v", err)
	}
	storetest.TestDeduplicator(t, d)
	var n int
	if err := p.QueryRow(ctx, `SELECT count(*) FROM receiver_keys`).Scan(&n); err != nil || n == 0 {
		t.Errorf("receiver_keys has %d rows, %v; want the keys there", n, err)
	}
	for _, bad := range []string{"keys; DROP TABLE x", "a.b.c", "1keys", `"keys"`} {
		if _, err := pgdedup.New(ctx, p, pgdedup.Config{Table: bad}); !errors.Is(err, wootric.ErrDedupStore) {
			t.Errorf("New(Table %q) = %v, want it refused", bad, err)
		}
	}
}
