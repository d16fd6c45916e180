package pgdedup_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/pgdedup"
)

// Every replica of the receiver points at the same database.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	d, err := pgdedup.New(ctx, pool) // creates wootric_dedup if missing
	if err != nil {
		log.Fatal(err)
	}
	h := wootric.NewHandler(os.Getenv("WOOTRIC_SECRET"))
	h.Dedup = d
	h.OnResponseCreated(func(ctx context.Context, e *wootric.Event) error {
		log.Printf("response %d scored %d", e.Response.ID, e.Response.Score)
		return nil // runs once per event, whichever replica gets it
	})
	http.Handle("POST /wootric", h)
}
