package riverinbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/pgdedup"
	"github.com/wootric-go/wootric/riverinbox"
	"github.com/wootric-go/wootric/wootrictest"
)

// The fault test restarts its PostgreSQL server, so it runs on a cluster
// of its own, which no other test uses: faultsURLVar points at it, and
// faultsClusterVar names it for pg_ctlcluster ("15 faults"). .ci/run
// creates and starts it.
const (
	faultsURLVar     = "WOOTRIC_TEST_POSTGRES_FAULTS_URL"
	faultsClusterVar = "WOOTRIC_TEST_POSTGRES_FAULTS_CLUSTER"
)

// Sizes of TestInboxLosesNothingUnderFaults.
const (
	faultEvents   = 1000
	faultReplicas = 3
	faultWorkers  = 2
	// faultOutage is how long the server stays down: senders keep
	// sending all through it.
	faultOutage = 1500 * time.Millisecond
)

// faultOf says what the callback does with event i: fail permanently on
// every attempt (one in ten), panic on its first attempt (one in
// fourteen), fail on its first attempt (30% in all with the panics), or
// succeed.
func faultOf(i int64) string {
	switch {
	case i%10 == 0:
		return "permanent"
	case i%14 == 7:
		return "panic"
	case i%10 <= 3:
		return "fail"
	}
	return "ok"
}

// attempt is one delivery of a copy of an event, as its sender saw it.
type attempt struct {
	start, end time.Time
	code       int
}

// TestInboxLosesNothingUnderFaults runs 3 receiving replicas and 2
// workers on one database. Each of 1,000 events is sent twice at once, to
// two replicas, and each copy again until it is answered 2xx. Callbacks
// fail or panic on a first attempt, or fail for good; and the server is
// stopped and started again mid-run. Every event must end run exactly
// once (its effect committed with its job's completion) or set aside as a
// dead letter with its error; no delivery may be answered 2xx while the
// server is down; and each has one job.
func TestInboxLosesNothingUnderFaults(t *testing.T) {
	url, cluster := os.Getenv(faultsURLVar), os.Getenv(faultsClusterVar)
	if url == "" || cluster == "" {
		t.Skip(faultsURLVar + " and " + faultsClusterVar + " are not set: set them to a PostgreSQL cluster of its own, which the test restarts with pg_ctlcluster, such as postgres://u:p@127.0.0.1:5434/db and \"15 faults\"")
	}
	if testing.Short() {
		t.Skip("restarts a PostgreSQL cluster and sends 2,000 deliveries")
	}
	ctx := context.Background()
	admin := connect(t, url)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "faults_" + hex.EncodeToString(b[:])
	mustExec(t, admin, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	mustExec(t, admin, "CREATE TABLE "+schema+".effects (id bigint NOT NULL)")
	if err := riverinbox.Migrate(ctx, admin, schema); err != nil {
		t.Fatal(err)
	}

	// The workers: their callbacks write the event's effect and complete
	// the job in one transaction.
	var mu sync.Mutex
	attempts := map[int64]int{}
	for w := range faultWorkers {
		pool := connect(t, url)
		h := wootric.NewHandler(wootrictest.Secret)
		h.CallbackTimeout = 5 * time.Second
		h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
			id := e.Response.ID
			mu.Lock()
			attempts[id]++
			first := attempts[id] == 1
			mu.Unlock()
			switch faultOf(id) {
			case "permanent":
				return fmt.Errorf("%w: event %d has no customer", wootric.ErrPermanent, id)
			case "panic":
				if first {
					panic(fmt.Sprintf("bug on event %d", id))
				}
			case "fail":
				if first {
					return fmt.Errorf("CRM unreachable for event %d", id)
				}
			}
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "INSERT INTO "+schema+".effects VALUES ($1)", id); err != nil {
					return err
				}
				return riverinbox.CompleteTx(ctx, tx)
			})
		})
		in, err := riverinbox.New(pool, h, riverinbox.Config{Workers: 8, Schema: schema, RetryPolicy: soon{},
			RescueAfter: 10 * time.Second, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("worker %d: %v", w, err)
		}
		if err := in.Start(ctx); err != nil {
			t.Fatalf("worker %d: %v", w, err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			_ = in.Stop(ctx)
		})
	}

	// The receivers: the first de-duplicated with pgdedup, whose claim the
	// insert completes in its transaction; the others with only the job's
	// uniqueness, so that each way of storing meets the outage.
	var urls []string
	for r := range faultReplicas {
		pool := connect(t, url)
		h := wootric.NewHandler(wootrictest.Secret)
		cfg := riverinbox.Config{Schema: schema, Logger: slog.New(slog.DiscardHandler)}
		if r == 0 {
			d, err := pgdedup.New(ctx, pool, pgdedup.Config{})
			if err != nil {
				t.Fatalf("replica %d: %v", r, err)
			}
			h.Dedup, h.DedupLease, cfg.Dedup = d, 10*time.Second, d
		}
		if _, err := riverinbox.New(pool, h, cfg); err != nil {
			t.Fatalf("replica %d: %v", r, err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}

	// The senders.
	var (
		logMu   sync.Mutex
		log     = map[int64][]attempt{}
		acked   atomic.Int32
		outage  = make(chan struct{}) // closed once a third of the events are acknowledged
		outOnce sync.Once
		gaveUp  atomic.Int32
	)
	client := &http.Client{Timeout: 30 * time.Second}
	send := func(id int64, replica int, body []byte) {
		wait := 20 * time.Millisecond
		for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); {
			a := attempt{start: time.Now()}
			req, _ := http.NewRequest(http.MethodPost, urls[replica], strings.NewReader(string(body)))
			req.Header.Set(wootric.SignatureHeader, wootric.Sign(wootrictest.Secret, body))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := client.Do(req); err == nil {
				a.code = resp.StatusCode
				resp.Body.Close()
			}
			a.end = time.Now()
			logMu.Lock()
			log[id] = append(log[id], a)
			logMu.Unlock()
			if a.code >= 200 && a.code < 300 {
				return
			}
			time.Sleep(wait) // the sender's backoff, as Wootric's
			wait = min(2*wait, 500*time.Millisecond)
		}
		gaveUp.Add(1)
	}
	// A third of the events are sent before the outage, a third once the
	// server is down, and a third once it is up again.
	start := time.Now()
	downCh, upCh := make(chan struct{}), make(chan struct{})
	var senders sync.WaitGroup
	sem := make(chan struct{}, 24)
	for i := int64(1); i <= faultEvents; i++ {
		e := wootrictest.Sample(t, wootric.ResponseCreated, wootric.NPS)
		e.Response.ID = i
		e.Timestamp = start.Truncate(time.Millisecond)
		// pgdedup's table outlives the run: a run of its own makes its
		// events new to it.
		e.Response.Text = "run " + schema
		body, err := wootric.Encode(e, wootric.JSON)
		if err != nil {
			t.Fatal(err)
		}
		gate := map[int64]chan struct{}{0: nil, 1: downCh, 2: upCh}[3*(i-1)/faultEvents]
		senders.Add(1)
		go func() {
			defer senders.Done()
			if gate != nil {
				<-gate
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			var copies sync.WaitGroup
			for c := range 2 {
				copies.Add(1)
				go func() { defer copies.Done(); send(i, (int(i)+c)%faultReplicas, body) }()
			}
			copies.Wait()
			if gate == nil && acked.Add(1) == faultEvents/3 {
				outOnce.Do(func() { close(outage) })
			}
		}()
	}

	<-outage
	pgctl(t, cluster, "stop", "-m", "fast")
	down := time.Now()
	close(downCh)
	time.Sleep(faultOutage) // the senders of the second third send meanwhile
	up := time.Now()
	pgctl(t, cluster, "start")
	close(upCh)
	senders.Wait()
	if n := gaveUp.Load(); n > 0 {
		t.Fatalf("%d copies were never answered 2xx in 3 minutes", n)
	}

	// Every event's job ends: completed, cancelled or discarded.
	var states map[int64][]jobState
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		var ended bool
		states, ended = jobStatesOf(t, admin, schema)
		if ended && len(states) == faultEvents || time.Now().After(deadline) {
			break
		}
	}
	effects := map[int64]int{}
	rows, err := admin.Query(ctx, "SELECT id FROM "+schema+".effects")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		effects[id]++
	}
	rows.Close()

	var during, answered, tried int
	for i := int64(1); i <= faultEvents; i++ {
		for _, a := range log[i] {
			if a.start.After(down) && a.end.Before(up) {
				tried++
			}
			if a.code >= 200 && a.code < 300 {
				answered++
				if a.start.After(down) && a.end.Before(up) {
					during++
				}
			}
		}
		jobs := states[i]
		switch want := faultOf(i); {
		case len(jobs) != 1:
			t.Errorf("event %d (%s): jobs %v, want one", i, want, jobs)
		case want == "permanent":
			if jobs[0].state != "cancelled" || !strings.Contains(jobs[0].lastError, "no customer") || effects[i] != 0 {
				t.Errorf("event %d: job %v, %d effects; want a dead letter with its error, and none", i, jobs[0], effects[i])
			}
		default:
			if jobs[0].state != "completed" || effects[i] != 1 {
				t.Errorf("event %d (%s): job %v, %d effects; want completed, once", i, want, jobs[0], effects[i])
			}
		}
	}
	if tried == 0 {
		t.Error("no delivery was tried while the server was down")
	}
	if during > 0 {
		t.Errorf("%d deliveries were answered 2xx while the server was down", during)
	}
	t.Logf("%d events, %d copies answered 2xx, %d deliveries sent in all, %d while the server was down (for %v); %v in all",
		faultEvents, answered, countAttempts(log), tried, up.Sub(down).Round(time.Millisecond), time.Since(start).Round(time.Second))
}

