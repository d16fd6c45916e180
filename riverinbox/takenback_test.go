package riverinbox_test

import (
	"context"

	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/riverinbox"
	"github.com/wootric-go/wootric/wootrictest"
)

// later retries a failed delivery only after an hour: the job stays
// retryable for the test's whole length.
type later struct{}

func (later) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(time.Hour) }

// TestCompleteTxAfterTakenBack: a run overruns CallbackTimeout, its job
// is set to be retried, and the run, going on unwaited for, then writes
// its effects and calls CompleteTx: CompleteTx fails, the writes roll
// back, and the effects are committed once, by the retry. (River's
// JobCompleteTx returns the row unchanged, and no error, for a job that
// is no longer running.)
func TestCompleteTxAfterTakenBack(t *testing.T) {
	pool, schema := database(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE `+schema+`.effects (n serial PRIMARY KEY, id bigint)`); err != nil {
		t.Fatal(err)
	}
	var attempt atomic.Int32
	lateDone := make(chan error, 1)
	h := wootric.NewHandler(wootrictest.Secret)
	h.CallbackTimeout = 300 * time.Millisecond
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		n := attempt.Add(1)
		write := func(ctx context.Context) error {
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO `+schema+`.effects (id) VALUES ($1)`, e.Response.ID); err != nil {
					return err
				}
				return riverinbox.CompleteTx(ctx, tx)
			})
		}
		if n == 1 {
			// A callback that finishes its write whatever its deadline.
			ctx = context.WithoutCancel(ctx)
			for deadline := time.Now().Add(patience); ; time.Sleep(20 * time.Millisecond) {
				var state string
				_ = pool.QueryRow(ctx, `SELECT state::text FROM `+schema+`.river_job`).Scan(&state)
				if state == "retryable" || time.Now().After(deadline) {
					break // past the deadline, and taken back
				}
			}
			err := write(ctx)
			lateDone <- err
			return err
		}
		return write(ctx)
	})
	cfg := riverinbox.Config{Workers: 1, Schema: schema, RetryPolicy: later{}, Logger: slog.New(slog.DiscardHandler)}
	in, err := riverinbox.New(pool, h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer in.Stop(ctx)
	_, req := sample(t, 21)
	if code := serve(h, req()); code != http.StatusOK {
		t.Fatalf("answered %d", code)
	}
	var lateErr error
	select {
	case lateErr = <-lateDone:
	case <-time.After(patience):
		t.Fatal("the late run never ended")
	}
	var rows int
	var state string
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.effects`).Scan(&rows)
	_ = pool.QueryRow(ctx, `SELECT state::text FROM `+schema+`.river_job WHERE kind = $1`, riverinbox.Kind).Scan(&state)
	t.Logf("late CompleteTx err=%v; effects rows=%d; job state=%s", lateErr, rows, state)
	if lateErr == nil && rows == 1 && state != "completed" {
		t.Errorf("CompleteTx succeeded on a job River had taken back (state %s): its effects committed and the job will run again", state)
	}
	// Let the job run again now, as its retry would, and count the effects.
	if _, err := in.Client().JobRetry(ctx, jobID(t, pool, schema)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(patience); ; time.Sleep(50 * time.Millisecond) {
		_ = pool.QueryRow(ctx, `SELECT state::text FROM `+schema+`.river_job WHERE kind = $1`, riverinbox.Kind).Scan(&state)
		if state == "completed" || time.Now().After(deadline) {
			break
		}
	}
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.effects`).Scan(&rows)
	if rows != 1 {
		t.Errorf("the effects of an event completed with CompleteTx were committed %d times, want exactly once", rows)
	}
}

