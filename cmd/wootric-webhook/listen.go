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
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/wootric-go/wootric"
)

func listenCommand(fs *flag.FlagSet) func(context.Context, *flag.FlagSet, env) int {
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	path := fs.String("path", "/wootric", "path that receives deliveries")
	forward := fs.String("forward", "", "re-sign each verified delivery and POST it to this URL, your app's; its answer is the sender's")
	forwardSecret := fs.String("forward-secret", "", "secret to sign forwarded deliveries with (default the listen secret)")
	save := fs.String("save", "", "write each verified delivery to a file in this directory, for replay")
	jsonLines := fs.Bool("json", false, "print JSON lines instead of text")
	raw := fs.Bool("raw", false, "also print each verified body, personal data included, quoted")
	secretFlag := secretFlag(fs)
	return func(ctx context.Context, _ *flag.FlagSet, e env) int {
		if !strings.HasPrefix(*path, "/") {
			return usageError(e.stderr, fmt.Sprintf("listen: -path %q does not begin with /", *path))
		}
		if *forward != "" && !isHTTPURL(*forward) {
			return usageError(e.stderr, fmt.Sprintf("listen: -forward %q is not an http or https URL", *forward))
		}
		if *save != "" {
			if err := os.MkdirAll(*save, 0o700); err != nil {
				return usageError(e.stderr, fmt.Sprintf("listen: -save: %v", err))
			}
		}
		secret := secretOf(*secretFlag, e)
		made := secret == ""
		if made {
			b := make([]byte, 16)
			if _, err := rand.Read(b); err != nil {
				return fail(e.stderr, fmt.Errorf("making a secret: %w", err))
			}
			secret = hex.EncodeToString(b)
		}
		switch {
		case *forwardSecret != "" && *forward == "":
			return usageError(e.stderr, "listen: -forward-secret is for -forward, which is not given")
		case *forwardSecret == "":
			*forwardSecret = secret
		}

		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return fail(e.stderr, err)
		}
		p := &printer{w: e.stdout, json: *jsonLines, raw: *raw}
		t := &tally{forwarding: *forward != ""}
		h := wootric.NewHandler(secret)
		h.Observe = t.observe
		h.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			code := wootric.StatusCode(err)
			p.refused(r, code, err)
			http.Error(w, http.StatusText(code), code)
		}
		var saved atomic.Int64
		deliver := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ev, _ := wootric.EventFromContext(r.Context())
			if *save != "" {
				file, err := saveDelivery(*save, ev, saved.Add(1))
				if err != nil {
					p.line(fmt.Sprintf("  not saved: %v", err), map[string]any{"save_error": err.Error()})
					http.Error(w, "not saved", http.StatusInternalServerError)
					return
				}
				defer p.line("  saved "+file, map[string]any{"saved": file})
			}
			if *forward == "" {
				p.event(ev, "")
				w.WriteHeader(http.StatusOK)
				return
			}
			code, answer := forwardDelivery(r.Context(), *forward, *forwardSecret, ev.Raw)
			p.event(ev, answer)
			w.Header().Set(forwardedHeader, "app") // for send's hints
			w.WriteHeader(code)
		})
		mux := http.NewServeMux()
		mux.Handle(*path, h.Middleware(deliver))
		if *path != "/" {
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				p.other(r, *path)
				http.NotFound(w, r)
			})
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}

		url := "http://" + ln.Addr().String() + *path
		p.line(fmt.Sprintf("listening on %s", url), map[string]any{"listening": url})
		if made {
			p.line(fmt.Sprintf("secret: %s (made up for this run; pass -secret or set WOOTRIC_SECRET to keep one)", secret),
				map[string]any{"secret": secret, "generated": true})
		}
		if *forward != "" {
			p.line("forwarding to "+*forward, map[string]any{"forwarding": *forward})
		}
		go func() {
			<-ctx.Done()
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdown)
		}()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fail(e.stderr, err)
		}
		p.tally(t)
		return 0
	}
}

// forwardedHeader marks an answer of listen -forward's that is the app's:
// send's hints then speak of the app, not of listen.
const forwardedHeader = "X-Wootric-Webhook-Forwarded"

// forwardDelivery re-signs body with secret and POSTs it to url, and
// returns the status to answer the sender with, the app's (502 if the app
// could not be reached), and a note of the app's answer for the line.
func forwardDelivery(ctx context.Context, url, secret string, body []byte) (int, string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return http.StatusBadGateway, "forward failed: " + err.Error()
	}
	req.Header.Set("Content-Type", wootric.FormatOf(body).ContentType())
	req.Header.Set(wootric.SignatureHeader, wootric.Sign(secret, body))
	start := time.Now()
	resp, err := forwardClient.Do(req)
	if err != nil {
		return http.StatusBadGateway, "forward failed: " + err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	took := time.Since(start).Round(10 * time.Microsecond)
	status := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode)) // not the app's own words
	if resp.StatusCode/100 == 3 {
		return http.StatusBadGateway, fmt.Sprintf("your app answered %s in %s, a redirect (to %s), which listen does not follow: forward to the URL that answers",
			status, took, term(resp.Header.Get("Location")))
	}
	return resp.StatusCode, fmt.Sprintf("your app answered %s in %s", status, took)
}