type jobState struct {
	state, lastError string
}

// jobStatesOf returns the jobs of the inbox by object id, and whether
// they have all ended; nil while the server cannot answer.
func jobStatesOf(t *testing.T, pool *pgxpool.Pool, schema string) (map[int64][]jobState, bool) {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT (args->>'object_id')::bigint, state::text,
		coalesce(errors[array_length(errors, 1)]->>'error', '') FROM `+schema+`.river_job`)
	if err != nil {
		t.Logf("listing jobs: %v", err)
		return nil, false // the server may still be starting
	}
	defer rows.Close()
	states, ended := map[int64][]jobState{}, true
	for rows.Next() {
		var id int64
		var s jobState
		if err := rows.Scan(&id, &s.state, &s.lastError); err != nil {
			return nil, false
		}
		switch s.state {
		case "completed", "cancelled", "discarded":
		default:
			ended = false
		}
		states[id] = append(states[id], s)
	}
	if rows.Err() != nil {
		return nil, false
	}
	return states, ended
}

func countAttempts(log map[int64][]attempt) int {
	n := 0
	for _, as := range log {
		n += len(as)
	}
	return n
}

// connect returns a pool on url, closed when the test ends.
func connect(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func mustExec(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// pgctl runs pg_ctlcluster on cluster ("15 faults").
func pgctl(t *testing.T, cluster string, action string, args ...string) {
	t.Helper()
	argv := append(strings.Fields(cluster), action)
	argv = append(argv, args...)
	out, err := exec.Command("pg_ctlcluster", argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_ctlcluster %v: %v: %s", argv, err, out)
	}
}
