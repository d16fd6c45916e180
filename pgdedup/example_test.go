package pgdedup_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/pgdedup"
	"github.com/wootric-go/wootric/wootrictest"
)

// Every replica of the receiver points at the same database.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	d, err := pgdedup.New(ctx, pool, pgdedup.Config{}) // creates wootric_dedup if missing
	if err != nil {
		log.Fatal(err)
	}
	h := wootric.NewHandler(os.Getenv("WOOTRIC_SECRET"))
	h.Dedup = d
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		log.Printf("response %d scored %d", e.Response.ID, e.Response.Score)
		return nil // runs once per event, whichever replica gets it
	})
	http.Handle("POST /wootric", h)
}

// A callback that writes to the database of the claims completes its claim
// in its own transaction: its writes and the completion commit together,
// once, even if the claim's lease runs out while it runs. Here Wootric
// sends a response twice, and it is written once.
//
// This example runs against $WOOTRIC_TEST_POSTGRES_URL, and its output is
// checked; without that variable, go test does not run it.
func ExampleDeduplicator_CompleteTx() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("WOOTRIC_TEST_POSTGRES_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	d, err := pgdedup.New(ctx, pool, pgdedup.Config{})
	if err != nil {
		log.Fatal(err)
	}
	_, err = pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS example_scores (response_id bigint PRIMARY KEY, score int NOT NULL)`)
	if err != nil {
		log.Fatal(err)
	}

	h := wootric.NewHandler(wootrictest.Secret)
	h.Dedup = d
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		// BeginFunc commits if the function returns nil, and rolls back
		// otherwise: if CompleteTx fails, nothing is written.
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO example_scores VALUES ($1, $2)`, e.Response.ID, e.Response.Score)
			if err != nil {
				return err
			}
			return d.CompleteTx(ctx, tx)
		})
	})

	e, _ := wootrictest.SampleEvent(wootric.ResponseCreated, wootric.NPS)
	e.Response.ID = time.Now().UnixNano() // a response this example has not written before
	for i := 1; i <= 2; i++ {
		r, _ := wootrictest.NewRequest("/wootric", wootrictest.Secret, e, wootric.JSON)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("delivery %d: %d\n", i, w.Code)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM example_scores WHERE response_id = $1`, e.Response.ID).Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println("rows written:", n)
	// Output:
	// delivery 1: 200
	// delivery 2: 200
	// rows written: 1
}