// forwardClient forwards deliveries without following redirects: a POST
// redirected with 302 becomes a GET elsewhere, whose 200 would tell the
// sender that the app had processed an event it never saw, and a 307 would
// send the signed body, and its personal data, to another host.
var forwardClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// saveDelivery writes ev's body to a new file in dir, named for when it
// came, its order, its type and id:
// 20261129T235959.123Z-0001-response.created-1128.json. The type is
// "other" unless it has the shape of one (lower-case words and a dot), so
// that a name from the payload never makes the path; the file is created
// through an os.Root of dir, and only if it does not exist.
func saveDelivery(dir string, ev *wootric.Event, n int64) (string, error) {
	id := int64(0)
	switch {
	case ev.Response != nil:
		id = ev.Response.ID
	case ev.Decline != nil:
		id = ev.Decline.ID
	}
	typ := "other"
	if s := ev.Type.String(); s == string(ev.Type) { // not quoted: it has the shape of a type
		typ = s
	}
	name := fmt.Sprintf("%s-%04d-%s-%d.%s", time.Now().UTC().Format("20060102T150405.000Z"), n, typ, id, wootric.FormatOf(ev.Raw))
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.Write(ev.Raw); err != nil {
		f.Close()
		return "", err
	}
	return filepath.Join(dir, name), f.Close()
}

// term returns s, from a payload or an app, fit for a terminal line: as it
// is if it is at most 64 bytes of graphic characters without spaces, and
// otherwise quoted as a Go string (which escapes control characters and
// line breaks), cut after 64 bytes.
func term(s string) string {
	const max = 64
	if len(s) <= max && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) || unicode.IsSpace(r) }) < 0 {
		return s
	}
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
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
// data unless -raw; and, if it was forwarded, what the app answered.
func (p *printer) event(e *wootric.Event, forwarded string) {
	now := time.Now().UTC().Format(time.RFC3339)
	format := wootric.FormatOf(e.Raw)
	fields := map[string]any{"time": now, "event": e.Type, "mode": e.SurveyMode, "account": e.AccountToken,
		"format": format.String(), "bytes": len(e.Raw)}
	text := fmt.Sprintf("%s %s %s", now, e.Type, term(string(e.SurveyMode)))
	switch {
	case e.Response != nil:
		fields["id"], fields["score"] = e.Response.ID, e.Response.Score
		text += fmt.Sprintf(" response %d score %d", e.Response.ID, e.Response.Score)
	case e.Decline != nil:
		fields["id"] = e.Decline.ID
		text += fmt.Sprintf(" decline %d", e.Decline.ID)
	}
	text += fmt.Sprintf(" account %s (%s, %d bytes)", term(e.AccountToken), format, len(e.Raw))
	if forwarded != "" {
		fields["forwarded"] = forwarded
		text += ": " + forwarded
	}
	if p.raw {
		fields["body"] = string(e.Raw)
		text += "\n  " + strconv.Quote(string(e.Raw))
	}
	p.line(text, fields)
}

func (p *printer) refused(r *http.Request, code int, err error) {
	now := time.Now().UTC().Format(time.RFC3339)
	p.line(fmt.Sprintf("%s refused %d %s: %v (from %s)", now, code, http.StatusText(code), err, r.RemoteAddr),
		map[string]any{"time": now, "refused": code, "reason": err.Error(), "remote": r.RemoteAddr})
}

// other prints a request to a path listen does not serve.
func (p *printer) other(r *http.Request, path string) {
	now := time.Now().UTC().Format(time.RFC3339)
	p.line(fmt.Sprintf("%s 404 %s %q (listening on %s; from %s)", now, r.Method, r.URL.Path, path, r.RemoteAddr),
		map[string]any{"time": now, "refused": http.StatusNotFound, "method": r.Method, "path": r.URL.Path, "remote": r.RemoteAddr})
}

// tally counts the deliveries listen has answered, by outcome and reason.
type tally struct {
	forwarding bool // the app answers: its failures are "failed app 400"
	mu         sync.Mutex
	counts     map[string]int // "processed", "refused signature", ...
}

func (t *tally) observe(_ context.Context, rep wootric.Report) {
	key := string(rep.Outcome)
	switch {
	case t.forwarding && rep.Reason == wootric.ReasonCallback:
		key += fmt.Sprintf(" app %d", rep.Status) // the app's answer, not a callback's
	case rep.Reason != "":
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
