package riverinbox_test

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/riverinbox"
	"github.com/wootric-go/wootric/wootrictest"
)

// workerVar, in the environment of this test binary, makes
// TestInboxWorkerKilledMidRun a worker process that takes a delivery from
// the schema it names, says so, and hangs, to be killed.
const workerVar = "WOOTRIC_RIVERINBOX_KILLED_WORKER_SCHEMA"

// TestInboxWorkerKilledMidRun stores a delivery, lets a worker in another
// process take it, kills that process with SIGKILL mid-run, and checks
// that a worker here runs the delivery once River has found it abandoned:
// retried, not lost.
func TestInboxWorkerKilledMidRun(t *testing.T) {
	if schema := os.Getenv(workerVar); schema != "" {
		hangingWorker(t, schema)
		return
	}
	pool, schema := database(t)
	receiver := wootric.NewHandler(wootrictest.Secret)
	if _, err := riverinbox.New(pool, receiver, riverinbox.Config{Schema: schema, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	_, req := sample(t, 31)
	if code := serve(receiver, req()); code != http.StatusOK {
		t.Fatalf("answered %d", code)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestInboxWorkerKilledMidRun$", "-test.v")
	cmd.Env = append(os.Environ(), workerVar+"="+schema)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	running := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "worker running event 31") {
				running <- true
				break
			}
		}
		running <- false
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-running:
		if !ok {
			t.Fatal("the worker process ended without running the delivery")
		}
	case <-time.After(patience):
		t.Fatal("the worker process did not run the delivery")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if s := jobStates(t, pool, schema)[31]; len(s) != 1 || s[0] != "running" {
		t.Fatalf("job %v after the kill, want running", s)
	}

	got := newRuns()
	h := wootric.NewHandler(wootrictest.Secret)
	h.CallbackTimeout = time.Second
	h.On(wootric.ResponseCreated, func(_ context.Context, e *wootric.Event) error { got.add(e.Response.ID); return nil })
	start(t, pool, schema, h, riverinbox.Config{Workers: 1, RescueAfter: 2 * time.Second})
	if ids := got.wait(t, 1); ids[0] != 31 {
		t.Errorf("ran %v, want event 31", ids)
	}
}

// hangingWorker runs a worker on schema whose callback says which event
// it runs and never returns.
func hangingWorker(t *testing.T, schema string) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv(urlVar))
	if err != nil {
		t.Fatal(err)
	}
	h := wootric.NewHandler(wootrictest.Secret)
	h.CallbackTimeout = -1
	h.On(wootric.ResponseCreated, func(_ context.Context, e *wootric.Event) error {
		os.Stdout.WriteString("worker running event " + strconv.FormatInt(e.Response.ID, 10) + "\n")
		select {}
	})
	in, err := riverinbox.New(pool, h, riverinbox.Config{Workers: 1, Schema: schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {} // until killed
}
