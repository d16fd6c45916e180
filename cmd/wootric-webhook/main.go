// Command wootric-webhook runs a Wootric webhook receiver on your machine,
// sends it signed sample deliveries, and signs bodies for curl.
//
//	wootric-webhook listen [-addr 127.0.0.1:8080] [-path /wootric] [-json] [-raw]
//	wootric-webhook send -url URL [-event response.created] [-mode NPS] [-format json] [-body FILE|-]
//	wootric-webhook sign < body
//
// The secret comes from -secret or the WOOTRIC_SECRET environment variable.
// listen makes one up when neither is set, and prints it.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/wootrictest"
)

const usage = `Usage:
  wootric-webhook listen [-addr 127.0.0.1:8080] [-path /wootric] [-json] [-raw] [-secret S]
      Receive deliveries and print one line for each, and why any request was refused.
  wootric-webhook send -url URL [-event response.created|response.updated|decline.created]
                       [-mode NPS|CES|CSAT] [-format json|form] [-body FILE|-] [-secret S]
      Sign and POST a sample delivery, or a body from a file or stdin (-body -).
  wootric-webhook sign [-secret S] < body
      Print the X-Wootric-Signature value for the body on stdin.

The secret is -secret or $WOOTRIC_SECRET; listen makes one up if neither is set.
Run "wootric-webhook COMMAND -h" for a command's flags.
`

// exitUsage is the exit status for a missing or wrong command line.
const exitUsage = 2

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// run runs the command line args and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		return usageError(stderr, "no command")
	}
	switch args[0] {
	case "listen":
		return listen(ctx, args[1:], stdout, stderr, getenv)
	case "send":
		return send(ctx, args[1:], stdin, stdout, stderr, getenv)
	case "sign":
		return sign(args[1:], stdin, stdout, stderr, getenv)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	return usageError(stderr, fmt.Sprintf("unknown command %q", args[0]))
}

// usageError prints a one-line error and the usage, and returns exitUsage.
func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "wootric-webhook: %s\n\n%s", msg, usage)
	return exitUsage
}

// parse parses a command's flags. When the command should not go on, it
// returns done and the exit status: 0 for -h, exitUsage for a wrong flag.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, done bool) {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stderr)
		fmt.Fprintf(stderr, "Usage of wootric-webhook %s:\n", fs.Name())
		fs.PrintDefaults()
		return 0, true
	case err != nil:
		return usageError(stderr, err.Error()), true
	case fs.NArg() > 0:
		return usageError(stderr, fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))), true
	}
	return 0, false
}

func secretFlag(fs *flag.FlagSet) *string {
	return fs.String("secret", "", "webhook secret (default $WOOTRIC_SECRET)")
}

func listen(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	path := fs.String("path", "/wootric", "path that receives deliveries")
	jsonLines := fs.Bool("json", false, "print JSON lines instead of text")
	raw := fs.Bool("raw", false, "also print each verified body, personal data included")
	secret := secretFlag(fs)
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	if !strings.HasPrefix(*path, "/") {
		return usageError(stderr, fmt.Sprintf("listen: -path %q does not begin with /", *path))
	}
	if *secret == "" {
		*secret = getenv("WOOTRIC_SECRET")
	}
	made := *secret == ""
	if made {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			fmt.Fprintf(stderr, "wootric-webhook: making a secret: %v\n", err)
			return 1
		}
		*secret = hex.EncodeToString(b)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "wootric-webhook: %v\n", err)
		return 1
	}
	p := &printer{w: stdout, json: *jsonLines, raw: *raw}
	t := &tally{}
	h := wootric.NewHandler(*secret)
	h.Observe = t.observe
	h.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		code := wootric.StatusCode(err)
		p.refused(r, code, err)
		http.Error(w, http.StatusText(code), code)
	}
	mux := http.NewServeMux()
	mux.Handle(*path, h.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, _ := wootric.EventFromContext(r.Context())
		p.event(r, e)
		w.WriteHeader(http.StatusOK)
	})))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}

	url := "http://" + ln.Addr().String() + *path
	p.line(fmt.Sprintf("listening on %s", url), map[string]any{"listening": url})
	if made {
		p.line(fmt.Sprintf("secret: %s (made up for this run; pass -secret or set WOOTRIC_SECRET to keep one)", *secret),
			map[string]any{"secret": *secret, "generated": true})
	}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "wootric-webhook: %v\n", err)
		return 1
	}
	p.tally(t)
	return 0
}

// tally counts the deliveries listen has answered, by outcome and reason.
type tally struct {
	mu     sync.Mutex
	counts map[string]int // "processed", "refused signature", ...
}

func (t *tally) observe(_ *http.Request, rep wootric.Report) {
	key := string(rep.Outcome)
	if rep.Reason != "" {
		key += " " + string(rep.Reason)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts == nil {
		t.counts = map[string]int{}
	}
	t.counts[key]++
}

// tally prints t when listen stops: "tally: 2 processed, 1 refused
// signature", the outcomes in order, or "tally: no deliveries".
func (p *printer) tally(t *tally) {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.counts))
	for k := range t.counts {
		keys = append(keys, k)
	}
	rank := map[string]int{"processed": 0, "duplicate": 1, "refused": 2, "failed": 3}
	sort.Slice(keys, func(i, j int) bool {
		oi, _, _ := strings.Cut(keys[i], " ")
		oj, _, _ := strings.Cut(keys[j], " ")
		if rank[oi] != rank[oj] {
			return rank[oi] < rank[oj]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	fields := map[string]any{}
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", t.counts[k], k)
		fields[strings.ReplaceAll(k, " ", ".")] = t.counts[k]
	}
	text := "tally: no deliveries"
	if len(parts) > 0 {
		text = "tally: " + strings.Join(parts, ", ")
	}
	p.line(text, map[string]any{"tally": fields})
}

// printer prints listen's lines, one at a time.
type printer struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	raw  bool
}

