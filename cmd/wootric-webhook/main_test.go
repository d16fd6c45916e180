package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
)

// result is what one run of the command did.
type result struct {
	code           int
	stdout, stderr string
}

// runIn runs the command in-process with args, stdin, and WOOTRIC_SECRET
// set to secret (unset if "").
func runIn(t *testing.T, secret, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr, getenv(secret))
	return result{code, stdout.String(), stderr.String()}
}

func getenv(secret string) func(string) string {
	return func(key string) string {
		if key == "WOOTRIC_SECRET" {
			return secret
		}
		return ""
	}
}

// lines is an io.Writer that hands each line written to it to a channel.
type lines struct {
	mu  sync.Mutex
	buf []byte
	c   chan string
}

func (l *lines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		l.c <- string(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
}

// listener is a "listen" running in-process, whose lines the test reads.
type listener struct {
	out  *lines
	url  string
	stop context.CancelFunc
	done chan int // its exit status, once stopped
}

// startListen runs "listen" on a free loopback port and waits for it to
// say where it listens.
func startListen(t *testing.T, secret string, args ...string) *listener {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{out: &lines{c: make(chan string, 100)}, stop: cancel, done: make(chan int, 1)}
	go func() {
		l.done <- run(ctx, append([]string{"listen", "-addr", "127.0.0.1:0"}, args...), nil, l.out, os.Stderr, getenv(secret))
	}()
	t.Cleanup(func() {
		cancel()
		<-l.done
	})
	first := l.next(t)
	if strings.HasPrefix(first, "{") {
		var m map[string]any
		if err := json.Unmarshal([]byte(first), &m); err != nil {
			t.Fatalf("listen -json printed %q: %v", first, err)
		}
		l.url, _ = m["listening"].(string)
	} else {
		l.url = strings.TrimPrefix(first, "listening on ")
	}
	if !strings.HasPrefix(l.url, "http://127.0.0.1:") {
		t.Fatalf("listen printed %q, want where it listens", first)
	}
	return l
}

func (l *listener) next(t *testing.T) string {
	t.Helper()
	select {
	case line := <-l.out.c:
		return line
	case code := <-l.done:
		l.done <- code
		// What it printed before it returned is in l.out.c already: select
		// chooses at random between two ready channels.
		select {
		case line := <-l.out.c:
			return line
		default:
		}
		t.Fatalf("listen stopped with %d", code)
	case <-time.After(10 * time.Second):
		t.Fatal("listen printed nothing for 10 s")
	}
	return ""
}

// receiver is a Handler as the README recommends it, replay window and
// de-duplication on, serving at /wootric; it counts each event it runs.
func receiver(t *testing.T, secret string) (url string, runs func() []int64) {
	t.Helper()
	var mu sync.Mutex
	var ids []int64
	h := wootric.NewHandler(secret)
	h.ReplayWindow = 5 * time.Minute
	h.Dedup = &wootric.MemoryDeduplicator{}
	count := func(_ context.Context, e *wootric.Event) error {
		mu.Lock()
		defer mu.Unlock()
		id, _ := e.Lookup(strings.SplitN(string(e.Type), ".", 2)[0], "id")
		var n int64
		fmt.Sscan(id, &n)
		ids = append(ids, n)
		return nil
	}
	h.On(wootric.ResponseCreated, count)
	h.On(wootric.ResponseUpdated, count)
	h.On(wootric.DeclineCreated, count)
	mux := http.NewServeMux()
	mux.Handle("POST /wootric", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/wootric", func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		return append([]int64(nil), ids...)
	}
}

// TestSendFreshEvents: each send is a new event that a receiver with a
// replay window and de-duplication runs; -id pins the id, so that a second
// send is a duplicate (snag 1).
func TestSendFreshEvents(t *testing.T) {
	url, runs := receiver(t, "s")
	for _, args := range [][]string{
		{"send", "-url", url},
		{"send", "-url", url},
		{"send", "-url", url, "-event", "decline.created", "-format", "form"},
		{"send", "-url", url, "-event", "response.updated", "-mode", "csat", "-score", "10", "-comment", "Faster exports, please"},
		{"send", "-url", url, "-id", "42"},
		{"send", "-url", url, "-id", "42"},
	} {
		if res := runIn(t, "s", "", args...); res.code != 0 || !strings.HasPrefix(res.stdout, "200 OK in ") {
			t.Fatalf("%v: exit %d, %q %q", args, res.code, res.stdout, res.stderr)
		}
	}
	got := runs()
	if len(got) != 5 || got[0] == got[1] || got[4] != 42 {
		t.Errorf("the receiver ran %v: want 5 events, the first two with new ids, and 42 once", got)
	}
}

// TestSendPinnedIDIsOneEvent: two sends with one -id are one event for
// de-duplication however far apart they are (an hour here; across a second
// boundary was enough to make two), while two sends without -id never are.
func TestSendPinnedIDIsOneEvent(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 999e6, time.UTC)
	for _, event := range []string{"response.created", "response.updated", "decline.created"} {
		key := func(args []string, now time.Time) string {
			fs := flag.NewFlagSet("send", flag.ContinueOnError)
			commands["send"].define(fs)
			if err := fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			ev, err := freshEvent(fs, event, "NPS", 42, 0, "", now)
			if err != nil {
				t.Fatal(err)
			}
			return wootric.DedupKey(ev)
		}
		if a, b := key([]string{"-id", "42"}, at), key([]string{"-id", "42"}, at.Add(time.Hour)); a != b {
			t.Errorf("%s: two sends with -id 42 an hour apart have keys %q and %q, want one", event, a, b)
		}
		if a, b := key(nil, at), key(nil, at); a == b {
			t.Errorf("%s: two sends without -id have one key %q, want two", event, a)
		}
	}
}

