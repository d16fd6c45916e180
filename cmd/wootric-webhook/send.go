package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/internal/sample"
)

// maxAnswer is how much of a receiver's answer send and replay print.
const maxAnswer = 2 << 10

func sendCommand(fs *flag.FlagSet) func(context.Context, *flag.FlagSet, env) int {
	url := fs.String("url", "", "receiver URL (required)")
	event := fs.String("event", string(wootric.ResponseCreated), "event type: response.created, response.updated or decline.created")
	mode := fs.String("mode", string(wootric.NPS), "survey mode: NPS, CES or CSAT, in any case")
	format := fs.String("format", "json", "body format, json or form; with -body, the default is the body's own")
	bodyFile := fs.String("body", "", "send this file's bytes instead of a sample event; - reads stdin")
	id := fs.Int64("id", 0, "the event's id (default a new one each time); a pinned id also keeps the sample's created_at and updated_at, so a second send is a duplicate")
	score := fs.Int("score", 0, "the response's score (default the sample's)")
	comment := fs.String("comment", "", "the response's comment (default the sample's)")
	account := fs.String("account", "", "the event's account token, such as NPS-EU-1a2b3c4d, for a receiver with a secret per account: -secret is that account's (default the sample's, NPS-xxxxxxxx)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the answer")
	secretFlag := secretFlag(fs)
	return func(ctx context.Context, fs *flag.FlagSet, e env) int {
		secret := secretOf(*secretFlag, e)
		if why := targetError(*url, secret); why != "" {
			return usageError(e.stderr, "send: "+why)
		}
		f, err := parseFormat(*format)
		if err != nil {
			return usageError(e.stderr, "send: "+err.Error())
		}

		var body []byte
		if *bodyFile != "" {
			for _, name := range []string{"event", "mode", "id", "score", "comment", "account"} {
				if given(fs, name) {
					return usageError(e.stderr, fmt.Sprintf("send: -%s describes a sample event, and -body sends a body as it is: give one or the other", name))
				}
			}
			if *bodyFile == "-" {
				body, err = io.ReadAll(e.stdin)
			} else {
				body, err = os.ReadFile(*bodyFile)
			}
			if err != nil {
				return usageError(e.stderr, fmt.Sprintf("send: -body: %v", err))
			}
			if !given(fs, "format") {
				f = wootric.FormatOf(body)
			}
		} else {
			ev, err := freshEvent(fs, *event, *mode, *id, *score, *comment, time.Now())
			if err == nil && given(fs, "account") {
				err = setAccount(ev, *account)
			}
			if err != nil {
				return usageError(e.stderr, "send: "+err.Error())
			}
			if body, err = wootric.Encode(ev, f); err != nil {
				return usageError(e.stderr, "send: "+err.Error())
			}
		}
		return post(ctx, e, *url, secret, body, f, *timeout)
	}
}

