package riverinbox_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/riverinbox"
	"github.com/wootric-go/wootric/wootrictest"
)

// benchVar gates TestInboxAcknowledgementLatency, which takes some 20
// seconds and measures rather than checks.
const benchVar = "WOOTRIC_BENCH_INBOX"

// connsVar, if set, is the MaxConns of the inbox's pool in
// TestInboxAcknowledgementLatency, in place of pgxpool's default.
const connsVar = "WOOTRIC_BENCH_INBOX_CONNS"

// Parameters of TestInboxAcknowledgementLatency.
const (
	ackRate       = 200             // deliveries a second, open loop
	ackDeliveries = 2000            // with the inbox: 10 s at ackRate
	ackBaseline   = 200             // in the request: 1 s at ackRate, each taking callbackWork
	ackPacers     = 4               // client goroutines that keep the schedule
	ackWorkers    = 50              // River workers: they run 25 deliveries a second, so are never idle
	callbackWork  = 2 * time.Second // what each callback takes
	ackWarmUp     = 10              // deliveries sent at once first, not measured
)

// TestInboxAcknowledgementLatency measures how long Wootric waits for its
// answer when the callbacks are slow (2 s each): with a riverinbox Inbox
// the Handler answers once the delivery is a committed River job, and
// without one (the baseline) once the callback has run in the request.
//
// Each configuration is served by a real HTTP server (httptest.NewServer)
// over loopback, and fed distinct signed deliveries (response.created,
// each with its own Response.ID and a timestamp taken when it is sent) on
// an open-loop schedule: delivery i is due at start + i/200 s, whatever
// the answers to those before it. ackPacers goroutines keep the schedule,
// each sleeping until its next delivery is due and sending it on a
// goroutine of its own, so that a slow answer never delays the sends after
// it; and each latency is counted from when the delivery was due, not
// from when it was sent, so that a late send (a busy client, a stalled
// scheduler) counts against the server instead of hiding (no coordinated
// omission). A latency ends when the answer's body has been read.
//
// The inbox runs ackDeliveries (10 s at 200/s) with ackWorkers River
// workers, far fewer than the 400 that 2-second callbacks at 200/s would
// need: the workers are busy throughout and a backlog grows, as in an
// outage of what the callbacks call. The pool is the one riverinbox's
// README shows, pgxpool's default (max(4, CPUs) connections), which the
// requests' inserts share with River's fetching, completing and
// listening, unless WOOTRIC_BENCH_INBOX_CONNS sets another size: its
// statistics are logged. The baseline runs ackBaseline deliveries (1 s at
// 200/s), enough for its p99, which is the callback's 2 s.
//
// It logs p50, p90, p99 and max, and the count of answers other than
// 200, for each; it fails only on such answers or on errors, never on
// timing, which a shared CI machine makes noisy. It needs a PostgreSQL
// server (WOOTRIC_TEST_POSTGRES_URL, as the other tests) and runs only
// with WOOTRIC_BENCH_INBOX=1:
//
//	WOOTRIC_BENCH_INBOX=1 WOOTRIC_TEST_POSTGRES_URL=postgres://... \
//	  go test -run '^TestInboxAcknowledgementLatency$' -count=1 -v ./riverinbox
func TestInboxAcknowledgementLatency(t *testing.T) {
	if os.Getenv(benchVar) != "1" {
		t.Skip(benchVar + " is not 1: set it, and " + urlVar + ", to measure acknowledgement latency (about 20 s)")
	}
	slow := func(ctx context.Context, e *wootric.Event) error {
		select {
		case <-time.After(callbackWork):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	t.Run("inbox", func(t *testing.T) {
		pool, schema := database(t)
		if v := os.Getenv(connsVar); v != "" {
			pool = sizedPool(t, v)
		}
		var logs lockedBuffer
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		h := wootric.NewHandler(wootrictest.Secret)
		h.Logger = logger
		h.On(wootric.ResponseCreated, slow)
		in, err := riverinbox.New(pool, h, riverinbox.Config{Workers: ackWorkers, Schema: schema, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Before the schema is dropped: the workers, then the server.
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			if err := in.Stop(ctx); err != nil {
				t.Errorf("Stop() = %v", err)
			}
			if s := logs.String(); s != "" {
				t.Logf("inbox: warnings and errors logged:\n%s", s)
			}
		})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		res := load(t, srv.URL, ackDeliveries, 1_000_000)
		stat := pool.Stat()
		res.report(t, "inbox")
		t.Logf("inbox: %d workers; jobs when the last answer came: %v", ackWorkers, countStates(t, pool, schema))
		t.Logf("inbox: pool of %d connections: %d acquires, %d of them waited (%v waiting in all), %d canceled",
			stat.MaxConns(), stat.AcquireCount(), stat.EmptyAcquireCount(), stat.AcquireDuration().Round(time.Millisecond), stat.CanceledAcquireCount())
	})

	t.Run("in-request", func(t *testing.T) {
		h := wootric.NewHandler(wootrictest.Secret)
		var logs lockedBuffer
		h.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		h.On(wootric.ResponseCreated, slow)
		srv := httptest.NewServer(h)
		defer srv.Close()
		res := load(t, srv.URL, ackBaseline, 2_000_000)
		res.report(t, "in-request")
		if s := logs.String(); s != "" {
			t.Logf("in-request: warnings and errors logged:\n%s", s)
		}
	})
}

// ackResult is what load measured.
type ackResult struct {
	n       int
	elapsed time.Duration   // from the first due time to the last answer
	lat     []time.Duration // sorted, of the deliveries answered
	codes   map[int]int     // answers other than 200, by status
	errs    []error
}

// load sends n deliveries to url at ackRate, open loop, after ackWarmUp
// sent at once, which open the first connections and prepare the first
// statements; the response ids are from firstID.
func load(t *testing.T, url string, n int, firstID int64) ackResult {
	t.Helper()
	tr := &http.Transport{MaxIdleConns: 2000, MaxIdleConnsPerHost: 2000, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	tmpl := wootrictest.Sample(t, wootric.ResponseCreated, wootric.NPS)

	// send delivers response id, and returns its status.
	send := func(id int64) (int, error) {
		e, r := *tmpl, *tmpl.Response
		e.Response = &r
		e.Response.ID = id
		e.Timestamp = time.Now().Truncate(time.Millisecond)
		body, err := wootric.Encode(&e, wootric.JSON)
		if err != nil {
			return 0, err
		}
		req, err := http.NewRequest(http.MethodPost, url+"/wootric", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", wootric.JSON.ContentType())
		req.Header.Set(wootric.SignatureHeader, wootric.Sign(wootrictest.Secret, body))
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, err
	}

	var warm sync.WaitGroup
	for i := range ackWarmUp {
		warm.Go(func() {
			if code, err := send(firstID + int64(n+i)); err != nil || code != http.StatusOK {
				t.Errorf("warm-up delivery: %d, %v", code, err)
			}
		})
	}
	if warm.Wait(); t.Failed() {
		t.FailNow()
	}

	lat := make([]time.Duration, n)
	codes := make([]int, n)
	errs := make([]error, n)
	interval := time.Second / ackRate
	start := time.Now().Add(50 * time.Millisecond)
	var wg sync.WaitGroup
	for p := range ackPacers {
		wg.Go(func() {
			for i := p; i < n; i += ackPacers {
				due := start.Add(time.Duration(i) * interval)
				time.Sleep(time.Until(due))
				wg.Go(func() {
					codes[i], errs[i] = send(firstID + int64(i))
					lat[i] = time.Since(due)
				})
			}
		})
	}
	wg.Wait()

	res := ackResult{n: n, elapsed: time.Since(start), codes: map[int]int{}}
	for i := range n {
		switch {
		case errs[i] != nil:
			res.errs = append(res.errs, errs[i])
		case codes[i] != http.StatusOK:
			res.codes[codes[i]]++
		default:
			res.lat = append(res.lat, lat[i])
		}
	}
	slices.Sort(res.lat)
	return res
}

// report logs r's figures, and fails the test for answers other than 200
// and errors.
func (r ackResult) report(t *testing.T, name string) {
	t.Helper()
	non200 := 0
	for _, c := range r.codes {
		non200 += c
	}
	t.Logf("%s: %d deliveries at %d/s in %v: p50 %v  p90 %v  p99 %v  max %v  non-200 %d %v  errors %d",
		name, r.n, ackRate, r.elapsed.Round(time.Millisecond),
		r.pct(50), r.pct(90), r.pct(99), r.max(), non200, r.codes, len(r.errs))
	if non200 > 0 {
		t.Errorf("%s: %d answers other than 200: %v", name, non200, r.codes)
	}
	for i, err := range r.errs {
		if i == 5 {
			t.Errorf("%s: and %d more errors", name, len(r.errs)-i)
			break
		}
		t.Errorf("%s: %v", name, err)
	}
}

// pct returns the p-th percentile of the latencies, by nearest rank.
func (r ackResult) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(r.lat)))) - 1
	return round(r.lat[max(i, 0)])
}

func (r ackResult) max() time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return round(r.lat[len(r.lat)-1])
}

func round(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(10 * time.Microsecond)
}

// sizedPool returns a pool of at most conns connections on the test
// database, closed when the test ends.
func sizedPool(t *testing.T, conns string) *pgxpool.Pool {
	t.Helper()
	n, err := strconv.Atoi(conns)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number of connections", connsVar, conns)
	}
	cfg, err := pgxpool.ParseConfig(os.Getenv(urlVar))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = int32(n)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// countStates returns how many of the inbox's jobs are in each state.
func countStates(t *testing.T, pool *pgxpool.Pool, schema string) map[string]int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT state::text, count(*) FROM `+schema+`.river_job GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// lockedBuffer collects log records from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
