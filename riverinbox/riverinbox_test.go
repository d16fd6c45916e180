package riverinbox_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/rivertype"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/pgdedup"
	"github.com/wootric-go/wootric/riverinbox"
	"github.com/wootric-go/wootric/wootrictest"
)

// urlVar names the variable that points the tests at a PostgreSQL server.
const urlVar = "WOOTRIC_TEST_POSTGRES_URL"

// patience bounds a wait for what must happen: long, so that a busy
// machine does not fail a test; a test that fails waits it out.
const patience = 60 * time.Second

// database returns a pool on the database at $WOOTRIC_TEST_POSTGRES_URL
// and a new schema there, migrated, which the test drops when it ends;
// or skips the test.
func database(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	url := os.Getenv(urlVar)
	if url == "" {
		t.Skip(urlVar + " is not set: set it to a PostgreSQL URL, such as postgres://user:pass@127.0.0.1:5432/db, to test against it")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatalf("%s: %v", urlVar, err)
	}
	t.Cleanup(pool.Close)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "riverinbox_" + hex.EncodeToString(b[:])
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	if err := riverinbox.Migrate(ctx, pool, schema); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	if err := riverinbox.Migrate(ctx, pool, schema); err != nil {
		t.Fatalf("Migrate() again = %v, want nil", err)
	}
	return pool, schema
}

// soon retries a failed delivery at once.
type soon struct{}

func (soon) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(10 * time.Millisecond) }

// start returns an inbox for h in schema, with its workers started until
// the test ends.
func start(t *testing.T, pool *pgxpool.Pool, schema string, h *wootric.Handler, cfg riverinbox.Config) *riverinbox.Inbox {
	t.Helper()
	cfg.Schema, cfg.RetryPolicy = schema, soon{}
	cfg.Logger = slog.New(slog.DiscardHandler)
	in, err := riverinbox.New(pool, h, cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	if h.Inbox != wootric.Inbox(in) {
		t.Fatal("New did not make the inbox the Handler's")
	}
	if err := in.Start(context.Background()); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		_ = in.Stop(ctx)
	})
	return in
}

