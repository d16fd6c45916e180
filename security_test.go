package wootric_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
)

// TestDecodeStopsAtMaxDepth feeds a megabyte of nesting: Decode must stop
// where the nesting passes MaxDepth, not walk on.
func TestDecodeStopsAtMaxDepth(t *testing.T) {
	const size = 1 << 20
	tests := []struct {
		name string
		body string
		max  int // the error's offset is at most this
	}{
		{"json arrays", `{"x":` + strings.Repeat("[", size), 5 + wootric.MaxDepth},
		{"json objects", `{"x":` + strings.Repeat(`{"a":`, size/5), 5 + 5*wootric.MaxDepth},
		{"json properties", `{"response":{"id":1,"score":9,"end_user_properties":{"a":` + strings.Repeat("[", size), 60 + wootric.MaxDepth},
		{"form key", "event_name=created&x" + strings.Repeat("[a]", size/3) + "=1", 19},
		{"form escaped key", "event_name=created&x" + strings.Repeat("%5Ba%5D", size/7) + "=1", 19},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := wootric.Decode([]byte(tc.body), "")
			var pe *wootric.PayloadError
			if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "nested deeper") || pe.Offset > tc.max {
				t.Fatalf("Decode(deep %s) = %v, want a nesting error by byte %d", tc.name, err, tc.max)
			}
		})
	}
}

