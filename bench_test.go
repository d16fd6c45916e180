package wootric_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/wootrictest/storetest"
)

// The receiver a user writes without this library, as the issue describes
// it: read the body (bounded), HMAC-SHA1 it, compare with hmac.Equal, then
// json.Unmarshal into a struct with time.Time fields, or url.ParseQuery
// plus strconv and time.Parse for each field of a form; a switch on
// event_name and one callback.

type handObject struct {
	ID                       int64             `json:"id"`
	Email                    string            `json:"email"`
	ExternalID               string            `json:"external_id"`
	Score                    int               `json:"score"`
	Text                     string            `json:"text"`
	IPAddress                string            `json:"ip_address"`
	OriginURL                string            `json:"origin_url"`
	EndUserID                int64             `json:"end_user_id"`
	EndUserProperties        map[string]string `json:"end_user_properties"`
	SurveyID                 int64             `json:"survey_id"`
	CreatedAt                time.Time         `json:"created_at"`
	UpdatedAt                time.Time         `json:"updated_at"`
	ExcludedFromCalculations bool              `json:"excluded_from_calculations"`
}

type handPayload struct {
	Response     *handObject `json:"response"`
	Decline      *handObject `json:"decline"`
	EventName    string      `json:"event_name"`
	Timestamp    time.Time   `json:"timestamp"`
	AccountToken string      `json:"account_token"`
	SurveyMode   string      `json:"survey_mode"`
}

const handMaxBody = 1 << 20

// handVerify is the hand-written signature check.
func handVerify(w http.ResponseWriter, r *http.Request, secret []byte) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, handMaxBody+1))
	if err != nil || len(body) > handMaxBody {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	mac := hmac.New(sha1.New, secret)
	mac.Write(body)
	want := "sha1=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(r.Header.Get("X-Wootric-Signature")), []byte(want)) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

func handDispatch(w http.ResponseWriter, p *handPayload, onCreated func(*handPayload) error) {
	switch p.EventName {
	case "created":
		if p.Response != nil {
			if err := onCreated(p); err != nil {
				http.Error(w, "error", http.StatusInternalServerError)
				return
			}
		}
	case "updated":
	}
	w.WriteHeader(http.StatusOK)
}

func handJSONReceiver(secret string, onCreated func(*handPayload) error) http.HandlerFunc {
	key := []byte(secret)
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := handVerify(w, r, key)
		if !ok {
			return
		}
		var p handPayload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		handDispatch(w, &p, onCreated)
	}
}

func handFormReceiver(secret string, onCreated func(*handPayload) error) http.HandlerFunc {
	key := []byte(secret)
	const layout = "2006-01-02 15:04:05 -0700"
	return func(w http.ResponseWriter, r *http.Request) {
		body, ok := handVerify(w, r, key)
		if !ok {
			return
		}
		q, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		p := handPayload{EventName: q.Get("event_name"), AccountToken: q.Get("account_token"), SurveyMode: q.Get("survey_mode")}
		bad := false
		parseTime := func(s string) time.Time {
			if s == "" {
				return time.Time{}
			}
			t, err := time.Parse(layout, s)
			bad = bad || err != nil
			return t
		}
		parseInt := func(s string) int64 {
			if s == "" {
				return 0
			}
			n, err := strconv.ParseInt(s, 10, 64)
			bad = bad || err != nil
			return n
		}
		p.Timestamp = parseTime(q.Get("timestamp"))
		for _, obj := range []string{"response", "decline"} {
			if q.Get(obj+"[id]") == "" {
				continue
			}
			o := &handObject{
				ID: parseInt(q.Get(obj + "[id]")), Email: q.Get(obj + "[email]"), ExternalID: q.Get(obj + "[external_id]"),
				Score: int(parseInt(q.Get(obj + "[score]"))), Text: q.Get(obj + "[text]"),
				IPAddress: q.Get(obj + "[ip_address]"), OriginURL: q.Get(obj + "[origin_url]"),
				EndUserID: parseInt(q.Get(obj + "[end_user_id]")), SurveyID: parseInt(q.Get(obj + "[survey_id]")),
				CreatedAt: parseTime(q.Get(obj + "[created_at]")), UpdatedAt: parseTime(q.Get(obj + "[updated_at]")),
				ExcludedFromCalculations: q.Get(obj+"[excluded_from_calculations]") == "true",
				EndUserProperties:        map[string]string{},
			}
			prefix := obj + "[end_user_properties]["
			for k, v := range q {
				if strings.HasPrefix(k, prefix) && strings.HasSuffix(k, "]") {
					o.EndUserProperties[k[len(prefix):len(k)-1]] = v[0]
				}
			}
			if obj == "response" {
				p.Response = o
			} else {
				p.Decline = o
			}
		}
		if bad {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		handDispatch(w, &p, onCreated)
	}
}

// floorReceiver reads the body and checks its HMAC, and decodes nothing:
// no receiver can cost less and still be safe.
func floorReceiver(secret string) http.HandlerFunc {
	key := []byte(secret)
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := handVerify(w, r, key); ok {
			w.WriteHeader(http.StatusOK)
		}
	}
}