// setAccount makes account, a token of letters, digits, '-' and '_', the
// account ev names.
func setAccount(ev *wootric.Event, account string) error {
	ok := account != "" && len(account) <= 64
	for i := 0; ok && i < len(account); i++ {
		c := account[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	if !ok {
		return fmt.Errorf("-account %q is not an account token, such as NPS-EU-1a2b3c4d: letters, digits, '-' and '_'", account)
	}
	ev.AccountToken = account
	return nil
}

// freshEvent returns the sample of type event in mode as a new event: a
// new id and times of now (in ms), and the score and comment if set. A pinned id
// keeps the sample's created_at and updated_at, so that two sends with one
// id are one event (a duplicate) however far apart they are; its timestamp
// is still now, as a resend's is.
func freshEvent(fs *flag.FlagSet, event, mode string, id int64, score int, comment string, now time.Time) (*wootric.Event, error) {
	t := wootric.EventType(event)
	if !slices.Contains(sample.Types(), t) {
		return nil, fmt.Errorf("-event %q is not one of %v", event, sample.Types())
	}
	m := wootric.SurveyMode(strings.ToUpper(mode))
	if !slices.Contains(sample.Modes(), m) {
		return nil, fmt.Errorf("-mode %q is not one of %v", mode, sample.Modes())
	}
	ev, err := sample.Event(t, m)
	if err != nil {
		return nil, err
	}
	pinned := given(fs, "id")
	if !pinned {
		id = 1 + rand.Int64N(1e9)
	} else if id <= 0 {
		return nil, fmt.Errorf("-id %d is not a positive id", id)
	}
	now = now.Truncate(time.Millisecond)
	ev.Timestamp = now
	if d := ev.Decline; d != nil {
		for _, name := range []string{"score", "comment"} {
			if given(fs, name) {
				return nil, fmt.Errorf("-%s: a decline has no %s", name, name)
			}
		}
		d.ID = id
		if !pinned {
			d.CreatedAt, d.UpdatedAt = now.Add(-2*time.Second), now.Add(-2*time.Second)
		}
		return ev, nil
	}
	r := ev.Response
	r.ID = id
	if !pinned {
		r.CreatedAt, r.UpdatedAt = now.Add(-5*time.Second), now.Add(-5*time.Second)
		if t == wootric.ResponseUpdated {
			r.UpdatedAt = now.Add(-time.Second)
		}
	}
	if given(fs, "score") {
		lo, hi := scoreRange(m)
		if score < lo || score > hi {
			return nil, fmt.Errorf("-score %d is outside %s's %d to %d", score, m, lo, hi)
		}
		r.Score = score
	}
	if given(fs, "comment") {
		if !utf8.ValidString(comment) {
			return nil, fmt.Errorf("-comment is not UTF-8")
		}
		r.Text = comment
	}
	return ev, nil
}

// scoreRange returns the scores a survey of mode takes, as Wootric defines
// them (CSAT 1 to 5, or 1 to 10 where an account chose that scale).
func scoreRange(mode wootric.SurveyMode) (lo, hi int) {
	switch mode {
	case wootric.CES:
		return 1, 7
	case wootric.CSAT:
		return 1, 10
	}
	return 0, 10
}

func parseFormat(s string) (wootric.Format, error) {
	switch strings.ToLower(s) {
	case "json":
		return wootric.JSON, nil
	case "form":
		return wootric.Form, nil
	}
	return 0, fmt.Errorf("-format %q is not json or form", s)
}

// post signs body with secret and POSTs it to url as format f, prints the
// answer (status, time, and the start of its body), and returns 0 for a
// 2xx answer and 1 otherwise.
func post(ctx context.Context, e env, url, secret string, body []byte, f wootric.Format, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return usageError(e.stderr, fmt.Sprintf("-url: %v", err))
	}
	req.Header.Set("Content-Type", f.ContentType())
	req.Header.Set(wootric.SignatureHeader, wootric.Sign(secret, body))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return fail(e.stderr, fmt.Errorf("%w (is the receiver running, and listening at -url?)", err))
		}
		return fail(e.stderr, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	fmt.Fprintf(e.stdout, "%s in %s\n", resp.Status, time.Since(start).Round(10*time.Microsecond))
	if text := printable(answer); text != "" {
		fmt.Fprintf(e.stdout, "  %s\n", strings.ReplaceAll(text, "\n", "\n  "))
	}
	hint := hints[resp.StatusCode]
	if resp.Header.Get(forwardedHeader) != "" && resp.StatusCode != http.StatusOK {
		hint = "the app behind listen -forward answered this"
		if resp.StatusCode == http.StatusUnauthorized {
			hint += ": is -forward-secret the app's secret?"
		}
	}
	if hint != "" {
		fmt.Fprintf(e.stdout, "  (%s)\n", hint)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 1
	}
	return 0
}

// hints say what an answer of a wootric Handler usually means.
var hints = map[int]string{
	http.StatusUnauthorized:          "the signature did not match: is the secret the same on both sides?",
	http.StatusBadRequest:            "the receiver could not read the body, or its timestamp is outside its replay window",
	http.StatusNotFound:              "nothing serves this path: check -url against the receiver's route",
	http.StatusServiceUnavailable:    "the event is running now, or its callbacks timed out: the sender retries",
	http.StatusInternalServerError:   "a callback failed, or the receiver has no secret (is WOOTRIC_SECRET set where it runs?): its log says which",
	http.StatusRequestEntityTooLarge: "the body is over the receiver's MaxBodyBytes",
}

// printable returns b trimmed, cut at maxAnswer bytes, if it is text, and a
// note of its size if it is not.
func printable(b []byte) string {
	cut := len(b) > maxAnswer
	if cut {
		b = b[:maxAnswer]
	}
	text := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	if strings.ContainsFunc(text, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\t' }) {
		return fmt.Sprintf("[%d bytes that are not text]", len(b))
	}
	if cut {
		text += " [...]"
	}
	return text
}

func replayCommand(fs *flag.FlagSet) func(context.Context, *flag.FlagSet, env) int {
	url := fs.String("url", "", "receiver URL (required)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for each answer")
	secretFlag := secretFlag(fs)
	return func(ctx context.Context, fs *flag.FlagSet, e env) int {
		secret := secretOf(*secretFlag, e)
		switch why := targetError(*url, secret); {
		case why != "":
			return usageError(e.stderr, "replay: "+why)
		case fs.NArg() == 0:
			return usageError(e.stderr, "replay: no file or directory of saved deliveries")
		}
		var files []string
		for _, arg := range fs.Args() {
			info, err := os.Stat(arg)
			if err != nil {
				return usageError(e.stderr, fmt.Sprintf("replay: %v", err))
			}
			if !info.IsDir() {
				files = append(files, arg)
				continue
			}
			// Saved deliveries sort in the order they arrived.
			for _, ext := range []string{"*.json", "*.form"} {
				m, _ := filepath.Glob(filepath.Join(arg, ext))
				files = append(files, m...)
			}
		}
		sort.Slice(files, func(i, j int) bool { return filepath.Base(files[i]) < filepath.Base(files[j]) })
		code := 0
		for _, file := range files {
			body, err := os.ReadFile(file)
			if err != nil {
				return fail(e.stderr, err)
			}
			fmt.Fprintf(e.stdout, "%s: ", filepath.Base(file))
			if c := post(ctx, e, *url, secret, body, wootric.FormatOf(body), *timeout); c != 0 {
				code = c
			}
		}
		fmt.Fprintf(e.stdout, "replayed %s\n", plural(len(files), "delivery", "deliveries"))
		return code
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
