package pgdedup_test

import (
	"context"
	"errors"
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
)

// countTracer counts the statements a pool runs.
type countTracer struct{ n atomic.Int32 }

func (c *countTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *countTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// pool returns a pool on the database at $WOOTRIC_TEST_POSTGRES_URL, with
// tracer, or skips the test.
func pool(tb testing.TB, tracer pgx.QueryTracer) *pgxpool.Pool {
	tb.Helper()
	url := os.Getenv("WOOTRIC_TEST_POSTGRES_URL")
	if url == "" {
		tb.Skip("WOOTRIC_TEST_POSTGRES_URL is not set: set it to a PostgreSQL URL, such as postgres://user:pass@127.0.0.1:5432/db, to test against it")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		tb.Fatalf("WOOTRIC_TEST_POSTGRES_URL: %v", err)
	}
	cfg.ConnConfig.Tracer = tracer
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("WOOTRIC_TEST_POSTGRES_URL: %v", err)
	}
	tb.Cleanup(p.Close)
	return p
}

func newDedup(tb testing.TB, p *pgxpool.Pool) *pgdedup.Deduplicator {
	tb.Helper()
	d, err := pgdedup.New(context.Background(), p)
	if err != nil {
		tb.Fatalf("New() = %v", err)
	}
	return d
}

// TestNewCreatesTheTableOnce starts replicas at once on a database without
// the table: each New must succeed.
func TestNewCreatesTheTableOnce(t *testing.T) {
	p := pool(t, nil)
	if _, err := p.Exec(context.Background(), `DROP TABLE IF EXISTS wootric_dedup`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); _, errs[i] = pgdedup.New(context.Background(), p) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("New() #%d at once = %v", i, err)
		}
	}
}

func TestDeduplicatorKeepsTheContract(t *testing.T) {
	wootrictest.TestDeduplicator(t, newDedup(t, pool(t, nil)))
}

// TestDeliveryRoundTrips checks that a delivery that runs costs two
// statements, and a duplicate one.
func TestDeliveryRoundTrips(t *testing.T) {
	tracer := &countTracer{}
	d := newDedup(t, pool(t, tracer))
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
	rows, _ := p.Query(ctx, `SELECT key FROM wootric_dedup WHERE key LIKE $1 ORDER BY key`, prefix+"%")
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
		if err := p.QueryRow(ctx, `SELECT count(*) FROM wootric_dedup WHERE key = $1`, key).Scan(&n); err != nil {
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

// TestStoreErrorsWrapErrDedupStore needs no server: nothing listens where
// it points the pool.
func TestStoreErrorsWrapErrDedupStore(t *testing.T) {
	p, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = pgdedup.New(context.Background(), p)
	if !errors.Is(err, wootric.ErrDedupStore) || !strings.Contains(err.Error(), "pgdedup") {
		t.Errorf("New() with PostgreSQL unreachable = %v, want an error wrapping ErrDedupStore", err)
	}
}

func BenchmarkDelivery(b *testing.B) {
	d := newDedup(b, pool(b, nil))
	wootrictest.BenchmarkDeduplicator(b, d)
}