// TestSendForAnAccount: -account names the account the event is for, and
// the secret signs for it, as a receiver with a secret per account needs.
func TestSendForAnAccount(t *testing.T) {
	var mu sync.Mutex
	var got []string
	h := wootric.NewAccountHandler(wootric.AccountSecrets{"NPS-1a2b3c4d": {"us"}, "NPS-EU-5e6f7a8b": {"eu"}})
	h.On(wootric.ResponseCreated, func(_ context.Context, e *wootric.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e.AccountToken)
		return nil
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	tests := []struct {
		secret, account string
		want            int
	}{
		{"eu", "NPS-EU-5e6f7a8b", 0},
		{"us", "NPS-1a2b3c4d", 0},
		{"us", "NPS-EU-5e6f7a8b", 1}, // another account's secret
		{"eu", "", 1},                // the sample's account, unknown here
	}
	for _, tc := range tests {
		args := []string{"send", "-url", srv.URL}
		if tc.account != "" {
			args = append(args, "-account", tc.account)
		}
		if res := runIn(t, tc.secret, "", args...); res.code != tc.want {
			t.Errorf("send -account %q with secret %q: exit %d, %q; want %d", tc.account, tc.secret, res.code, res.stdout, tc.want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "NPS-EU-5e6f7a8b,NPS-1a2b3c4d" {
		t.Errorf("ran for %q, want the EU then the US account", got)
	}
}

// TestSendPrintsTheAnswer: the status, the start of the body, and what a
// status usually means (snag 2).
func TestSendPrintsTheAnswer(t *testing.T) {
	url, _ := receiver(t, "right")
	res := runIn(t, "wrong", "", "send", "-url", url)
	if res.code != 1 || !strings.HasPrefix(res.stdout, "401 Unauthorized in ") || !strings.Contains(res.stdout, "\n  Unauthorized\n") ||
		!strings.Contains(res.stdout, "is the secret the same") {
		t.Errorf("send with the wrong secret: exit %d, %q; want 1, the answer and a hint", res.code, res.stdout)
	}
	res = runIn(t, "right", "", "send", "-url", strings.TrimSuffix(url, "/wootric")+"/elsewhere")
	if res.code != 1 || !strings.Contains(res.stdout, "404") || !strings.Contains(res.stdout, "check -url") {
		t.Errorf("send to an unserved path: exit %d, %q", res.code, res.stdout)
	}
}

// TestSendBodyFromAFile: the body's own format, unless -format says
// otherwise.
func TestSendBodyFromAFile(t *testing.T) {
	l := startListen(t, "s")
	dir := t.TempDir()
	for _, name := range []string{"response-updated-rich.to_query.form", "response-updated-rich.to_json.json"} {
		body, err := os.ReadFile("../../testdata/rails/" + name)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "body")
		if err := os.WriteFile(file, body, 0o600); err != nil {
			t.Fatal(err)
		}
		if res := runIn(t, "s", "", "send", "-url", l.url, "-body", file); res.code != 0 {
			t.Fatalf("send -body %s: exit %d, %q", name, res.code, res.stdout+res.stderr)
		}
		if line := l.next(t); !strings.Contains(line, "response.updated CES response 4242 score 10") {
			t.Errorf("listen printed %q, want the rich sample", line)
		}
	}
	if res := runIn(t, "s", `{"decline":{"id":7},"event_name":"created"}`, "send", "-url", l.url, "-body", "-"); res.code != 0 {
		t.Errorf("send -body -: exit %d, %q", res.code, res.stdout+res.stderr)
	}
	if line := l.next(t); !strings.Contains(line, "decline 7") || !strings.Contains(line, "(json,") {
		t.Errorf("listen printed %q, want decline 7 as json", line)
	}
}

// TestListenPrintsEveryRequest: deliveries, refusals, and requests to
// other paths and methods (snag 3).
func TestListenPrintsEveryRequest(t *testing.T) {
	l := startListen(t, "right")
	if res := runIn(t, "wrong", "", "send", "-url", l.url); res.code != 1 {
		t.Errorf("send with the wrong secret: exit %d", res.code)
	}
	if line := l.next(t); !strings.Contains(line, "refused 401") || !strings.Contains(line, "invalid signature") {
		t.Errorf("listen printed %q, want the refusal and its reason", line)
	}
	base := strings.TrimSuffix(l.url, "/wootric")
	for _, c := range []struct{ method, path, want string }{
		{"POST", "/x", `404 POST "/x" (listening on /wootric`},
		{"GET", "/", `404 GET "/" (listening on /wootric`},
		{"GET", "/wootric", "refused 405"},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if line := l.next(t); !strings.Contains(line, c.want) {
			t.Errorf("%s %s: listen printed %q, want %q", c.method, c.path, line, c.want)
		}
	}
}

// TestListenForwards: each verified delivery is re-signed for the app,
// whose answer goes back to the sender and is printed (snag 4).
func TestListenForwards(t *testing.T) {
	app, runs := receiver(t, "app-secret")
	l := startListen(t, "wootric-secret", "-forward", app, "-forward-secret", "app-secret")
	if line := l.next(t); line != "forwarding to "+app {
		t.Errorf("listen printed %q", line)
	}
	if res := runIn(t, "wootric-secret", "", "send", "-url", l.url, "-id", "77"); res.code != 0 {
		t.Fatalf("send: exit %d, %q", res.code, res.stdout)
	}
	if line := l.next(t); !strings.Contains(line, "response 77") || !strings.Contains(line, "your app answered 200 OK") {
		t.Errorf("listen printed %q, want the delivery and the app's answer", line)
	}
	if got := runs(); len(got) != 1 || got[0] != 77 {
		t.Errorf("the app ran %v, want 77", got)
	}

	// An app that refuses: the sender gets its answer, and retries.
	bad := startListen(t, "wootric-secret", "-forward", app, "-forward-secret", "not-the-app's")
	bad.next(t)
	if res := runIn(t, "wootric-secret", "", "send", "-url", bad.url); res.code != 1 || !strings.HasPrefix(res.stdout, "401") {
		t.Errorf("send through a forward the app refuses: exit %d, %q, want 1 and 401", res.code, res.stdout)
	}
	if line := bad.next(t); !strings.Contains(line, "your app answered 401") {
		t.Errorf("listen printed %q", line)
	}
}

// TestListenSavesAndReplayResends: deliveries saved by listen -save are
// sent again, re-signed, by replay.
func TestListenSavesAndReplayResends(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "saved")
	l := startListen(t, "s", "-save", dir)
	for _, args := range [][]string{{"-id", "1"}, {"-id", "2", "-event", "decline.created", "-format", "form"}} {
		if res := runIn(t, "s", "", append([]string{"send", "-url", l.url}, args...)...); res.code != 0 {
			t.Fatalf("send: exit %d, %q", res.code, res.stdout)
		}
		l.next(t)
		if line := l.next(t); !strings.HasPrefix(line, "  saved "+dir) {
			t.Errorf("listen printed %q, want where it saved the delivery", line)
		}
	}
	app, runs := receiver(t, "app")
	res := runIn(t, "app", "", "replay", "-url", app, dir)
	if res.code != 0 || !strings.Contains(res.stdout, "replayed 2 deliveries") {
		t.Errorf("replay: exit %d, %q", res.code, res.stdout+res.stderr)
	}
	if got := runs(); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("the app ran %v, want 1 then 2", got)
	}
}

func TestListenTalliesWhenItStops(t *testing.T) {
	l := startListen(t, "right")
	for _, secret := range []string{"right", "wrong", "right"} {
		runIn(t, secret, "", "send", "-url", l.url)
		l.next(t)
	}
	l.stop()
	if line := l.next(t); line != "tally: 2 processed, 1 refused signature" {
		t.Errorf("listen printed %q when it stopped, want its tally", line)
	}
	if code := <-l.done; code != 0 {
		t.Errorf("listen exited %d", code)
	}
	l.done <- 0
}

// TestListenTallyNamesTheAppsAnswer: with -forward, an app that answers
// 400 is tallied as such, not as a failed callback.
func TestListenTallyNamesTheAppsAnswer(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusBadRequest)
	}))
	defer app.Close()
	l := startListen(t, "s", "-forward", app.URL)
	l.next(t) // forwarding to ...
	if res := runIn(t, "s", "", "send", "-url", l.url); !strings.Contains(res.stdout, "the app behind listen -forward answered") {
		t.Errorf("send printed %q, want a hint that the app answered", res.stdout)
	}
	l.next(t)
	l.stop()
	for {
		line := l.next(t)
		if strings.HasPrefix(line, "tally:") {
			if line != "tally: 1 failed app 400" {
				t.Errorf("listen printed %q when it stopped, want the app's answer tallied", line)
			}
			break
		}
	}
	<-l.done
	l.done <- 0
}

