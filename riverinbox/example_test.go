package riverinbox_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/riverinbox"
)

// A receiver that answers Wootric once each delivery is stored, and
// workers that save each answer to the same database exactly once: the
// row and the job's completion commit in one transaction. It needs a
// database migrated with riverinbox.Migrate, so it is not run here.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	h := wootric.NewHandler(os.Getenv("WOOTRIC_SECRET"))
	h.On(wootric.ResponseCreated, func(ctx context.Context, e *wootric.Event) error {
		if e.Response.Score < 0 {
			return fmt.Errorf("%w: score %d", wootric.ErrPermanent, e.Response.Score) // a dead letter at once
		}
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO nps_answers (id, score) VALUES ($1, $2)`, e.Response.ID, e.Response.Score); err != nil {
				return err // retried with backoff
			}
			return riverinbox.CompleteTx(ctx, tx) // last, then commit
		})
	})
	inbox, err := riverinbox.New(pool, h, riverinbox.Config{Workers: 10})
	if err != nil {
		log.Fatal(err)
	}
	if err := inbox.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer inbox.Stop(context.Background())

	http.Handle("POST /wootric", h)
	log.Fatal(http.ListenAndServe(":8080", nil))
}
