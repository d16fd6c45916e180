package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
)

// binary is the command, built once by TestMain: the tests run it as users do.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wootric-webhook-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "wootric-webhook")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the command did.
type result struct {
	code           int
	stdout, stderr string
}

// runCmd runs the command with args, stdin and WOOTRIC_SECRET=env (unset if "").
func runCmd(t *testing.T, env, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = withoutSecret(os.Environ())
	if env != "" {
		cmd.Env = append(cmd.Env, "WOOTRIC_SECRET="+env)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func withoutSecret(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "WOOTRIC_SECRET=") {
			out = append(out, kv)
		}
	}
	return out
}

// listener is a running "listen", whose output lines the test reads.
type listener struct {
	cmd   *exec.Cmd
	lines chan string
	url   string
}

// startListen runs "listen" on a free loopback port and waits for it to say
// where it listens.
func startListen(t *testing.T, env string, args ...string) *listener {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"listen", "-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = withoutSecret(os.Environ())
	if env != "" {
		cmd.Env = append(cmd.Env, "WOOTRIC_SECRET="+env)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l := &listener{cmd: cmd, lines: make(chan string, 100)}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			l.lines <- sc.Text()
		}
		close(l.lines)
	}()
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
	case line, ok := <-l.lines:
		if !ok {
			t.Fatal("listen stopped")
		}
		return line
	case <-time.After(10 * time.Second):
		t.Fatal("listen printed nothing for 10 s")
	}
	return ""
}

func TestSendEverySampleToListen(t *testing.T) {
	const secret = "cli-test-secret"
	l := startListen(t, "", "-secret", secret)
	for _, event := range []string{"response.created", "response.updated", "decline.created"} {
		for _, mode := range []string{"NPS", "CES", "CSAT"} {
			for _, format := range []string{"json", "form"} {
				res := runCmd(t, "", "", "send", "-url", l.url, "-secret", secret, "-event", event, "-mode", mode, "-format", format)
				if res.code != 0 || !strings.HasPrefix(res.stdout, "200 OK in ") {
					t.Fatalf("send %s %s %s: exit %d, %q %q, want 0 and 200 OK", event, mode, format, res.code, res.stdout, res.stderr)
				}
				line := l.next(t)
				for _, want := range []string{" " + event + " ", " " + mode + " ", "(" + format + ", "} {
					if !strings.Contains(line, want) {
						t.Errorf("listen printed %q for send %s %s %s, want %q in it", line, event, mode, format, want)
					}
				}
				if strings.Contains(line, "nps@example.com") || strings.Contains(line, "127.0.0.1/") {
					t.Errorf("listen printed personal data without -raw: %q", line)
				}
			}
		}
	}
}

func TestListenPrintsRefusals(t *testing.T) {
	l := startListen(t, "right-secret")
	res := runCmd(t, "wrong-secret", "", "send", "-url", l.url)
	if res.code != 1 || !strings.HasPrefix(res.stdout, "401 Unauthorized") {
		t.Errorf("send with the wrong secret: exit %d, %q, want 1 and 401", res.code, res.stdout)
	}
	if line := l.next(t); !strings.Contains(line, "refused 401") || !strings.Contains(line, "invalid signature") {
		t.Errorf("listen printed %q, want the refusal and its reason", line)
	}
	res = runCmd(t, "right-secret", "not a delivery", "send", "-url", l.url, "-body", "-", "-format", "form")
	if res.code != 1 || !strings.HasPrefix(res.stdout, "400 Bad Request") {
		t.Errorf("send of a malformed body: exit %d, %q, want 1 and 400", res.code, res.stdout)
	}
	if line := l.next(t); !strings.Contains(line, "refused 400") || !strings.Contains(line, "malformed payload") {
		t.Errorf("listen printed %q, want the refusal and its reason", line)
	}
}

func TestListenMakesASecretWhenNoneIsGiven(t *testing.T) {
	l := startListen(t, "")
	line := l.next(t)
	secret, _, ok := strings.Cut(strings.TrimPrefix(line, "secret: "), " ")
	if !strings.HasPrefix(line, "secret: ") || !ok || len(secret) < 32 {
		t.Fatalf("listen printed %q, want the secret it made", line)
	}
	if res := runCmd(t, secret, "", "send", "-url", l.url); res.code != 0 {
		t.Errorf("send with the printed secret: exit %d, %q", res.code, res.stdout+res.stderr)
	}
	if line := l.next(t); !strings.Contains(line, "response.created") {
		t.Errorf("listen printed %q, want the delivery", line)
	}
}