func TestListenJSONLines(t *testing.T) {
	l := startListen(t, "s", "-json", "-raw")
	if res := runIn(t, "s", "", "send", "-url", l.url, "-event", "decline.created", "-format", "form", "-id", "19"); res.code != 0 {
		t.Fatalf("send: exit %d, %q", res.code, res.stdout+res.stderr)
	}
	var got map[string]any
	line := l.next(t)
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("listen -json printed %q: %v", line, err)
	}
	if got["event"] != "decline.created" || got["id"] != float64(19) || got["format"] != "form" || !strings.Contains(fmt.Sprint(got["body"]), "decline%5Bid%5D=19") {
		t.Errorf("listen -json -raw printed %v", got)
	}
}

func TestListenMakesASecretWhenNoneIsGiven(t *testing.T) {
	l := startListen(t, "")
	line := l.next(t)
	secret, _, ok := strings.Cut(strings.TrimPrefix(line, "secret: "), " ")
	if !strings.HasPrefix(line, "secret: ") || !ok || len(secret) < 32 {
		t.Fatalf("listen printed %q, want the secret it made", line)
	}
	if res := runIn(t, secret, "", "send", "-url", l.url); res.code != 0 {
		t.Errorf("send with the printed secret: exit %d, %q", res.code, res.stdout+res.stderr)
	}
	if line := l.next(t); !strings.Contains(line, "response.created") {
		t.Errorf("listen printed %q, want the delivery", line)
	}
}