// sample returns a response-created event with id, in JSON, and the
// request that delivers it.
func sample(t *testing.T, id int64) (*wootric.Event, func() *http.Request) {
	t.Helper()
	e := wootrictest.Sample(t, wootric.ResponseCreated, wootric.NPS)
	e.Response.ID = id
	e.Timestamp = time.Now().Truncate(time.Millisecond)
	return e, func() *http.Request {
		r, err := wootrictest.NewRequest("/wootric", wootrictest.Secret, e, wootric.JSON)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
}

func serve(h http.Handler, r *http.Request) int {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// runs records the events a callback has run, and lets a test wait for
// one.
type runs struct {
	mu   sync.Mutex
	ids  []int64
	more chan struct{}
}

func newRuns() *runs { return &runs{more: make(chan struct{}, 1000)} }

func (r *runs) add(id int64) {
	r.mu.Lock()
	r.ids = append(r.ids, id)
	r.mu.Unlock()
	r.more <- struct{}{}
}

func (r *runs) wait(t *testing.T, n int) []int64 {
	t.Helper()
	deadline := time.After(patience)
	for {
		r.mu.Lock()
		got := append([]int64(nil), r.ids...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("%d runs after %v, want %d", len(got), patience, n)
		}
	}
}

// jobStates returns the states of the inbox's jobs, by object id.
func jobStates(t *testing.T, pool *pgxpool.Pool, schema string) map[int64][]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT (args->>'object_id')::bigint, state::text FROM `+schema+`.river_job WHERE kind = $1 ORDER BY id`, riverinbox.Kind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	states := map[int64][]string{}
	for rows.Next() {
		var id int64
		var state string
		if err := rows.Scan(&id, &state); err != nil {
			t.Fatal(err)
		}
		states[id] = append(states[id], state)
	}
	return states
}

// TestInboxStoresThenRuns delivers an event and a copy of it: both are
// answered 200 once stored, one job holds the exact body, and the worker
// runs it once, through the Handler's callbacks.
func TestInboxStoresThenRuns(t *testing.T) {
	pool, schema := database(t)
	got := newRuns()
	h := wootric.NewHandler(wootrictest.Secret)
	var bodies [][]byte
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		bodies = append(bodies, e.Raw)
		got.add(e.Response.ID)
		return nil
	})
	start(t, pool, schema, h, riverinbox.Config{Workers: 2})

	e, req := sample(t, 7)
	body, err := wootric.Encode(e, wootric.JSON)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []*http.Request{req(), req()} {
		if code := serve(h, r); code != http.StatusOK {
			t.Fatalf("delivery %d answered %d, want 200", i, code)
		}
	}
	if ids := got.wait(t, 1); len(ids) != 1 || ids[0] != e.Response.ID {
		t.Fatalf("ran %v, want [7]", ids)
	}
	if !bytes.Equal(bodies[0], body) {
		t.Errorf("the worker ran body %q, want the signed body %q", bodies[0], body)
	}
	if states := jobStates(t, pool, schema); len(states[7]) != 1 {
		t.Errorf("jobs %v, want one for the event", states)
	}
}

// TestInboxRetriesAndSetsAside checks each way a run ends: a failure is
// retried until it succeeds; a permanent failure is set aside at once; a
// failure on every attempt is set aside after MaxAttempts; and a dead
// letter runs again with Retry.
func TestInboxRetriesAndSetsAside(t *testing.T) {
	pool, schema := database(t)
	got := newRuns()
	var mu sync.Mutex
	attempts := map[int64]int{}
	fixed := false
	h := wootric.NewHandler(wootrictest.Secret)
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		mu.Lock()
		attempts[e.Response.ID]++
		n, ok := attempts[e.Response.ID], fixed
		mu.Unlock()
		switch id := e.Response.ID; {
		case id == 1 && n == 1:
			return errors.New("CRM unreachable")
		case id == 2 && !ok:
			return fmt.Errorf("%w: no such customer", wootric.ErrPermanent)
		case id == 3 && !ok:
			return errors.New("CRM down for days")
		}
		got.add(e.Response.ID)
		return nil
	})
	in := start(t, pool, schema, h, riverinbox.Config{Workers: 2, MaxAttempts: 3})
	for id := int64(1); id <= 3; id++ {
		_, req := sample(t, id)
		if code := serve(h, req()); code != http.StatusOK {
			t.Fatalf("delivery %d answered %d", id, code)
		}
	}
	got.wait(t, 1)
	var dead []riverinbox.DeadLetter
	for deadline := time.Now().Add(patience); ; {
		var err error
		if dead, err = in.DeadLetters(context.Background(), 10); err != nil {
			t.Fatal(err)
		}
		if len(dead) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling the database for River's work
	}
	byID := map[int64]riverinbox.DeadLetter{}
	for _, d := range dead {
		byID[d.ObjectID] = d
	}
	if d := byID[2]; d.State != rivertype.JobStateCancelled || d.Attempts != 1 || d.Type != wootric.ResponseCreated || !bytes.Contains([]byte(d.LastError), []byte("no such customer")) {
		t.Errorf("the permanent failure's dead letter is %+v, want cancelled after 1 attempt with its error", d)
	}
	if d := byID[3]; d.State != rivertype.JobStateDiscarded || d.Attempts != 3 || !bytes.Contains([]byte(d.LastError), []byte("CRM down")) {
		t.Errorf("the lasting failure's dead letter is %+v, want discarded after 3 attempts with its error", d)
	}
	mu.Lock()
	fixed = true
	mu.Unlock()
	for _, d := range dead {
		if err := in.Retry(context.Background(), d.ID); err != nil {
			t.Fatal(err)
		}
	}
	ids := got.wait(t, 3)
	seen := map[int64]int{}
	for _, id := range ids {
		seen[id]++
	}
	if seen[1] != 1 || seen[2] != 1 || seen[3] != 1 {
		t.Errorf("ran %v, want each event once", ids)
	}
}

// TestInboxPutFailureIs503 stores into a schema without River's tables:
// the delivery is answered 503, so that Wootric retries.
func TestInboxPutFailureIs503(t *testing.T) {
	pool, _ := database(t)
	h := wootric.NewHandler(wootrictest.Secret)
	if _, err := riverinbox.New(pool, h, riverinbox.Config{Schema: "riverinbox_missing"}); err != nil {
		t.Fatal(err)
	}
	_, req := sample(t, 9)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req())
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("answered %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
}

// TestInboxCompletesTheClaimInItsTransaction: with pgdedup on the same
// database as Config.Dedup, the claim is completed with the insert, and a
// copy is then a duplicate that stores nothing.
func TestInboxCompletesTheClaimInItsTransaction(t *testing.T) {
	pool, schema := database(t)
	d, err := pgdedup.New(context.Background(), pool, pgdedup.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := wootric.NewHandler(wootrictest.Secret)
	h.Dedup = &onlyTx{Deduplicator: d}
	if _, err := riverinbox.New(pool, h, riverinbox.Config{Schema: schema, Dedup: d}); err == nil {
		t.Fatal("New accepted a Config.Dedup that is not the Handler's")
	}
	h.Dedup = d
	if _, err := riverinbox.New(pool, h, riverinbox.Config{Schema: schema, Dedup: d, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	var reps []wootric.Report
	h.Observe = func(_ context.Context, rep wootric.Report) { reps = append(reps, rep) }
	e, req := sample(t, time.Now().UnixNano()%1e9)
	for range 2 {
		if code := serve(h, req()); code != http.StatusOK {
			t.Fatalf("answered %d", code)
		}
	}
	if len(reps) != 2 || reps[0].Outcome != wootric.OutcomeStored || reps[1].Outcome != wootric.OutcomeDuplicate || reps[0].Unrecorded != nil {
		t.Errorf("Reports %+v, want stored then duplicate", reps)
	}
	body, _ := wootric.Encode(e, wootric.JSON)
	sent, _ := wootric.Decode(body)
	res, _, err := d.Claim(context.Background(), wootric.DedupKey(sent), time.Minute)
	if err != nil || res != wootric.ClaimCompleted {
		t.Errorf("Claim() after the delivery = %v, %v; want completed", res, err)
	}
}

// onlyTx is a Deduplicator other than the one given as Config.Dedup.
type onlyTx struct{ *pgdedup.Deduplicator }

// TestCompleteTx runs a callback that writes a row and completes its job
// in one transaction: the row and the job's completion commit together.
func TestCompleteTx(t *testing.T) {
	pool, schema := database(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE `+schema+`.answers (id bigint PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	got := newRuns()
	h := wootric.NewHandler(wootrictest.Secret)
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO `+schema+`.answers VALUES ($1)`, e.Response.ID); err != nil {
				return err
			}
			return riverinbox.CompleteTx(ctx, tx)
		})
		if err == nil {
			got.add(e.Response.ID)
		}
		return err
	})
	start(t, pool, schema, h, riverinbox.Config{Workers: 1})
	_, req := sample(t, 11)
	if code := serve(h, req()); code != http.StatusOK {
		t.Fatalf("answered %d", code)
	}
	got.wait(t, 1)
	for deadline := time.Now().Add(patience); ; time.Sleep(50 * time.Millisecond) {
		if s := jobStates(t, pool, schema)[11]; len(s) == 1 && s[0] == "completed" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("job states %v, want completed", s)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.answers`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d rows, %v; want 1", n, err)
	}
	if err := riverinbox.CompleteTx(ctx, nil); !errors.Is(err, riverinbox.ErrNoJob) {
		t.Errorf("CompleteTx outside a worker = %v, want ErrNoJob", err)
	}
}

// TestWorkerKeepsTheJobOfAHandlerWithoutItsInbox: a worker whose Handler
// has lost its Inbox would have Process claim the event from Dedup, find
// it completed when it was stored, and run nothing; it fails instead, and
// the job stays to run.
func TestWorkerKeepsTheJobOfAHandlerWithoutItsInbox(t *testing.T) {
	pool, schema := database(t)
	receiver := wootric.NewHandler(wootrictest.Secret)
	receiver.Dedup = &wootric.MemoryDeduplicator{}
	if _, err := riverinbox.New(pool, receiver, riverinbox.Config{Schema: schema, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	_, req := sample(t, 51)
	if code := serve(receiver, req()); code != http.StatusOK {
		t.Fatalf("answered %d", code)
	}
	h := wootric.NewHandler(wootrictest.Secret)
	h.Dedup = receiver.Dedup
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { t.Error("ran"); return nil })
	in, err := riverinbox.New(pool, h, riverinbox.Config{Workers: 1, Schema: schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h.Inbox = nil // before the worker starts
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer in.Stop(context.Background())
	for deadline := time.Now().Add(patience); ; time.Sleep(20 * time.Millisecond) {
		var state string
		var errs int
		if err := pool.QueryRow(context.Background(), `SELECT state::text, coalesce(array_length(errors, 1), 0) FROM `+schema+`.river_job`).Scan(&state, &errs); err != nil {
			t.Fatal(err)
		}
		if state == "completed" {
			t.Fatal("the job completed without running")
		}
		if errs > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s, no error recorded", state)
		}
	}
}
