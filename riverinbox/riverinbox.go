// Package riverinbox is a durable inbox for a wootric.Handler, on River and
// PostgreSQL: the Handler answers Wootric once a delivery is committed as a
// River job, and River's workers run it through the Handler's callbacks
// (Handler.Process), retrying a failure with backoff for as long as what
// the callbacks call is down. A delivery that fails permanently, or on
// every attempt, is kept as a dead letter, with its errors, until an
// operator runs it again.
//
//	pool, _ := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	h := wootric.NewHandler(os.Getenv("WOOTRIC_SECRET"))
//	h.On(wootric.ResponseCreated, saveToCRM)
//	inbox, err := riverinbox.New(pool, h, riverinbox.Config{Workers: 10})
//	if err != nil { ... }
//	if err := inbox.Start(ctx); err != nil { ... } // the workers
//	defer inbox.Stop(context.Background())
//	http.Handle("POST /wootric", h)
//
// River's tables must exist first: run [Migrate], or the wootric-inbox
// command's migrate, when deploying; New never changes the schema.
//
// What a 2xx means then: the delivery's body, byte for byte, is in a
// committed river_job row of kind "wootric_delivery", unique by the
// event's DedupKey, so that a copy of it stores nothing more. Each job runs
// until it succeeds, at least once: a worker that dies mid-run leaves it
// to be run again once River's rescuer finds it. For effects exactly once,
// a callback that writes to the same database completes the job in its own
// transaction: see [CompleteTx].
package riverinbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/pgdedup"
)

// Kind is the River job kind of a stored delivery.
const Kind = "wootric_delivery"

// Defaults of Config.
const (
	DefaultQueue = "wootric"
	// DefaultMaxAttempts is River's own: with its backoff of about
	// attempt⁴ seconds, the 25th attempt comes some 18 days after the
	// first, so that a downstream down for a fortnight loses nothing.
	DefaultMaxAttempts = 25
	// DefaultCompletedRetention is how long a delivery that ran is kept:
	// River's default, and as long as a Handler's DedupTTL remembers an
	// event, so that a late copy of it is refused as a duplicate.
	DefaultCompletedRetention = 24 * time.Hour
	// DefaultDeadRetention is how long a dead letter is kept, body and
	// personal data included, for an operator to see and run it again:
	// long enough to come back from a holiday, short enough that a body
	// nobody looks at does not stay for good.
	DefaultDeadRetention = 30 * 24 * time.Hour
)

// Args are a stored delivery's job arguments: the exact signed body, and
// what an operator needs to find it without decoding it.
type Args struct {
	// Key is the event's DedupKey: jobs are unique by it.
	Key string `json:"key" river:"unique"`
	// Body is the body Wootric signed, byte for byte.
	Body []byte `json:"body"`
	// ReceivedAt is when the Handler stored the delivery.
	ReceivedAt time.Time `json:"received_at"`
	// Type and ObjectID are the event's type and its response's or
	// decline's id, for listing dead letters. Type comes from the
	// payload: print it with wootric.EventType(Type).String().
	Type     string `json:"type"`
	ObjectID int64  `json:"object_id"`
}

// Kind returns Kind.
func (Args) Kind() string { return Kind }

// Config says how an Inbox stores and runs deliveries. Its zero value
// stores them in River's tables found on the search path and runs none.
type Config struct {
	// Workers is how many deliveries this process runs at once. Zero makes
	// an inbox that stores deliveries and runs none, for replicas that
	// only receive beside others that run.
	Workers int

	// Queue is the River queue of deliveries. "" means DefaultQueue.
	Queue string

	// MaxAttempts is how many times a delivery runs before it is set
	// aside as a dead letter. Zero means DefaultMaxAttempts (25).
	MaxAttempts int

	// CompletedRetention is how long a delivery that ran is kept. Zero
	// means DefaultCompletedRetention (24 hours). It applies to every
	// completed job of the River tables this Inbox's client maintains.
	CompletedRetention time.Duration

	// DeadRetention is how long a dead letter (a job discarded after its
	// last attempt, or cancelled for a permanent failure) is kept. Zero
	// means DefaultDeadRetention (30 days). As CompletedRetention, it
	// applies to all the jobs of the tables.
	DeadRetention time.Duration

	// RetryPolicy says when a failed delivery runs again. Nil means
	// River's default, about attempt⁴ seconds after the attempt.
	RetryPolicy river.ClientRetryPolicy

	// RescueAfter is how long a delivery may stay running before River
	// takes its worker for dead (a process killed, a machine lost) and
	// runs it again. Zero means an hour. Keep it well above the Handler's
	// CallbackTimeout, which bounds a run: a run still going when it
	// passes runs twice. River looks for such deliveries every 30 seconds.
	RescueAfter time.Duration

	// Schema is the PostgreSQL schema of River's tables; "" means those
	// found on the connection's search_path.
	Schema string

	// Dedup, if not nil, is the Handler's Dedup, a pgdedup store on the
	// same database as the pool: Put then completes the delivery's claim
	// in the transaction that inserts its job, so that both commit or
	// neither does.
	Dedup *pgdedup.Deduplicator

	// Middleware is River's middleware, run around each insert and each
	// run: otelriver's (github.com/riverqueue/rivercontrib/otelriver),
	// with EnableTracePropagation, gives each run a span linked to the
	// span of the delivery that stored it, and with otelwootric's Begin on
	// the Handler, the run's wootric.delivery span and what its callbacks
	// trace are nested under the run's span.
	Middleware []rivertype.Middleware

	// Logger receives River's own records. Nil means River's default:
	// warnings and errors to standard output.
	Logger *slog.Logger
}