func TestSign(t *testing.T) {
	body := `{"decline":{"id":19},"event_name":"created"}`
	for _, tc := range []struct {
		name   string
		secret string
		args   []string
	}{{"flag", "", []string{"sign", "-secret", "k"}}, {"environment", "k", []string{"sign"}}} {
		res := runIn(t, tc.secret, body, tc.args...)
		if want := wootric.Sign("k", []byte(body)) + "\n"; res.code != 0 || res.stdout != want {
			t.Errorf("sign from %s: exit %d, %q, want %q", tc.name, res.code, res.stdout, want)
		}
	}
}

// TestCommandLineErrors: each wrong command line exits 2 with a one-line
// error that names the flag at fault, and the usage.
func TestCommandLineErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.json")
	tests := []struct {
		name   string
		secret string
		args   []string
		want   string // in the one-line error
	}{
		{"no command", "", nil, "no command"},
		{"unknown command", "", []string{"serve"}, `unknown command "serve"`},
		{"help for an unknown command", "", []string{"help", "serve"}, `unknown command "serve"`},
		{"unknown flag", "", []string{"listen", "-port", "80"}, "flag provided but not defined: -port"},
		{"bad flag value", "", []string{"send", "-url", "http://x", "-secret", "s", "-timeout", "soon"}, "invalid value"},
		{"stray argument", "", []string{"sign", "-secret", "s", "extra"}, `unexpected argument "extra"`},
		{"send without url", "s", []string{"send"}, "send: -url is required"},
		{"send to a non-http url", "s", []string{"send", "-url", "ftp://x"}, `send: -url "ftp://x" is not an http or https URL`},
		{"send without secret", "", []string{"send", "-url", "http://127.0.0.1:1/"}, "send: no secret"},
		{"send an unknown event", "s", []string{"send", "-url", "http://127.0.0.1:1/", "-event", "response.deleted"}, "-event"},
		{"send in an unknown mode", "s", []string{"send", "-url", "http://127.0.0.1:1/", "-mode", "eNPS"}, "-mode"},
		{"send in an unknown format", "s", []string{"send", "-url", "http://127.0.0.1:1/", "-format", "xml"}, "-format"},
		{"send a body and an event", "s", []string{"send", "-url", "http://127.0.0.1:1/", "-body", "-", "-event", "decline.created"}, "-event"},
		{"send a body and a mode", "s", []string{"send", "-url", "http://127.0.0.1:1/", "-body", "-", "-mode", "CES"}, "-mode"},
		{"send a missing body file", "s", []string{"send", "-url", "http://127.0.0.1:1/", "-body", missing}, "-body"},
		{"send a score out of range", "s", []string{"send", "-url", "http://127.0.0.1:1/", "-mode", "CES", "-score", "9"}, "-score"},
		{"send a decline's score", "s", []string{"send", "-url", "http://127.0.0.1:1/", "-event", "decline.created", "-score", "9"}, "-score"},
		{"send a zero id", "s", []string{"send", "-url", "http://127.0.0.1:1/", "-id", "0"}, "-id"},
		{"send for a malformed account", "s", []string{"send", "-url", "http://127.0.0.1:1/", "-account", "NPS-1\x1b[31m"}, "-account"},
		{"send a body and an account", "s", []string{"send", "-url", "http://127.0.0.1:1/", "-body", "-", "-account", "NPS-1"}, "-account"},
		{"replay without url", "s", []string{"replay", "x.json"}, "replay: -url is required"},
		{"replay to a non-http url", "s", []string{"replay", "-url", "ftp://x", "x.json"}, `replay: -url "ftp://x" is not an http or https URL`},
		{"replay without secret", "", []string{"replay", "-url", "http://127.0.0.1:1/", "x.json"}, "replay: no secret"},
		{"replay without files", "s", []string{"replay", "-url", "http://127.0.0.1:1/"}, "no file"},
		{"replay a missing file", "s", []string{"replay", "-url", "http://127.0.0.1:1/", missing}, "missing.json"},
		{"sign without secret", "", []string{"sign"}, "no secret"},
		{"listen on a bad path", "", []string{"listen", "-path", "wootric"}, "does not begin with /"},
		{"listen forwarding to a non-http url", "", []string{"listen", "-forward", "localhost:3000"}, "-forward"},
		{"listen with a forward secret and nothing to forward to", "", []string{"listen", "-forward-secret", "x"}, "-forward-secret is for -forward"},
		{"replay with its flags after the path, a missing one", "s", []string{"replay", missing, "-url", "http://127.0.0.1:1/"}, "missing.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runIn(t, tc.secret, "", tc.args...)
			first, rest, _ := strings.Cut(res.stderr, "\n")
			help := "run 'wootric-webhook help"
			if res.code != 2 || !strings.HasPrefix(first, "wootric-webhook: ") || !strings.Contains(first, tc.want) ||
				!strings.HasPrefix(rest, help) || strings.Count(res.stderr, "\n") != 2 {
				t.Errorf("exit %d, stderr %q; want 2, a one-line error with %q, and a line saying where the usage is", res.code, res.stderr, tc.want)
			}
		})
	}
}

