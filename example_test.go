package wootric_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/wootrictest"
)

func ExampleVerify() {
	body := []byte(`{"decline":{"id":19},"event_name":"created"}`)
	signature := "sha1=f4ba9d0c5f8c2ba0e3b7d5bc0e1c3afa9d19fa5c" // from X-Wootric-Signature

	err := wootric.Verify(body, signature, "09dfb1b73af998743fb011f8bfda8912")
	fmt.Println(errors.Is(err, wootric.ErrInvalidSignature))

	signature = wootric.Sign("09dfb1b73af998743fb011f8bfda8912", body)
	fmt.Println(signature)
	fmt.Println(wootric.Verify(body, signature, "09dfb1b73af998743fb011f8bfda8912"))
	// Output:
	// true
	// sha1=ae3140797564748c022fb345d062c16490e276cc
	// <nil>
}

func ExampleDecode() {
	body := []byte("response%5Bid%5D=1128&response%5Bscore%5D=9" +
		"&response%5Btext%5D=Fast+and+simple" +
		"&response%5Bend_user_properties%5D%5Bpricing_plan%5D=Enterprise" +
		"&response%5Bcreated_at%5D=2016-08-04+13%3A57%3A26+-0700" +
		"&event_name=updated&survey_mode=NPS")

	e, err := wootric.Decode(body)
	if err != nil {
		log.Fatal(err)
	}
	r := e.Response
	fmt.Println(e.Type, e.SurveyMode, r.ID, r.Score, r.Text)
	fmt.Println(r.EndUserProperties["pricing_plan"], r.CreatedAt)

	_, err = wootric.Decode([]byte(`{"response":{"id":1128,"score":9.5},"event_name":"created"}`))
	fmt.Println(err)
	// Output:
	// response.updated NPS 1128 9 Fast and simple
	// Enterprise 2016-08-04 13:57:26 -0700 -0700
	// wootric: malformed payload: response.score at byte 31: not an integer
}

func ExampleHandler() {
	secret := "09dfb1b73af998743fb011f8bfda8912" // in production: os.Getenv("WOOTRIC_SECRET")
	h := wootric.NewHandler(secret)
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		fmt.Printf("response %d scored %d\n", e.Response.ID, e.Response.Score)
		return nil
	})
	h.On(wootric.DeclineCreated, func(ctx context.Context, e *wootric.Event) error {
		fmt.Printf("decline %d\n", e.Decline.ID)
		return nil
	})
	mux := http.NewServeMux()
	mux.Handle("POST /wootric", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// What Wootric sends:
	body := []byte(`{"response":{"id":1128,"score":7},"event_name":"created"}`)
	req, _ := http.NewRequest("POST", srv.URL+"/wootric", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(wootric.SignatureHeader, wootric.Sign(secret, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)

	// A forged delivery:
	req, _ = http.NewRequest("POST", srv.URL+"/wootric", bytes.NewReader(body))
	req.Header.Set(wootric.SignatureHeader, "sha1=0000000000000000000000000000000000000000")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// response 1128 scored 7
	// 200 OK
	// 401 Unauthorized
}

func ExampleHandler_Middleware() {
	h := wootric.NewHandler("09dfb1b73af998743fb011f8bfda8912")
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, _ := wootric.EventFromContext(r.Context())
		fmt.Println("next handler got", e.Type)
		w.WriteHeader(http.StatusNoContent)
	})

	body := []byte(`{"decline":{"id":19},"event_name":"created"}`)
	r := httptest.NewRequest("POST", "/wootric", bytes.NewReader(body))
	r.Header.Set(wootric.SignatureHeader, wootric.Sign("09dfb1b73af998743fb011f8bfda8912", body))
	w := httptest.NewRecorder()
	h.Middleware(next).ServeHTTP(w, r)
	fmt.Println(w.Code)
	// Output:
	// next handler got decline.created
	// 204
}

// With Dedup, each event runs once: a delivery whose run fails is run again
// when the sender retries, and once it has succeeded its duplicates are
// acknowledged without running. Behind a load balancer, the replicas share
// a store from module redisdedup or pgdedup instead.
func ExampleHandler_dedup() {
	h := wootric.NewHandler("secret")
	h.Dedup = &wootric.MemoryDeduplicator{}
	runs := 0
	h.On(wootric.DeclineCreated, func(ctx context.Context, e *wootric.Event) error {
		runs++
		if runs == 1 {
			return errors.New("CRM unreachable") // 500: the sender retries
		}
		return nil
	})

	body := []byte(`{"decline":{"id":19},"event_name":"created","timestamp":"2026-11-29T10:00:00Z"}`)
	for _, ts := range []string{"10:00:00", "10:00:30", "10:01:00"} {
		// Each retry carries a new timestamp; it is still the same event.
		b := bytes.Replace(body, []byte("10:00:00"), []byte(ts), 1)
		r := httptest.NewRequest(http.MethodPost, "/wootric", bytes.NewReader(b))
		r.Header.Set(wootric.SignatureHeader, wootric.Sign("secret", b))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, "after", runs, "runs")
	}
	// Output:
	// 500 after 1 runs
	// 200 after 2 runs
	// 200 after 2 runs
}