func jobID(t *testing.T, pool interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, schema string) int64 {
	t.Helper()
	var id int64
	if err := pool.QueryRow(context.Background(), `SELECT id FROM `+schema+`.river_job WHERE kind = $1 ORDER BY id LIMIT 1`, riverinbox.Kind).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestCompleteTxConcurrentAttempts: attempt 1 overruns, attempt 2 runs
// and completes the job with CompleteTx; attempt 1 then writes and calls
// CompleteTx on the completed job, which fails: the effects are committed
// once.
func TestCompleteTxConcurrentAttempts(t *testing.T) {
	pool, schema := database(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE `+schema+`.effects (n serial PRIMARY KEY, id bigint)`); err != nil {
		t.Fatal(err)
	}
	var attempt atomic.Int32
	secondDone := make(chan struct{})
	lateDone := make(chan error, 1)
	h := wootric.NewHandler(wootrictest.Secret)
	h.CallbackTimeout = 300 * time.Millisecond
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		n := attempt.Add(1)
		if n == 1 {
			ctx = context.WithoutCancel(ctx)
			<-secondDone
		}
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO `+schema+`.effects (id) VALUES ($1)`, e.Response.ID); err != nil {
				return err
			}
			return riverinbox.CompleteTx(ctx, tx)
		})
		if n == 1 {
			lateDone <- err
		} else if n == 2 {
			close(secondDone)
		}
		return err
	})
	start(t, pool, schema, h, riverinbox.Config{Workers: 2})
	_, req := sample(t, 22)
	if code := serve(h, req()); code != http.StatusOK {
		t.Fatalf("answered %d", code)
	}
	var lateErr error
	select {
	case lateErr = <-lateDone:
	case <-time.After(patience):
		t.Fatal("the late run never ended")
	}
	var rows int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.effects`).Scan(&rows)
	t.Logf("late CompleteTx on a completed job: err=%v; effects rows=%d", lateErr, rows)
	if rows != 1 {
		t.Errorf("effects committed %d times with CompleteTx, want exactly once", rows)
	}
}

// TestCopyOfDeadLetter: without Dedup, a copy of an event whose job was
// set aside (ErrPermanent) stores nothing, and the dead letter runs again
// when retried. (With River's default uniqueness, which leaves cancelled
// and discarded jobs out, the copy was a second job, set aside again, and
// retrying both failed on the unique index.)
func TestCopyOfDeadLetter(t *testing.T) {
	pool, schema := database(t)
	var fixed atomic.Bool
	var runs atomic.Int32
	h := wootric.NewHandler(wootrictest.Secret)
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		runs.Add(1)
		if !fixed.Load() {
			return fmt.Errorf("%w: no such customer", wootric.ErrPermanent)
		}
		return nil
	})
	in := start(t, pool, schema, h, riverinbox.Config{Workers: 1})
	_, req := sample(t, 31)
	waitDead := func(n int) []riverinbox.DeadLetter {
		for deadline := time.Now().Add(patience); ; time.Sleep(50 * time.Millisecond) {
			dead, err := in.DeadLetters(context.Background(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(dead) >= n || time.Now().After(deadline) {
				return dead
			}
		}
	}
	if code := serve(h, req()); code != http.StatusOK {
		t.Fatal(code)
	}
	waitDead(1)
	if code := serve(h, req()); code != http.StatusOK { // Wootric sends it again
		t.Fatal(code)
	}
	// Put stores, or not, before the answer: the jobs are as they will be.
	dead := waitDead(1)
	if jobs := jobStates(t, pool, schema)[31]; len(jobs) != 1 {
		t.Errorf("a copy of a dead letter was stored as another job: jobs %v", jobs)
	}
	t.Logf("dead letters for one event: %d, runs: %d, states %v", len(dead), runs.Load(), jobStates(t, pool, schema))
	fixed.Store(true)
	var errs []error
	for _, d := range dead {
		errs = append(errs, in.Retry(context.Background(), d.ID))
	}
	t.Logf("Retry errors: %v", errs)
	if len(dead) != 1 {
		t.Errorf("a copy of a dead letter was stored as another job: %d dead letters for one event", len(dead))
	}
	for _, err := range errs {
		if err != nil {
			t.Errorf("retrying every dead letter failed: %v", err)
		}
	}
}

// TestRetryACompletedJob: Inbox.Retry (and wootric-inbox retry ID)
// refuses a job that is not a dead letter: a completed delivery would run
// again.
func TestRetryACompletedJob(t *testing.T) {
	pool, schema := database(t)
	got := newRuns()
	h := wootric.NewHandler(wootrictest.Secret)
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error { got.add(e.Response.ID); return nil })
	in := start(t, pool, schema, h, riverinbox.Config{Workers: 1})
	_, req := sample(t, 41)
	if code := serve(h, req()); code != http.StatusOK {
		t.Fatal(code)
	}
	got.wait(t, 1)
	for deadline := time.Now().Add(patience); ; time.Sleep(50 * time.Millisecond) {
		if s := jobStates(t, pool, schema)[41]; len(s) == 1 && s[0] == "completed" || time.Now().After(deadline) {
			break
		}
	}
	if err := in.Retry(context.Background(), jobID(t, pool, schema)); err == nil {
		got.wait(t, 2)
		t.Errorf("Retry of a completed (not dead) delivery was accepted and ran it again")
	}
}