func (p *printer) line(text string, fields map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		b, _ := json.Marshal(fields)
		fmt.Fprintf(p.w, "%s\n", b)
		return
	}
	fmt.Fprintln(p.w, text)
}

// event prints a verified delivery: what identifies it, but no personal
// data unless -raw.
func (p *printer) event(r *http.Request, e *wootric.Event) {
	now := time.Now().UTC().Format(time.RFC3339)
	format := wootric.Form
	if b := bytes.TrimLeft(e.Raw, " \t\r\n"); len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		format = wootric.JSON
	}
	fields := map[string]any{"time": now, "event": e.Type, "mode": e.SurveyMode, "account": e.AccountToken,
		"format": format.String(), "bytes": len(e.Raw)}
	text := fmt.Sprintf("%s %s %s", now, e.Type, e.SurveyMode)
	switch {
	case e.Response != nil:
		fields["id"], fields["score"] = e.Response.ID, e.Response.Score
		text += fmt.Sprintf(" response %d score %d", e.Response.ID, e.Response.Score)
	case e.Decline != nil:
		fields["id"] = e.Decline.ID
		text += fmt.Sprintf(" decline %d", e.Decline.ID)
	}
	text += fmt.Sprintf(" account %s (%s, %d bytes)", e.AccountToken, format, len(e.Raw))
	if p.raw {
		fields["body"] = string(e.Raw)
		text += "\n  " + string(e.Raw)
	}
	p.line(text, fields)
}

func (p *printer) refused(r *http.Request, code int, err error) {
	now := time.Now().UTC().Format(time.RFC3339)
	p.line(fmt.Sprintf("%s refused %d %s: %v (from %s)", now, code, http.StatusText(code), err, r.RemoteAddr),
		map[string]any{"time": now, "refused": code, "reason": err.Error(), "remote": r.RemoteAddr})
}

func send(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	url := fs.String("url", "", "receiver URL (required)")
	event := fs.String("event", string(wootric.ResponseCreated), "sample event: response.created, response.updated or decline.created")
	mode := fs.String("mode", string(wootric.NPS), "sample's survey mode: NPS, CES or CSAT")
	format := fs.String("format", "json", "body format, json or form; also the Content-Type sent with -body")
	bodyFile := fs.String("body", "", "send this file's bytes instead of a sample; - reads stdin")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	secret := secretFlag(fs)
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	if *secret == "" {
		*secret = getenv("WOOTRIC_SECRET")
	}
	var f wootric.Format
	switch *format {
	case "json":
		f = wootric.JSON
	case "form":
		f = wootric.Form
	default:
		return usageError(stderr, fmt.Sprintf("send: -format %q is not json or form", *format))
	}
	switch {
	case *url == "":
		return usageError(stderr, "send: -url is required")
	case !strings.HasPrefix(*url, "http://") && !strings.HasPrefix(*url, "https://"):
		return usageError(stderr, fmt.Sprintf("send: -url %q is not an http or https URL", *url))
	case *secret == "":
		return usageError(stderr, "send: no secret: pass -secret or set WOOTRIC_SECRET")
	}

	var body []byte
	var err error
	switch *bodyFile {
	case "":
		e, serr := wootrictest.SampleEvent(wootric.EventType(*event), wootric.SurveyMode(*mode))
		if serr != nil {
			return usageError(stderr, fmt.Sprintf("send: -event %q -mode %q: no such sample", *event, *mode))
		}
		body, err = wootric.Encode(e, f)
	case "-":
		body, err = io.ReadAll(stdin)
	default:
		body, err = os.ReadFile(*bodyFile)
	}
	if err != nil {
		fmt.Fprintf(stderr, "wootric-webhook: %v\n", err)
		return 1
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *url, bytes.NewReader(body))
	if err != nil {
		return usageError(stderr, fmt.Sprintf("send: -url: %v", err))
	}
	req.Header.Set("Content-Type", f.ContentType())
	req.Header.Set(wootric.SignatureHeader, wootric.Sign(*secret, body))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "wootric-webhook: %v\n", err)
		return 1
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	fmt.Fprintf(stdout, "%s in %s\n", resp.Status, time.Since(start).Round(10*time.Microsecond))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 1
	}
	return 0
}

func sign(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	secret := secretFlag(fs)
	if code, done := parse(fs, args, stderr); done {
		return code
	}
	if *secret == "" {
		*secret = getenv("WOOTRIC_SECRET")
	}
	if *secret == "" {
		return usageError(stderr, "sign: no secret: pass -secret or set WOOTRIC_SECRET")
	}
	body, err := io.ReadAll(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "wootric-webhook: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, wootric.Sign(*secret, body))
	return 0
}