func ExampleNewAccountHandler() {
	// One endpoint for accounts in three regions, each with its own
	// secret; the EU account's is being rotated, so it has two.
	h := wootric.NewAccountHandler(wootric.AccountSecrets{
		"NPS-1a2b3c4d":    {os.Getenv("WOOTRIC_SECRET_US")},
		"NPS-EU-5e6f7a8b": {"eu-old", "eu-new"},
		"NPS-AU-9c0d1e2f": {"au-secret"},
	})
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		fmt.Println("ran for", e.AccountToken)
		return nil
	})

	e, _ := wootrictest.SampleEvent(wootric.ResponseCreated, wootric.NPS)
	e.AccountToken = "NPS-EU-5e6f7a8b"
	for _, secret := range []string{"eu-new", "au-secret"} {
		r, _ := wootrictest.NewRequest("/wootric", secret, e, wootric.JSON)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code)
	}
	// Output:
	// ran for NPS-EU-5e6f7a8b
	// 200
	// 401
}

func ExampleAccountsFunc() {
	// Secrets kept in a database, read for each delivery, so that a new
	// customer's secret works at once; a failed read answers 503, and
	// Wootric retries.
	db := map[string]string{"NPS-1a2b3c4d": "customer-secret"} // stands for your table
	h := wootric.NewAccountHandler(wootric.AccountsFunc(func(ctx context.Context, account string) ([]string, error) {
		secret, ok := db[account] // SELECT secret FROM wootric_accounts WHERE token = $1
		if !ok {
			return nil, nil // unknown: 401
		}
		return []string{secret}, nil
	}))

	e, _ := wootrictest.SampleEvent(wootric.DeclineCreated, wootric.NPS)
	for _, account := range []string{"NPS-1a2b3c4d", "NPS-99999999"} {
		e.AccountToken = account
		r, _ := wootrictest.NewRequest("/wootric", "customer-secret", e, wootric.Form)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code)
	}
	// Output:
	// 200
	// 401
}

func ExampleEvent_NPSCategory() {
	body := []byte(`{"response":{"id":1128,"score":9},"event_name":"created","survey_mode":"nps"}`)
	e, err := wootric.Decode(body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.SurveyMode, e.NPSCategory())
	// Output:
	// NPS promoter
}

// Lookup reaches the fields the Event does not model, such as the survey's
// channel and language, the same way whether the account sends JSON or a
// form.
func ExampleEvent_Lookup() {
	bodies := [][]byte{
		[]byte(`{"response":{"id":1128,"score":9,"tags":["vip"],"notes":[{"text":"Called back"}]},` +
			`"survey":{"channel":"web","language":"fr"},"event_name":"created"}`),
		[]byte("event_name=created&response%5Bid%5D=1128" +
			"&response%5Bnotes%5D%5B%5D%5Btext%5D=Called+back&response%5Bscore%5D=9" +
			"&response%5Btags%5D%5B%5D=vip&survey%5Bchannel%5D=web&survey%5Blanguage%5D=fr"),
	}
	for _, body := range bodies {
		e, err := wootric.Decode(body)
		if err != nil {
			log.Fatal(err)
		}
		channel, _ := e.Lookup("survey", "channel")
		note, _ := e.Lookup("response", "notes", "0", "text")
		survey, _ := e.Lookup("survey")
		_, ok := e.Lookup("survey", "mode")
		fmt.Println(e.Response.Tags, channel, note, survey, ok)
	}
	// Output:
	// [vip] web Called back {"channel":"web","language":"fr"} false
	// [vip] web Called back {"channel":"web","language":"fr"} false
}

// A receiver in a few lines: a Handler with a callback on a route, here
// tested with a signed sample delivery from package wootrictest.
func Example() {
	h := wootric.NewHandler(wootrictest.Secret) // in production: os.Getenv("WOOTRIC_SECRET")
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		fmt.Printf("%s: response %d scored %d (%s)\n", e.SurveyMode, e.Response.ID, e.Response.Score, e.NPSCategory())
		return nil // an error here answers 500, and Wootric sends the event again
	})
	mux := http.NewServeMux()
	mux.Handle("POST /wootric", h)

	e, err := wootrictest.SampleEvent(wootric.ResponseCreated, wootric.NPS)
	if err != nil {
		log.Fatal(err)
	}
	r, err := wootrictest.NewRequest("/wootric", wootrictest.Secret, e, wootric.JSON)
	if err != nil {
		log.Fatal(err)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code)
	// Output:
	// NPS: response 1128 scored 7 (passive)
	// 200
}
