package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/riverinbox"
	"github.com/wootric-go/wootric/wootrictest"
)

const urlVar = "WOOTRIC_TEST_POSTGRES_URL"

type result struct {
	code           int
	stdout, stderr string
}

func runCmd(url string, args ...string) result {
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, func(k string) string {
		if k == "DATABASE_URL" {
			return url
		}
		return ""
	})
	return result{code, out.String(), errOut.String()}
}

func TestMisuse(t *testing.T) {
	tests := []struct {
		name string
		url  string
		args []string
		want string
	}{
		{"no command", "postgres://x", nil, "no command"},
		{"no database", "", []string{"list"}, "no database"},
		{"unknown command", "postgres://x", []string{"drop"}, `unknown command "drop"`},
		{"retry nothing", "postgres://x", []string{"retry"}, "no job id"},
		{"retry ids and all", "postgres://x", []string{"retry", "-all", "3"}, "not both"},
		{"retry a bad id", "postgres://x", []string{"retry", "x1"}, `"x1" is not a job id`},
		{"list with an argument", "postgres://x", []string{"list", "extra"}, `unexpected argument "extra"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runCmd(tc.url, tc.args...)
			if res.code != 2 || !strings.Contains(res.stderr, tc.want) || !strings.Contains(res.stderr, "usage:") {
				t.Errorf("exit %d, stderr %q; want 2, %q and the usage", res.code, res.stderr, tc.want)
			}
		})
	}
}

// TestMigrateListRetry migrates a schema, sets a delivery aside through
// a real inbox, lists it, and runs it again.
func TestMigrateListRetry(t *testing.T) {
	url := os.Getenv(urlVar)
	if url == "" {
		t.Skip(urlVar + " is not set: set it to a PostgreSQL URL to test against it")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "wootric_inbox_cmd_" + hex.EncodeToString(b[:])
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	defer pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")

	if res := runCmd(url, "-schema", schema, "migrate"); res.code != 0 {
		t.Fatalf("migrate: exit %d, %q", res.code, res.stderr)
	}
	if res := runCmd(url, "-schema", schema, "list"); res.code != 0 || !strings.Contains(res.stdout, "no dead letters") {
		t.Fatalf("list of none: exit %d, %q %q", res.code, res.stdout, res.stderr)
	}

	var fixed, ran atomic.Bool
	h := wootric.NewHandler(wootrictest.Secret)
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error {
		if !fixed.Load() {
			return fmt.Errorf("%w: no customer for jane@example.com\x1b[31m", wootric.ErrPermanent)
		}
		ran.Store(true)
		return nil
	})
	in, err := riverinbox.New(pool, h, riverinbox.Config{Workers: 1, Schema: schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer in.Stop(context.Background())
	e := wootrictest.Sample(t, wootric.ResponseCreated, wootric.NPS)
	e.Response.ID = 4242
	w := wootrictest.Deliver(t, h, "/wootric", wootrictest.Secret, e, wootric.JSON)
	if w.Code != 200 {
		t.Fatalf("answered %d", w.Code)
	}
	var res result
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		res = runCmd(url, "-schema", schema, "list")
		if strings.Contains(res.stdout, "4242") || time.Now().After(deadline) {
			break
		}
	}
	if res.code != 0 || !strings.Contains(res.stdout, "cancelled") || !strings.Contains(res.stdout, "response.created") ||
		!strings.Contains(res.stdout, "no customer") || strings.Contains(res.stdout, "\x1b") {
		t.Fatalf("list: exit %d, %q; want the dead letter, its error quoted", res.code, res.stdout)
	}
	fixed.Store(true)
	if res := runCmd(url, "-schema", schema, "retry", "-all"); res.code != 0 || !strings.Contains(res.stdout, "will run again") {
		t.Fatalf("retry -all: exit %d, %q %q", res.code, res.stdout, res.stderr)
	}
	for deadline := time.Now().Add(time.Minute); !ran.Load(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the dead letter did not run again")
		}
	}
	if res := runCmd(url, "-schema", schema, "retry", "999999999"); res.code != 1 {
		t.Errorf("retry of a job that is not there: exit %d, %q", res.code, res.stderr)
	}
}
