package riverinbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/wootric-go/wootric"
)

// worker runs stored deliveries through a Handler's callbacks.
type worker struct {
	river.WorkerDefaults[Args]
	h *wootric.Handler
}

type jobKey struct{}

// Work runs the job's delivery with h.Process. A failure is returned, for
// River to retry with backoff; a permanent one (wootric.ErrPermanent), or
// a body that no longer decodes, cancels the job: a dead letter at once.
func (w *worker) Work(ctx context.Context, job *river.Job[Args]) error {
	if w.h.Inbox == nil {
		// Process would claim the event from Dedup, find it completed when
		// it was stored, and run nothing: fail, and keep the job.
		return errNoInbox
	}
	e, err := wootric.Decode(job.Args.Body)
	if err != nil {
		return river.JobCancel(fmt.Errorf("riverinbox: the stored body does not decode: %w", err))
	}
	err = w.h.Process(context.WithValue(ctx, jobKey{}, job), e)
	if errors.Is(err, wootric.ErrPermanent) {
		return river.JobCancel(err)
	}
	return err
}

var errNoInbox = errors.New("riverinbox: the Handler has no Inbox any more: its worker would run nothing")

// ErrNoJob means that CompleteTx was called from a context that is not
// that of a callback an Inbox's worker runs.
var ErrNoJob = errors.New("riverinbox: no job in the context")

// CompleteTx completes, within tx, the job whose delivery ctx's callback
// is running: the callback's own writes in tx and the job's completion
// then commit together, or neither does, and the event's effects happen
// exactly once, even if the worker dies after the commit. Call it last in
// tx, then commit, and return nil. If the run has passed its deadline and
// River has taken the job back, CompleteTx fails, and tx must roll back:
// the job runs again.
func CompleteTx(ctx context.Context, tx pgx.Tx) error {
	job, ok := ctx.Value(jobKey{}).(*river.Job[Args])
	if !ok {
		return ErrNoJob
	}
	done, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
	switch {
	case err != nil:
		return fmt.Errorf("riverinbox: completing the job: %w", err)
	case done.State != rivertype.JobStateCompleted || done.Attempt != job.Attempt:
		// River leaves a job it no longer has running as it is, and says
		// nothing: this run's deadline passed and the job was taken back
		// (to retry, or rescued), or another attempt completed it.
		return fmt.Errorf("%w (job %d is %s at attempt %d; this run is attempt %d)", ErrJobTakenBack, job.ID, done.State, done.Attempt, job.Attempt)
	}
	return nil
}

// ErrJobTakenBack means that CompleteTx found its job no longer running
// as this attempt: its deadline passed and River took it back to run
// again, or another attempt completed it. The transaction must roll back.
var ErrJobTakenBack = errors.New("riverinbox: the job is no longer this run's")