// manyProperties returns a delivery with n end-user properties, in JSON or
// as a form.
func manyProperties(n int, form bool) []byte {
	var b bytes.Buffer
	if form {
		b.WriteString("event_name=created&response[id]=1&response[score]=9")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "&response[end_user_properties][p%d]=%d", i, i)
		}
		return b.Bytes()
	}
	b.WriteString(`{"event_name":"created","response":{"id":1,"score":9,"end_user_properties":{`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"p%d":%d`, i, i)
	}
	b.WriteString("}}}")
	return b.Bytes()
}

// TestDecodeManyProperties decodes 200,000 properties, in linear time (see
// BenchmarkDecodeManyProperties): there is no count limit, the body size
// limit bounds them. A Handler's default 1 MiB refuses such a body.
func TestDecodeManyProperties(t *testing.T) {
	const n = 200000
	for _, form := range []bool{false, true} {
		body := manyProperties(n, form)
		e, err := wootric.Decode(body, "")
		if err != nil || len(e.Response.EndUserProperties) != n || e.Response.EndUserProperties["p199999"] != "199999" {
			t.Fatalf("Decode(%d properties, form %v) = %v", n, form, err)
		}
		h := wootric.NewHandler(testSecret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, delivery(t, body, testSecret, ""))
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("Handler with the default limit answered %d to %d bytes, want 413", w.Code, len(body))
		}
	}
}

// TestHandlerSlowBodyEndsWithTheContext sends a body that never ends to a
// real server whose request context has a deadline: the Handler must give
// up when the context ends, not wait for the server's ReadTimeout.
// eventAt returns a signed delivery of a response whose timestamp is ts.
func eventAt(t *testing.T, ts string) *http.Request {
	body := []byte(`{"response":{"id":7,"score":9,"updated_at":"2016-08-04T13:57:26.558-07:00"},"event_name":"created","timestamp":` + ts + `}`)
	return delivery(t, body, testSecret, "")
}

func TestHandlerReplayWindow(t *testing.T) {
	now := time.Now()
	stamp := func(d time.Duration) string { return `"` + now.Add(d).Format(time.RFC3339Nano) + `"` }
	tests := []struct {
		name   string
		window time.Duration
		ts     string
		status int
	}{
		{"off by default: any age", 0, `"2016-08-04T13:57:31.329-07:00"`, 200},
		{"off by default: no timestamp", 0, `null`, 200},
		{"inside the window", 5 * time.Minute, stamp(-4 * time.Minute), 200},
		{"just now", 5 * time.Minute, stamp(0), 200},
		{"slightly in the future", 5 * time.Minute, stamp(30 * time.Second), 200},
		{"older than the window", 5 * time.Minute, stamp(-6 * time.Minute), 400},
		{"far older", 5 * time.Minute, `"2016-08-04T13:57:31.329-07:00"`, 400},
		{"too far in the future", 5 * time.Minute, stamp(2 * time.Minute), 400},
		{"no timestamp", 5 * time.Minute, `null`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ran atomic.Int32
			var got error
			h := wootric.NewHandler(testSecret)
			h.ReplayWindow = tc.window
			h.OnResponseCreated(func(context.Context, *wootric.Event) error { ran.Add(1); return nil })
			h.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
				got = err
				w.WriteHeader(wootric.StatusCode(err))
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, eventAt(t, tc.ts))
			if w.Code != tc.status {
				t.Fatalf("status = %d (%v), want %d", w.Code, got, tc.status)
			}
			if tc.status != 200 && (!errors.Is(got, wootric.ErrOutsideReplayWindow) || ran.Load() != 0) {
				t.Errorf("refusal %v with %d callbacks run, want ErrOutsideReplayWindow and none", got, ran.Load())
			}
		})
	}
}

// logRecords is a slog.Handler that keeps every record, its attributes
// rendered as text, for the tests to inspect.
type logRecords struct {
	mu      sync.Mutex
	records []logRecord
}

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, rec)
	l.mu.Unlock()
	return nil
}

func TestHandlerLogsEachRefusal(t *testing.T) {
	// Personal data the payload holds, which no record may show.
	const email, ip, comment = "jane.doe@example.com", "203.0.113.77", "my manager is awful"
	body := []byte(`{"response":{"id":4242,"score":3,"email":"` + email + `","ip_address":"` + ip + `","text":"` + comment + `"},"event_name":"created"}`)
	secrets := []string{"", "old-secret", testSecret}
	failing := errors.New("crm unreachable")

	tests := []struct {
		name     string
		req      func() *http.Request
		callback func(context.Context, *wootric.Event) error
		level    slog.Level
		want     map[string]string // attributes the record must have
		absent   []string          // attributes it must not have
	}{
		{"wrong method", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) }, nil,
			slog.LevelWarn, map[string]string{"status": "405", "reason": "wootric: method not allowed"}, []string{"secret_index", "event_type"}},
		{"bad signature", func() *http.Request { return delivery(t, body, "forged", "") }, nil,
			slog.LevelWarn, map[string]string{"status": "401", "content_length": fmt.Sprint(len(body))}, []string{"secret_index", "event_type"}},
		{"malformed", func() *http.Request {
			return delivery(t, []byte(`{"response":{"id":1,"score":"`+email+`"}}`), testSecret, "")
		}, nil,
			slog.LevelWarn, map[string]string{"status": "400", "secret_index": "2"}, []string{"event_type"}},
		{"callback error", func() *http.Request { return delivery(t, body, "old-secret", "") },
			func(context.Context, *wootric.Event) error { return failing },
			slog.LevelError, map[string]string{"status": "500", "secret_index": "1", "event_type": "response.created", "object_id": "4242"}, nil},
		{"callback panic", func() *http.Request { return delivery(t, body, testSecret, "") },
			func(_ context.Context, e *wootric.Event) error { panic("bad data: " + e.Response.Email) },
			slog.LevelError, map[string]string{"status": "500", "event_type": "response.created", "object_id": "4242"}, nil},
		{"processed", func() *http.Request { return delivery(t, body, testSecret, "") },
			func(context.Context, *wootric.Event) error { return nil },
			slog.LevelDebug, map[string]string{"event_type": "response.created", "object_id": "4242", "secret_index": "2"}, []string{"reason"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logRecords{}
			h := wootric.NewHandler(secrets...)
			h.Logger = slog.New(logs)
			if tc.callback != nil {
				h.OnResponseCreated(tc.callback)
			}
			r := tc.req()
			h.ServeHTTP(httptest.NewRecorder(), r)
			if len(logs.records) != 1 {
				t.Fatalf("%d records, want 1: %+v", len(logs.records), logs.records)
			}
			rec := logs.records[0]
			if rec.level != tc.level || !strings.HasPrefix(rec.msg, "wootric: ") {
				t.Errorf("record %q at %v, want level %v", rec.msg, rec.level, tc.level)
			}
			if rec.attrs["remote_addr"] != r.RemoteAddr {
				t.Errorf("remote_addr = %q, want %q", rec.attrs["remote_addr"], r.RemoteAddr)
			}
			for k, v := range tc.want {
				if got, ok := rec.attrs[k]; !ok || (v != "" && !strings.Contains(got, v)) {
					t.Errorf("attribute %s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tc.absent {
				if _, ok := rec.attrs[k]; ok {
					t.Errorf("attribute %s is set, want it absent", k)
				}
			}
			all := rec.msg + fmt.Sprint(rec.attrs)
			for _, secret := range []string{email, ip, comment, testSecret, "old-secret", wootric.Sign(testSecret, body)[5:], wootric.Sign("old-secret", body)[5:]} {
				if strings.Contains(all, secret) {
					t.Errorf("record holds %q: %s", secret, all)
				}
			}
		})
	}
}

func TestHandlerLogsACopyInProgress(t *testing.T) {
	logs := &logRecords{}
	d := &wootric.MemoryDeduplicator{}
	h := wootric.NewHandler(testSecret)
	h.Logger = slog.New(logs)
	h.Dedup = d
	body := readTestdata(t, "decline-created.json")
	e, err := wootric.Decode(body, "")
	if err != nil {
		t.Fatal(err)
	}
	if res, _, _ := d.Claim(context.Background(), wootric.DedupKey(e), time.Minute); res != wootric.ClaimAcquired {
		t.Fatalf("Claim() = %v", res)
	}
	h.ServeHTTP(httptest.NewRecorder(), delivery(t, body, testSecret, ""))
	if len(logs.records) != 1 || logs.records[0].level != slog.LevelInfo || logs.records[0].attrs["status"] != "503" {
		t.Errorf("records %+v, want one Info record with status 503", logs.records)
	}
}

func TestHandlerLogsNextsOwnAnswer(t *testing.T) {
	logs := &logRecords{}
	h := wootric.NewHandler(testSecret)
	h.Logger = slog.New(logs)
	mw := h.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) }))
	w := httptest.NewRecorder()
	mw.ServeHTTP(w, delivery(t, readTestdata(t, "decline-created.json"), testSecret, ""))
	if w.Code != 404 || len(logs.records) != 1 || logs.records[0].level != slog.LevelError || logs.records[0].attrs["status"] != "404" {
		t.Errorf("answer %d, records %+v; want next's 404 and one Error record with status 404", w.Code, logs.records)
	}
}

func TestHandlerLogsDuplicates(t *testing.T) {
	logs := &logRecords{}
	h := wootric.NewHandler(testSecret)
	h.Logger = slog.New(logs)
	h.Dedup = &wootric.MemoryDeduplicator{}
	body := readTestdata(t, "decline-created.json")
	for i := 0; i < 2; i++ {
		h.ServeHTTP(httptest.NewRecorder(), delivery(t, body, testSecret, ""))
	}
	if len(logs.records) != 2 || logs.records[1].level != slog.LevelInfo || logs.records[1].attrs["object_id"] != "19" {
		t.Errorf("records %+v, want a processed one and an Info duplicate of decline 19", logs.records)
	}
}

// FuzzHandler drives the whole Handler with signed and unsigned bodies: it
// must never panic, answer only with the statuses of its contract, and run
// the callback exactly for the deliveries it accepts, with the body as sent.
func FuzzHandler(f *testing.F) {
	for _, name := range []string{"doc-response-created.json", "decline-created.json", "response-created.form", "decline-created.form", "doc-decline-created.json", "rails/response-updated-rich.to_query.form"} {
		body := readTestdata(f, name)
		f.Add(body, "", true)
		f.Add(body, "application/json", false)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string, signed bool) {
		var got *wootric.Event
		h := wootric.NewHandler(testSecret)
		h.MaxBodyBytes = 4096
		for _, typ := range []wootric.EventType{wootric.ResponseCreated, wootric.ResponseUpdated, wootric.DeclineCreated} {
			h.On(typ, func(_ context.Context, e *wootric.Event) error {
				if got != nil {
					t.Fatal("two callbacks for one delivery")
				}
				got = e
				return nil
			})
		}
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		if signed {
			r.Header.Set(wootric.SignatureHeader, wootric.Sign(testSecret, body))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch {
		case w.Code == 200:
			e, err := wootric.Decode(body, contentType)
			if !signed || err != nil {
				t.Fatalf("200 for a delivery signed %v that Decode refuses with %v", signed, err)
			}
			known := e.Type == wootric.ResponseCreated || e.Type == wootric.ResponseUpdated || e.Type == wootric.DeclineCreated
			if known != (got != nil) || got != nil && !bytes.Equal(got.Raw, body) {
				t.Fatalf("event %s: callback got %v", e.Type, got)
			}
		case w.Code == 401 && !signed, w.Code == 400 && signed, w.Code == 413 && len(body) > 4096:
			if got != nil {
				t.Fatalf("callback ran for a refused delivery (%d)", w.Code)
			}
		default:
			t.Fatalf("status %d for a delivery signed %v", w.Code, signed)
		}
	})
}

// BenchmarkDecodeManyProperties measures the cost of a hostile flat map of
// 200,000 end-user properties, which Decode accepts rather than counts.
func BenchmarkDecodeManyProperties(b *testing.B) {
	for _, form := range []bool{false, true} {
		body := manyProperties(200000, form)
		name := "json"
		if form {
			name = "form"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := wootric.Decode(body, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
