package redisdedup_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/redisdedup"
)

// Every replica of the receiver points at the same Redis.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	h := wootric.NewHandler(os.Getenv("WOOTRIC_SECRET"))
	h.Dedup = redisdedup.New(rdb)
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		log.Printf("response %d scored %d", e.Response.ID, e.Response.Score)
		return nil // runs once per event, whichever replica gets it
	})
	http.Handle("POST /wootric", h)
}
