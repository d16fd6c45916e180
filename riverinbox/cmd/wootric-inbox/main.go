// Command wootric-inbox looks after a riverinbox inbox from the command
// line: it creates River's tables, lists the deliveries set aside as dead
// letters, and runs them again.
//
//	wootric-inbox migrate
//	wootric-inbox list [-n 50]
//	wootric-inbox retry ID...
//	wootric-inbox retry -all
//
// The database is $DATABASE_URL, or -database-url; River's tables are on
// its search path, or in -schema. riverui (riverqueue.com/riverui) shows
// the same jobs, of kind wootric_delivery, in a browser.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/riverinbox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

const usage = `usage: wootric-inbox [-database-url URL] [-schema S] command

commands:
  migrate          create or upgrade River's tables (run it when deploying)
  list [-n 50]     the dead letters, most recent first: job id, state,
                   event type, object id, attempts, when set aside, last error
  retry ID...      run these dead letters again now
  retry -all [-n]  run every dead letter that list shows again now

The database is $DATABASE_URL unless -database-url is given.
`

// run runs the command in args and returns its exit status: 0, 1 if it
// failed, 2 if it was misused.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("wootric-inbox", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	url := fs.String("database-url", "", "PostgreSQL URL (default $DATABASE_URL)")
	schema := fs.String("schema", "", "schema of River's tables (default the search path)")
	if err := fs.Parse(args); err != nil {
		return misuse(stderr, err.Error())
	}
	if *url == "" {
		*url = getenv("DATABASE_URL")
	}
	if fs.NArg() == 0 {
		return misuse(stderr, "no command")
	}
	if *url == "" {
		return misuse(stderr, "no database: set $DATABASE_URL or -database-url")
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	sub := flag.NewFlagSet(cmd, flag.ContinueOnError)
	sub.SetOutput(io.Discard)
	n := sub.Int("n", 50, "how many dead letters to list, or to retry with -all")
	all := sub.Bool("all", false, "retry every dead letter list shows")
	switch cmd {
	case "migrate", "list", "retry":
	default:
		return misuse(stderr, fmt.Sprintf("unknown command %q", cmd))
	}
	if err := sub.Parse(rest); err != nil {
		return misuse(stderr, cmd+": "+err.Error())
	}
	var ids []int64
	switch {
	case cmd == "retry" && *all && sub.NArg() > 0:
		return misuse(stderr, "retry: give job ids or -all, not both")
	case cmd == "retry" && !*all && sub.NArg() == 0:
		return misuse(stderr, "retry: no job id")
	case cmd != "retry" && sub.NArg() > 0:
		return misuse(stderr, fmt.Sprintf("%s: unexpected argument %q", cmd, sub.Arg(0)))
	case *n <= 0:
		return misuse(stderr, cmd+": -n must be positive")
	}
	for _, a := range sub.Args() {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil || id <= 0 {
			return misuse(stderr, fmt.Sprintf("retry: %q is not a job id", a))
		}
		ids = append(ids, id)
	}

	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, *url)
	if err != nil {
		return fail(stderr, fmt.Errorf("the database URL: %w", err))
	}
	defer pool.Close()
	if cmd == "migrate" {
		if err := riverinbox.Migrate(ctx, pool, *schema); err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintln(stdout, "River's tables are up to date")
		return 0
	}
	in, err := riverinbox.New(pool, wootric.NewHandler(), riverinbox.Config{Schema: *schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fail(stderr, err)
	}
	if cmd == "retry" && !*all {
		return retry(ctx, in, ids, stdout, stderr)
	}
	dead, err := in.DeadLetters(ctx, *n)
	if err != nil {
		return fail(stderr, err)
	}
	if cmd == "retry" {
		for _, d := range dead {
			ids = append(ids, d.ID)
		}
		return retry(ctx, in, ids, stdout, stderr)
	}
	if len(dead) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tTYPE\tOBJECT\tATTEMPTS\tSET ASIDE\tLAST ERROR")
	for _, d := range dead {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\t%s\n", d.ID, d.State, d.Type, d.ObjectID, d.Attempts,
			d.FinalizedAt.UTC().Format(time.RFC3339), quote(d.LastError, 120))
	}
	if err := tw.Flush(); err != nil {
		return fail(stderr, err)
	}
	return 0
}

func retry(ctx context.Context, in *riverinbox.Inbox, ids []int64, stdout, stderr io.Writer) int {
	status := 0
	for _, id := range ids {
		if err := in.Retry(ctx, id); err != nil {
			fmt.Fprintf(stderr, "wootric-inbox: %v\n", err)
			status = 1
			continue
		}
		fmt.Fprintf(stdout, "job %d will run again\n", id)
	}
	if len(ids) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
	}
	return status
}

// quote returns s quoted as Go quotes it, so that no control character
// from a callback's error reaches the terminal, cut to max bytes.
func quote(s string, max int) string {
	if len(s) > max {
		return strconv.Quote(strings.ToValidUTF8(s[:max], "")) + "..."
	}
	return strconv.Quote(s)
}

func misuse(stderr io.Writer, why string) int {
	fmt.Fprintf(stderr, "wootric-inbox: %s\n\n%s", why, usage)
	return 2
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "wootric-inbox: %v\n", err)
	return 1
}