var benchSink int64

// benchServe sends body through h b.N times, with an httptest request and
// recorder, and checks the answer.
func benchServe(b *testing.B, h http.Handler, body []byte, contentType string) {
	b.Helper()
	sig := wootric.Sign(testSecret, body)
	r := httptest.NewRequest(http.MethodPost, "/wootric", nil)
	r.Header.Set(wootric.SignatureHeader, sig)
	r.Header.Set("Content-Type", contentType)
	r.ContentLength = int64(len(body))
	rd := bytes.NewReader(body)
	rc := io.NopCloser(rd)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rd.Reset(body)
		r.Body = rc
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkDelivery compares one delivery of the documentation's
// response-created sample through the Handler, through the hand-written
// receiver, and through the floor.
func BenchmarkDelivery(b *testing.B) {
	formats := []struct {
		name, file, contentType string
		hand                    func(string, func(*handPayload) error) http.HandlerFunc
	}{
		{"json", "doc-response-created.json", "application/json", handJSONReceiver},
		{"form", "response-created.form", "application/x-www-form-urlencoded", handFormReceiver},
	}
	for _, f := range formats {
		body := readTestdata(b, f.file)
		b.Run(f.name+"/library", func(b *testing.B) {
			h := wootric.NewHandler(testSecret)
			h.On(wootric.ResponseCreated, func(_ context.Context, e *wootric.Event) error {
				benchSink += int64(e.Response.Score)
				return nil
			})
			benchServe(b, h, body, f.contentType)
		})
		b.Run(f.name+"/accounts", func(b *testing.B) {
			h := wootric.NewAccountHandler(benchAccounts(10000, "NPS-xxxxxxxx", testSecret))
			h.On(wootric.ResponseCreated, func(_ context.Context, e *wootric.Event) error {
				benchSink += int64(e.Response.Score)
				return nil
			})
			benchServe(b, h, body, f.contentType)
		})
		b.Run(f.name+"/handwritten", func(b *testing.B) {
			h := f.hand(testSecret, func(p *handPayload) error {
				benchSink += int64(p.Response.Score)
				return nil
			})
			benchServe(b, h, body, f.contentType)
		})
		b.Run(f.name+"/floor", func(b *testing.B) {
			benchServe(b, floorReceiver(testSecret), body, f.contentType)
		})
	}
}

// BenchmarkDeliveryAccountsSpread delivers the sample for each of 10,000
// accounts in turn, each signed with its account's secret, with the
// garbage collector on: the cost of a delivery whose account's keys are
// not warm, as with many accounts each sending a few deliveries.
func BenchmarkDeliveryAccountsSpread(b *testing.B) {
	const n = 10000
	e, err := wootric.Decode(readTestdata(b, "doc-response-created.json"))
	if err != nil {
		b.Fatal(err)
	}
	accounts := make(wootric.AccountSecrets, n)
	bodies, sigs := make([][]byte, n), make([]string, n)
	for i := range n {
		e.AccountToken = fmt.Sprintf("NPS-%08x", i)
		secret := fmt.Sprintf("secret-%d", i)
		accounts[e.AccountToken] = []string{secret}
		if bodies[i], err = wootric.Encode(e, wootric.JSON); err != nil {
			b.Fatal(err)
		}
		sigs[i] = wootric.Sign(secret, bodies[i])
	}
	h := wootric.NewAccountHandler(accounts)
	h.On(wootric.ResponseCreated, func(_ context.Context, e *wootric.Event) error {
		benchSink += int64(e.Response.Score)
		return nil
	})
	r := httptest.NewRequest(http.MethodPost, "/wootric", nil)
	r.Header.Set("Content-Type", "application/json")
	rd := bytes.NewReader(nil)
	rc := io.NopCloser(rd)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % n
		rd.Reset(bodies[k])
		r.Body, r.ContentLength = rc, int64(len(bodies[k]))
		r.Header.Set(wootric.SignatureHeader, sigs[k])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// benchAccounts returns n accounts, each with a secret of its own, one of
// them account with secret.
func benchAccounts(n int, account, secret string) wootric.AccountSecrets {
	m := make(wootric.AccountSecrets, n)
	for i := range n - 1 {
		m[fmt.Sprintf("NPS-%08x", i)] = []string{fmt.Sprintf("secret-%d", i)}
	}
	m[account] = []string{secret}
	return m
}

// BenchmarkDecode measures Decode alone, beside the standard library's
// decoding that a hand-written receiver does.
func BenchmarkDecode(b *testing.B) {
	jsonBody := readTestdata(b, "doc-response-created.json")
	formBody := readTestdata(b, "response-created.form")
	run := func(name string, body []byte, fn func([]byte) error) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := fn(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("json/library", jsonBody, func(body []byte) error { _, err := wootric.Decode(body); return err })
	run("json/encoding_json", jsonBody, func(body []byte) error { var p handPayload; return json.Unmarshal(body, &p) })
	run("form/library", formBody, func(body []byte) error {
		_, err := wootric.Decode(body)
		return err
	})
	run("form/url_ParseQuery", formBody, func(body []byte) error { _, err := url.ParseQuery(string(body)); return err })
	rich := readTestdata(b, "rails/response-updated-rich.to_json.json")
	run("rich-json/library", rich, func(body []byte) error { _, err := wootric.Decode(body); return err })
	richForm := readTestdata(b, "rails/response-updated-rich.to_query.form")
	run("rich-form/library", richForm, func(body []byte) error { _, err := wootric.Decode(body); return err })
}

// BenchmarkVerify measures Verify, beside the hand-written check, with
// lower- and upper-case hex.
func BenchmarkVerify(b *testing.B) {
	body := readTestdata(b, "doc-response-created.json")
	lower := wootric.Sign(testSecret, body)
	upper := "sha1=" + strings.ToUpper(lower[5:])
	for _, tc := range []struct{ name, sig string }{{"lower", lower}, {"upper", upper}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := wootric.Verify(body, tc.sig, testSecret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("handwritten", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		key := []byte(testSecret)
		for i := 0; i < b.N; i++ {
			mac := hmac.New(sha1.New, key)
			mac.Write(body)
			if !hmac.Equal([]byte(lower), []byte("sha1="+hex.EncodeToString(mac.Sum(nil)))) {
				b.Fatal("mismatch")
			}
		}
	})
}

// comment returns n bytes of an end user's comment.
func comment(n int) string {
	const sentence = "Great product, but the export could be faster. "
	return strings.Repeat(sentence, n/len(sentence)+1)[:n]
}

// BenchmarkDeliverySize shows that a delivery's cost grows linearly with
// its body: MB/s stays level from 1 KiB to 256 KiB of comment.
func BenchmarkDeliverySize(b *testing.B) {
	for _, n := range []int{1 << 10, 16 << 10, 256 << 10} {
		body := []byte(`{"response":{"id":1128,"score":7,"text":"` + comment(n) +
			`","created_at":"2016-08-04T13:57:26.558-07:00"},"event_name":"created","timestamp":"2016-08-04T13:57:31.329-07:00"}`)
		form := []byte("response[id]=1128&response[score]=7&response[created_at]=2016-08-04+13%3A57%3A26+-0700" +
			"&event_name=created&timestamp=2016-08-04+13%3A57%3A31+-0700&response[text]=" + url.QueryEscape(comment(n)))
		b.Run(fmt.Sprintf("json/%dKiB", n>>10), func(b *testing.B) {
			h := wootric.NewHandler(testSecret)
			h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { return nil })
			benchServe(b, h, body, "application/json")
		})
		b.Run(fmt.Sprintf("form/%dKiB", n>>10), func(b *testing.B) {
			h := wootric.NewHandler(testSecret)
			h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { return nil })
			benchServe(b, h, form, "application/x-www-form-urlencoded")
		})
	}
}

// BenchmarkLoopback drives a real server over loopback from parallel
// clients and reports deliveries per second, with the Handler and with a
// bare handler that only reads the body.
func BenchmarkLoopback(b *testing.B) {
	body := readTestdata(b, "doc-response-created.json")
	sig := wootric.Sign(testSecret, body)
	h := wootric.NewHandler(testSecret)
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { return nil })
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, handMaxBody+1))
		w.WriteHeader(http.StatusOK)
	})
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"library", h}} {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			client := srv.Client()
			client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
			b.SetParallelism(4)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
					req.Header.Set(wootric.SignatureHeader, sig)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkDedup is a delivery with the memory store, and without
// de-duplication, beside which the shared stores' modules run the same
// benchmark.
func BenchmarkDedup(b *testing.B) {
	b.Run("none", func(b *testing.B) { storetest.BenchmarkDeduplicator(b, nil) })
	b.Run("memory", func(b *testing.B) { storetest.BenchmarkDeduplicator(b, &wootric.MemoryDeduplicator{}) })
}

// BenchmarkObserve measures what a Handler's Observe hook costs a
// delivery: none, a hook that does nothing with its Report, and a Logger
// that writes nothing (its records still built for the Debug level).
func BenchmarkObserve(b *testing.B) {
	body := readTestdata(b, "doc-response-created.json")
	for _, c := range []struct {
		name string
		set  func(h *wootric.Handler)
	}{
		{"none", func(*wootric.Handler) {}},
		{"hook", func(h *wootric.Handler) {
			h.Observe = func(_ context.Context, rep wootric.Report) { benchSink += int64(rep.Duration) }
		}},
		{"slog-discard", func(h *wootric.Handler) {
			h.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := wootric.NewHandler(testSecret)
			h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { return nil })
			c.set(h)
			benchServe(b, h, body, "application/json")
		})
	}
}