// Inbox is a wootric.Inbox on River. Its methods are safe for concurrent
// use.
type Inbox struct {
	pool        *pgxpool.Pool
	client      *river.Client[pgx.Tx]
	dedup       *pgdedup.Deduplicator
	queue       string
	maxAttempts int
	runs        bool
}

// New returns an Inbox that stores deliveries through pool, and makes it
// h's Inbox: h answers once a delivery is stored, and the Inbox's workers
// run it with h.Process, through h's callbacks. Register the callbacks on
// h, and set its Dedup, before the first delivery. New does not create
// River's tables: see Migrate.
func New(pool *pgxpool.Pool, h *wootric.Handler, cfg Config) (*Inbox, error) {
	if pool == nil || h == nil {
		return nil, errors.New("riverinbox: New needs a pool and a Handler")
	}
	if cfg.Dedup != nil && h.Dedup != wootric.Deduplicator(cfg.Dedup) {
		return nil, errors.New("riverinbox: Config.Dedup is not the Handler's Dedup")
	}
	in := &Inbox{pool: pool, dedup: cfg.Dedup, queue: cfg.Queue, maxAttempts: cfg.MaxAttempts, runs: cfg.Workers > 0}
	if in.queue == "" {
		in.queue = DefaultQueue
	}
	if in.maxAttempts <= 0 {
		in.maxAttempts = DefaultMaxAttempts
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{h: h})
	rc := &river.Config{
		Workers:              workers,
		RetryPolicy:          cfg.RetryPolicy,
		RescueStuckJobsAfter: orDefault(cfg.RescueAfter, time.Hour),
		// The Handler's CallbackTimeout bounds a run, and Process returns
		// when it passes. River's own timeout must be finite all the same,
		// or its rescuer never takes back the job of a worker that died;
		// it rescues none younger than it.
		JobTimeout:                  orDefault(cfg.RescueAfter, time.Hour),
		Schema:                      cfg.Schema,
		Middleware:                  cfg.Middleware,
		Logger:                      cfg.Logger,
		CompletedJobRetentionPeriod: orDefault(cfg.CompletedRetention, DefaultCompletedRetention),
		DiscardedJobRetentionPeriod: orDefault(cfg.DeadRetention, DefaultDeadRetention),
		CancelledJobRetentionPeriod: orDefault(cfg.DeadRetention, DefaultDeadRetention),
	}
	if in.runs {
		rc.Queues = map[string]river.QueueConfig{in.queue: {MaxWorkers: cfg.Workers}}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("riverinbox: %w", err)
	}
	in.client = client
	h.Inbox = in
	return in, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Put stores d as a job, and returns once it is committed. A delivery
// whose key has a job already, in any state (a completed job is kept for
// CompletedRetention, a dead letter for DeadRetention), stores nothing. With Config.Dedup, the claim
// ctx holds is completed in the same transaction.
func (in *Inbox) Put(ctx context.Context, d *wootric.Delivery) error {
	args := Args{Key: d.Key, Body: d.Event.Raw, ReceivedAt: d.ReceivedAt, Type: string(d.Event.Type)}
	switch {
	case d.Event.Response != nil:
		args.ObjectID = d.Event.Response.ID
	case d.Event.Decline != nil:
		args.ObjectID = d.Event.Decline.ID
	}
	// Unique in every state, so that a copy of an event set aside as a dead
	// letter stores nothing: the event has ended, as a dead letter, and
	// runs again only when an operator says so.
	opts := &river.InsertOpts{Queue: in.queue, MaxAttempts: in.maxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: rivertype.JobStates()}}
	var err error
	if _, claimed := wootric.ClaimFromContext(ctx); in.dedup == nil || !claimed {
		_, err = in.client.Insert(ctx, args, opts)
	} else {
		err = pgx.BeginFunc(ctx, in.pool, func(tx pgx.Tx) error {
			if _, err := in.client.InsertTx(ctx, tx, args, opts); err != nil {
				return err
			}
			return in.dedup.CompleteTx(ctx, tx)
		})
	}
	if err != nil {
		return fmt.Errorf("riverinbox: storing the delivery: %w", err)
	}
	return nil
}

// Start starts the workers, if Config.Workers is positive; it returns at
// once, and they run until Stop. An Inbox that runs no workers needs no
// Start.
func (in *Inbox) Start(ctx context.Context) error {
	if !in.runs {
		return nil
	}
	return in.client.Start(ctx)
}

// Stop stops fetching deliveries and waits for the running ones to
// return, or for ctx to end; a run cut short is run again later.
func (in *Inbox) Stop(ctx context.Context) error {
	if !in.runs {
		return nil
	}
	return in.client.Stop(ctx)
}

// Client returns the Inbox's River client: for JobRetry, subscriptions,
// or inserting a delivery in a transaction of the caller's.
func (in *Inbox) Client() *river.Client[pgx.Tx] { return in.client }

// Migrate brings River's tables in schema ("" for the search path) of
// pool's database to the version this module's River needs. It is safe
// to run again, and from several processes at once. The role it runs as
// must be able to create tables, types, functions and indexes in the
// schema; the application's role then needs only to read and write
// River's tables and use their sequences.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("riverinbox: migrating: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("riverinbox: migrating: %w", err)
	}
	return nil
}
