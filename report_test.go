package wootric_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wootric-go/wootric"
	"github.com/wootric-go/wootric/wootrictest"
)

// TestObserveReportsEachOutcome serves one delivery for each outcome and
// reason: the hook gets one Report that says how it ended, which stages it
// reached and how long each took, and the Logger one record, at the level
// of the outcome, from the same Report.
func TestObserveReportsEachOutcome(t *testing.T) {
	levels := map[wootric.Outcome]slog.Level{
		wootric.OutcomeProcessed: slog.LevelDebug, wootric.OutcomeStored: slog.LevelDebug, wootric.OutcomeDuplicate: slog.LevelInfo,
		wootric.OutcomeRefused: slog.LevelWarn, wootric.OutcomeFailed: slog.LevelError,
	}
	seen := map[wootric.Reason]bool{}
	for _, c := range wootrictest.Outcomes() {
		t.Run(c.Name, func(t *testing.T) {
			h := c.Handler()
			logs := &logRecords{}
			h.Logger = slog.New(logs)
			var mu sync.Mutex
			var reports []wootric.Report
			h.Observe = func(_ context.Context, rep wootric.Report) {
				mu.Lock()
				reports = append(reports, rep)
				mu.Unlock()
			}
			r := c.Request()
			signature := r.Header.Get(wootric.SignatureHeader)
			before := time.Now()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			elapsed := time.Since(before)

			mu.Lock()
			defer mu.Unlock()
			if len(reports) != 1 {
				t.Fatalf("Observe called %d times, want once", len(reports))
			}
			rep := reports[0]
			if rep.Account != c.Account {
				t.Errorf("Report.Account = %q, want %q", rep.Account, c.Account)
			}
			if rep.Outcome != c.Outcome || rep.Reason != c.Reason || rep.Status != c.Status || rep.EventType != c.EventType {
				t.Errorf("Report = %s/%s/%d/%q, want %s/%s/%d/%q", rep.Outcome, rep.Reason, rep.Status, rep.EventType,
					c.Outcome, c.Reason, c.Status, c.EventType)
			}
			if w.Code != c.Status {
				t.Errorf("answered %d, Report says %d", w.Code, c.Status)
			}
			if (rep.Err == nil) != (c.Reason == "") || rep.Err != nil && wootric.StatusCode(rep.Err) != c.Status {
				t.Errorf("Report.Err = %v for reason %q", rep.Err, c.Reason)
			}
			if rep.EventType != "" && (rep.SurveyMode != wootric.NPS || rep.ObjectID != 1128) {
				t.Errorf("Report mode %q, id %d, want NPS, 1128", rep.SurveyMode, rep.ObjectID)
			}
			unverified := map[wootric.Reason]bool{wootric.ReasonSignature: true, wootric.ReasonNoSecret: true, wootric.ReasonAccount: true, wootric.ReasonAccountLookup: true}
			if verified := c.LastStage >= wootric.StageVerify && !unverified[c.Reason]; verified != (rep.SecretIndex == 0) {
				t.Errorf("Report.SecretIndex = %d, verified %v", rep.SecretIndex, verified)
			}
			var total time.Duration
			for s, d := range rep.Stages {
				if wootric.Stage(s) > c.LastStage && d != 0 || d < 0 {
					t.Errorf("stage %s took %v; the last stage reached is %v", wootric.Stage(s), d, c.LastStage)
				}
				total += d
			}
			if rep.Start.Before(before) || rep.Duration < total || rep.Duration > elapsed || c.LastStage >= 0 && total == 0 {
				t.Errorf("Report starts %v after the request, lasts %v, stages %v in all; the request took %v",
					rep.Start.Sub(before), rep.Duration, total, elapsed)
			}
			seen[rep.Reason] = true

			if len(logs.records) != 1 || logs.records[0].level != levels[c.Outcome] && c.Reason != wootric.ReasonInProgress {
				t.Errorf("logged %+v, want one record at %v", logs.records, levels[c.Outcome])
			}
			for _, text := range []string{errText(rep.Err), logs.String()} {
				for _, secret := range []string{wootrictest.Secret, strings.TrimPrefix(signature, "sha1=")} {
					if secret != "" && strings.Contains(text, secret) {
						t.Errorf("a secret or MAC in %q", text)
					}
				}
			}
		})
	}
	for _, reason := range []wootric.Reason{"", wootric.ReasonMethod, wootric.ReasonEncoding, wootric.ReasonSize,
		wootric.ReasonUnreadable, wootric.ReasonSignature, wootric.ReasonNoSecret, wootric.ReasonMalformed,
		wootric.ReasonReplayWindow, wootric.ReasonInProgress, wootric.ReasonStore, wootric.ReasonCallback, wootric.ReasonTimeout,
		wootric.ReasonAccount, wootric.ReasonAccountLookup, wootric.ReasonInbox} {
		if !seen[reason] {
			t.Errorf("no case ends with reason %q", reason)
		}
	}
}

// TestObserveReportsUnrecorded: an event that ran but whose claim the
// store could not complete is processed, with the store's error apart.
func TestObserveReportsUnrecorded(t *testing.T) {
	h := wootric.NewHandler(wootrictest.Secret)
	h.Dedup = &completeFails{MemoryDeduplicator: &wootric.MemoryDeduplicator{}}
	var got []wootric.Report
	h.Observe = func(_ context.Context, rep wootric.Report) { got = append(got, rep) }
	e, _ := wootrictest.SampleEvent(wootric.DeclineCreated, wootric.CES)
	if w := wootrictest.Deliver(t, h, "/", wootrictest.Secret, e, wootric.Form); w.Code != 200 {
		t.Fatalf("answered %d", w.Code)
	}
	if len(got) != 1 || got[0].Outcome != wootric.OutcomeProcessed || got[0].Err != nil || !errors.Is(got[0].Unrecorded, wootric.ErrDedupStore) {
		t.Errorf("Reports %+v, want one processed, its Unrecorded wrapping ErrDedupStore", got)
	}
}

type completeFails struct{ *wootric.MemoryDeduplicator }

func (completeFails) Complete(context.Context, string, string, time.Duration) error {
	return errors.New("store went away")
}

// TestStatusCodeOfACallbackError: a callback's failure makes the sender
// retry, whatever error the callback returned.
func TestStatusCodeOfACallbackError(t *testing.T) {
	h := wootric.NewHandler(wootrictest.Secret)
	h.On(wootric.DeclineCreated, func(context.Context, *wootric.Event) error {
		return wootric.ErrMalformedPayload // say, from decoding another body
	})
	e, _ := wootrictest.SampleEvent(wootric.DeclineCreated, wootric.NPS)
	if w := wootrictest.Deliver(t, h, "/", wootrictest.Secret, e, wootric.JSON); w.Code != 500 {
		t.Errorf("answered %d, want 500", w.Code)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (l *logRecords) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.records {
		b.WriteString(r.msg)
		for k, v := range r.attrs {
			b.WriteString(" " + k + "=" + v)
		}
	}
	return b.String()
}
