package riverinbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/wootric-go/wootric"
)

// A DeadLetter is a delivery set aside: cancelled for a permanent failure,
// or discarded after its last attempt failed. It is kept for
// Config.DeadRetention, until run again with Retry.
type DeadLetter struct {
	ID          int64              // the River job's id
	State       rivertype.JobState // rivertype.JobStateDiscarded or rivertype.JobStateCancelled
	Type        wootric.EventType  // from the payload: print it with its String method
	ObjectID    int64
	ReceivedAt  time.Time
	Attempts    int
	FinalizedAt time.Time
	LastError   string // as the callback returned it
}

// DeadLetters returns up to n dead letters, the most recently set aside
// first.
func (in *Inbox) DeadLetters(ctx context.Context, n int) ([]DeadLetter, error) {
	params := river.NewJobListParams().Kinds(Kind).
		States(rivertype.JobStateDiscarded, rivertype.JobStateCancelled).
		OrderBy(river.JobListOrderByFinalizedAt, river.SortOrderDesc).First(n)
	res, err := in.client.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("riverinbox: listing dead letters: %w", err)
	}
	out := make([]DeadLetter, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		var a Args
		if err := json.Unmarshal(j.EncodedArgs, &a); err != nil {
			return nil, fmt.Errorf("riverinbox: job %d: %w", j.ID, err)
		}
		dl := DeadLetter{ID: j.ID, State: j.State, Type: wootric.EventType(a.Type), ObjectID: a.ObjectID,
			ReceivedAt: a.ReceivedAt, Attempts: j.Attempt}
		if j.FinalizedAt != nil {
			dl.FinalizedAt = *j.FinalizedAt
		}
		if len(j.Errors) > 0 {
			dl.LastError = j.Errors[len(j.Errors)-1].Error
		}
		out = append(out, dl)
	}
	return out, nil
}

// ErrNotDeadLetter means that Retry was given a job that is not a dead
// letter: not a delivery, or one still to run or that has run.
var ErrNotDeadLetter = errors.New("riverinbox: not a dead letter")

// Retry makes the dead letter job id run again now, through River's
// JobRetry. MaxAttempts is raised by one if the job had used them all, so
// that it gets one more. A job that is not a dead letter is refused with
// ErrNotDeadLetter: a delivery that ran would run again.
func (in *Inbox) Retry(ctx context.Context, id int64) error {
	j, err := in.client.JobGet(ctx, id)
	switch {
	case err != nil:
		return fmt.Errorf("riverinbox: retrying job %d: %w", id, err)
	case j.Kind != Kind:
		return fmt.Errorf("riverinbox: retrying job %d: %w: it is not a delivery", id, ErrNotDeadLetter)
	case j.State != rivertype.JobStateDiscarded && j.State != rivertype.JobStateCancelled:
		return fmt.Errorf("riverinbox: retrying job %d: %w: it is %s", id, ErrNotDeadLetter, j.State)
	}
	if _, err := in.client.JobRetry(ctx, id); err != nil {
		return fmt.Errorf("riverinbox: retrying job %d: %w", id, err)
	}
	return nil
}