// TestSendAcceptsAFormatInAnyCase: -format FORM as -mode nps.
func TestSendAcceptsAFormatInAnyCase(t *testing.T) {
	url, runs := receiver(t, "s")
	if res := runIn(t, "s", "", "send", "-url", url, "-format", "FORM"); res.code != 0 {
		t.Errorf("send -format FORM: exit %d, %q", res.code, res.stderr)
	}
	if len(runs()) != 1 {
		t.Errorf("ran %v, want one event", runs())
	}
}

// TestSendHintsAtARefusedConnectionAndA500: the two answers a newcomer
// meets first, a receiver not running and one without its secret.
func TestSendHintsAtARefusedConnectionAndA500(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	if res := runIn(t, "s", "", "send", "-url", "http://"+addr+"/wootric"); res.code != 1 || !strings.Contains(res.stderr, "is the receiver running") {
		t.Errorf("send to nothing: exit %d, %q; want 1 and a hint", res.code, res.stderr)
	}
	srv := httptest.NewServer(wootric.NewHandler()) // no secret
	defer srv.Close()
	if res := runIn(t, "s", "", "send", "-url", srv.URL); res.code != 1 || !strings.Contains(res.stdout, "WOOTRIC_SECRET") {
		t.Errorf("send to a receiver without a secret: exit %d, %q; want 1 and a hint", res.code, res.stdout)
	}
}