func TestListenJSONLines(t *testing.T) {
	l := startListen(t, "s", "-json", "-raw")
	if res := runCmd(t, "s", "", "send", "-url", l.url, "-event", "decline.created", "-format", "form"); res.code != 0 {
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

func TestSendBodyFromAFile(t *testing.T) {
	l := startListen(t, "s")
	body, err := os.ReadFile("../../testdata/rails/response-updated-rich.to_query.form")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "body.form")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := runCmd(t, "s", "", "send", "-url", l.url, "-body", file, "-format", "form"); res.code != 0 {
		t.Fatalf("send -body: exit %d, %q", res.code, res.stdout+res.stderr)
	}
	if line := l.next(t); !strings.Contains(line, "response.updated CES response 4242 score 10") {
		t.Errorf("listen printed %q, want the rich sample", line)
	}
}

func TestSign(t *testing.T) {
	body := `{"decline":{"id":19},"event_name":"created"}`
	for _, tc := range []struct {
		name string
		env  string
		args []string
	}{{"flag", "", []string{"sign", "-secret", "k"}}, {"environment", "k", []string{"sign"}}} {
		res := runCmd(t, tc.env, body, tc.args...)
		if want := wootric.Sign("k", []byte(body)) + "\n"; res.code != 0 || res.stdout != want {
			t.Errorf("sign from %s: exit %d, %q, want %q", tc.name, res.code, res.stdout, want)
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	tests := []struct {
		name string
		env  string
		args []string
		want string // in the one-line error
	}{
		{"no command", "", nil, "no command"},
		{"unknown command", "", []string{"serve"}, `unknown command "serve"`},
		{"unknown flag", "", []string{"listen", "-port", "80"}, "flag provided but not defined: -port"},
		{"bad flag value", "", []string{"send", "-url", "http://x", "-secret", "s", "-timeout", "soon"}, "invalid value"},
		{"stray argument", "", []string{"sign", "-secret", "s", "extra"}, `unexpected argument "extra"`},
		{"send without url", "s", []string{"send"}, "-url is required"},
		{"send to a non-http url", "s", []string{"send", "-url", "ftp://x"}, "not an http or https URL"},
		{"send without secret", "", []string{"send", "-url", "http://127.0.0.1:1/"}, "no secret"},
		{"send an unknown event", "s", []string{"send", "-url", "http://127.0.0.1:1/", "-event", "response.deleted"}, "no such sample"},
		{"send in an unknown mode", "s", []string{"send", "-url", "http://127.0.0.1:1/", "-mode", "eNPS"}, "no such sample"},
		{"send in an unknown format", "s", []string{"send", "-url", "http://127.0.0.1:1/", "-format", "xml"}, "not json or form"},
		{"sign without secret", "", []string{"sign"}, "no secret"},
		{"listen on a bad path", "", []string{"listen", "-path", "wootric"}, "does not begin with /"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runCmd(t, tc.env, "", tc.args...)
			first, rest, _ := strings.Cut(res.stderr, "\n")
			if res.code != 2 || !strings.HasPrefix(first, "wootric-webhook: ") || !strings.Contains(first, tc.want) || !strings.Contains(rest, "Usage:") {
				t.Errorf("exit %d, stderr %q; want 2, a one-line error with %q, and the usage", res.code, res.stderr, tc.want)
			}
		})
	}
}

func TestSendToNothingFails(t *testing.T) {
	res := runCmd(t, "s", "", "send", "-url", "http://127.0.0.1:1/wootric", "-timeout", "2s")
	if res.code != 1 || res.stderr == "" {
		t.Errorf("send to a closed port: exit %d, %q, want 1 and the error", res.code, res.stderr)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"send", "-h"}} {
		res := runCmd(t, "", "", args...)
		if res.code != 0 || !strings.Contains(res.stdout+res.stderr, "sage") {
			t.Errorf("%v: exit %d, %q", args, res.code, res.stdout+res.stderr)
		}
	}
}

func TestListenTalliesWhenItStops(t *testing.T) {
	l := startListen(t, "right-secret")
	for _, env := range []string{"right-secret", "wrong-secret", "right-secret"} {
		runCmd(t, env, "", "send", "-url", l.url)
		l.next(t)
	}
	if err := l.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if line := l.next(t); line != "tally: 2 processed, 1 refused signature" {
		t.Errorf("listen printed %q when it stopped, want its tally", line)
	}
}
