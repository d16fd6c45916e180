package wootric_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
)

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
			slog.LevelWarn, map[string]string{"status": "401", "body_bytes": fmt.Sprint(len(body))}, []string{"secret_index", "event_type"}},
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
				h.On(wootric.ResponseCreated, tc.callback)
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
	e, err := wootric.Decode(body)
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

// TestHandlerLogsAnOddEventTypeQuoted: the event's type comes from the
// payload; a record quotes and bounds one without the shape of a type, so
// that it cannot forge a line of a text log.
func TestHandlerLogsAnOddEventTypeQuoted(t *testing.T) {
	logs := &logRecords{}
	h := wootric.NewHandler(testSecret)
	h.Logger = slog.New(logs)
	h.On("response.created\nlevel=ERROR msg=forged", func(context.Context, *wootric.Event) error { return errors.New("crm down") })
	serve(t, h, []byte(`{"response":{"id":5,"score":9},"event_name":"created\nlevel=ERROR msg=forged"}`))
	for _, r := range logs.records {
		if v := r.attrs["event_type"]; v != `"response.created\nlevel=ERROR msg=forged"` || strings.Contains(r.attrs["reason"], "\n") {
			t.Errorf("record %q: event_type %s, reason %q; want both with the type quoted", r.msg, v, r.attrs["reason"])
		}
	}
	if len(logs.records) != 1 {
		t.Errorf("%d records, want 1", len(logs.records))
	}
}