func TestSendToNothingFails(t *testing.T) {
	res := runIn(t, "s", "", "send", "-url", "http://127.0.0.1:1/wootric", "-timeout", "2s")
	if res.code != 1 || res.stderr == "" {
		t.Errorf("send to a closed port: exit %d, %q, want 1 and the error", res.code, res.stderr)
	}
}

// TestHelp: help asked for goes to stdout and exits 0, whichever way it is
// asked; a command's help lists its own flags (snag 7).
func TestHelp(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"help"}, "wootric-webhook listen"},
		{[]string{"-h"}, "wootric-webhook listen"},
		{[]string{"help", "send"}, "-comment"},
		{[]string{"send", "-h"}, "-comment"},
		{[]string{"listen", "-h"}, "-forward"},
		{[]string{"help", "replay"}, "FILE|DIR..."},
	} {
		res := runIn(t, "", "", c.args...)
		if res.code != 0 || !strings.Contains(res.stdout, c.want) || res.stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and %q on stdout", c.args, res.code, res.stdout, res.stderr, c.want)
		}
	}
}

func TestVersion(t *testing.T) {
	res := runIn(t, "", "", "version")
	if res.code != 0 || !strings.HasPrefix(res.stdout, "wootric-webhook ") || !strings.Contains(res.stdout, "go1.") {
		t.Errorf("version: exit %d, %q", res.code, res.stdout)
	}
}

