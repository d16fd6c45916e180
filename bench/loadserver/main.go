// Command loadserver serves three receivers of Wootric deliveries for a
// load test, each on a port of its own: the library's Handler with one
// callback, a handler that reads the body and checks its HMAC (decoding
// nothing), and a bare handler that only reads the body. bench/wrk.sh drives
// them with wrk and compares their throughput.
//
//	go run ./bench/loadserver -secret S
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"flag"
	"io"
	"log"
	"net/http"
	_ "net/http/pprof"
	"strings"

	"github.com/wootric-go/wootric"
)

func main() {
	secret := flag.String("secret", "loadtest-secret", "the webhook secret")
	handlerAddr := flag.String("handler", "127.0.0.1:18081", "address of the library's Handler")
	hmacAddr := flag.String("hmac", "127.0.0.1:18082", "address of the read-and-HMAC handler")
	bareAddr := flag.String("bare", "127.0.0.1:18083", "address of the bare handler")
	pprofAddr := flag.String("pprof", "", "if set, an address to serve net/http/pprof on, for profiles under load")
	flag.Parse()
	if *pprofAddr != "" {
		go func() { log.Println(http.ListenAndServe(*pprofAddr, nil)) }() // DefaultServeMux has pprof's handlers
	}

	h := wootric.NewHandler(*secret)
	h.On(wootric.ResponseCreated, func(context.Context, *wootric.Event) error { return nil })

	key := []byte(*secret)
	readAndHMAC := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, wootric.DefaultMaxBodyBytes+1))
		if err != nil {
			http.Error(w, "unreadable", http.StatusBadRequest)
			return
		}
		sig, ok := strings.CutPrefix(r.Header.Get(wootric.SignatureHeader), "sha1=")
		want, err := hex.DecodeString(sig)
		m := hmac.New(sha1.New, key)
		m.Write(body)
		if !ok || err != nil || !hmac.Equal(m.Sum(nil), want) {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(io.LimitReader(r.Body, wootric.DefaultMaxBodyBytes+1)); err != nil {
			http.Error(w, "unreadable", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	})

	errs := make(chan error, 3)
	for addr, handler := range map[string]http.Handler{*handlerAddr: h, *hmacAddr: readAndHMAC, *bareAddr: bare} {
		go func() { errs <- http.ListenAndServe(addr, handler) }()
	}
	log.Fatal(<-errs)
}