// TestBinary builds the command and runs it as a user does, once: listen,
// send, and an interrupt that prints the tally.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := filepath.Join(t.TempDir(), "wootric-webhook")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "listen", "-addr", "127.0.0.1:0", "-secret", "s")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "listening on http://") {
		t.Fatalf("listen printed %q", sc.Text())
	}
	url := strings.TrimPrefix(sc.Text(), "listening on ")
	send := exec.Command(bin, "send", "-url", url, "-secret", "s")
	if b, err := send.CombinedOutput(); err != nil || !strings.HasPrefix(string(b), "200 OK") {
		t.Fatalf("send: %v, %q", err, b)
	}
	sc.Scan()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil || !strings.Contains(string(rest), "tally: 1 processed") {
		t.Errorf("listen after an interrupt: %v, %q", err, rest)
	}
}

// postSigned posts body, signed with secret, to url and returns the status.
func postSigned(t *testing.T, url, secret, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set(wootric.SignatureHeader, wootric.Sign(secret, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestListenSaveStaysInItsDirectory: the file name is built from checked
// parts only; an event name from the payload cannot make it a path.
func TestListenSaveStaysInItsDirectory(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "a", "saved")
	l := startListen(t, "s", "-save", dir)
	body := `{"response":{"id":5,"score":9},"event_name":"/../../../escaped"}`
	if code := postSigned(t, l.url, "s", body); code != 200 {
		t.Fatalf("delivery answered %d", code)
	}
	l.next(t)
	line := l.next(t)
	saved, err := os.ReadDir(dir)
	if err != nil || len(saved) != 1 || !strings.Contains(saved[0].Name(), "-other-5.json") || !strings.Contains(line, saved[0].Name()) {
		t.Errorf("saved %v (%v), printed %q; want one file named for an \"other\" type in %s", saved, err, line, dir)
	}
	err = filepath.WalkDir(top, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Dir(path) != dir {
			t.Errorf("a file outside the -save directory: %s", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestListenForwardDoesNotFollowRedirects: a redirect from the app is a
// failure, shown as one; the body is never sent, nor a GET made, elsewhere.
func TestListenForwardDoesNotFollowRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL, code)
		}))
		l := startListen(t, "s", "-forward", app.URL)
		l.next(t)
		if got := postSigned(t, l.url, "s", `{"response":{"id":5,"score":9},"event_name":"created"}`); got != http.StatusBadGateway {
			t.Errorf("app redirected with %d: the sender got %d, want 502", code, got)
		}
		if line := l.next(t); !strings.Contains(line, fmt.Sprintf("answered %d", code)) || !strings.Contains(line, "does not follow") {
			t.Errorf("listen printed %q, want the redirect shown as a failure", line)
		}
		app.Close()
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect's target got %d requests, want none", n)
	}
}

// TestListenPrintsPayloadValuesEscaped: line breaks and terminal escapes
// from a payload neither forge a line nor reach the terminal.
func TestListenPrintsPayloadValuesEscaped(t *testing.T) {
	l := startListen(t, "s", "-raw")
	body := `{"response":{"id":5,"score":9},"event_name":"created\u001b[2J","account_token":"NPS-\u001b[2J\nforged line","survey_mode":"NPS\nx"}`
	if code := postSigned(t, l.url, "s", body); code != 200 {
		t.Fatalf("delivery answered %d", code)
	}
	line := l.next(t)
	if strings.ContainsAny(line, "\x1b\r") || !strings.Contains(line, `account "NPS-\x1b[2J\nforged line"`) || !strings.Contains(line, `"response.created\x1b[2J"`) {
		t.Errorf("listen printed %q, want the payload's values quoted", line)
	}
	if raw := l.next(t); strings.ContainsAny(raw, "\x1b") || !strings.HasPrefix(raw, `  "{`) {
		t.Errorf("listen -raw printed %q, want the body quoted", raw)
	}
}
