package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"aidmall/bizday"
	"aidmall/orders"
)

// ReconcileCounts says what reconciliation did with one mall's statement events.
type ReconcileCounts struct {
	Events int // events read
	// Tally counts the events applied: new (Applied), already recorded by a notification
	// or an earlier run (Duplicate; Differing of them with other content than the event
	// recorded, each logged as a warning), for an order not known yet (Parked), applied
	// but kept for review (Held, ATTRIBUTION.md §1.6).
	orders.Tally
	// Invalid counts the events refused as unusable (orders.ErrInvalid from Apply, or
	// another mall's event in the statement): kept for an operator (Config.Unreadable)
	// and logged.
	Invalid int
	Missing int // statements not published yet (orders.ErrNotFound), skipped
}

// Reconcile applies the statements of days (Beijing business days; none: yesterday and
// today by the runner's clock) of every mall with a StatementSource, event by event,
// through Config.Orders (orders.Service.Apply) — which records each (mall, out_order_no,
// event id) once, so events already notified are harmless (ARCHITECTURE.md, Flow of one
// order, step 4). An event Apply refuses as unusable (orders.ErrInvalid) would be refused
// on every run: it is kept through Config.Unreadable, as a webhook keeps a signed but
// unusable notification, and the run goes on. It goes on past a mall that fails and
// returns the counts per mall with every error joined.
func (r *Runner) Reconcile(ctx context.Context, days ...bizday.Day) (map[orders.Mall]ReconcileCounts, error) {
	if len(days) == 0 {
		today := bizday.Of(r.now())
		days = []bizday.Day{today.AddDays(-1), today}
	}
	malls := make([]orders.Mall, 0, len(r.statements))
	for m := range r.statements {
		malls = append(malls, m)
	}
	slices.Sort(malls)
	out := map[orders.Mall]ReconcileCounts{}
	var errs []error
	for _, m := range malls {
		var c ReconcileCounts
		for _, day := range days {
			if err := r.reconcileDay(ctx, m, day, &c); err != nil {
				errs = append(errs, err)
				break
			}
		}
		out[m] = c
		r.log.Info("reconciled statements", slog.String("mall", string(m)), slog.Any("days", days),
			slog.Int("events", c.Events), slog.Int("applied", c.Applied), slog.Int("duplicate", c.Duplicate),
			slog.Int("parked", c.Parked), slog.Int("held", c.Held), slog.Int("invalid", c.Invalid))
	}
	return out, errors.Join(errs...)
}

func (r *Runner) reconcileDay(ctx context.Context, m orders.Mall, day bizday.Day, c *ReconcileCounts) error {
	events, err := r.statements[m].Statement(ctx, day)
	if errors.Is(err, orders.ErrNotFound) {
		c.Missing++
		r.log.Info("statement not published yet", slog.String("mall", string(m)), slog.String("day", day.String()))
		return nil
	}
	if err != nil {
		return fmt.Errorf("reconcile %s %s: read statement: %w", m, day, err)
	}
	for _, ev := range events {
		c.Events++
		if ev.Source == "" {
			ev.Source = "statement"
		}
		var res orders.ApplyResult
		err := mallMismatch(ev.Mall, m)
		if err == nil {
			res, err = r.orders.Apply(ctx, ev)
		}
		if errors.Is(err, orders.ErrInvalid) {
			if kerr := r.keepInvalid(ctx, m, day, ev, err); kerr != nil {
				return fmt.Errorf("reconcile %s %s: keep unusable event %s: %w", m, day, ev.EventID, kerr)
			}
			c.Invalid++
			r.metrics.reconciled.WithLabelValues(string(m), "invalid").Inc()
			continue
		}
		if err != nil {
			return fmt.Errorf("reconcile %s %s: apply event %s: %w", m, day, ev.EventID, err)
		}
		c.Add(res)
		if res.Differs != "" {
			r.log.Warn("statement event repeats an event id already recorded, with other content: not applied; the recorded event stands",
				slog.String("mall", string(m)), slog.String("day", day.String()), slog.String("event_id", string(ev.EventID)),
				slog.String("out_order_no", string(ev.OutOrderNo)), slog.String("differs", res.Differs))
		}
		r.metrics.reconciled.WithLabelValues(string(m), res.Label()).Inc()
	}
	return nil
}

// keepInvalid keeps a statement event that cannot be applied (why) for an operator —
// the day's statement and the event as read, in JSON — and logs it. Kept twice (a second
// run), it is kept once.
func (r *Runner) keepInvalid(ctx context.Context, m orders.Mall, day bizday.Day, ev orders.FulfilmentEvent, why error) error {
	r.log.Warn("statement event not applied: kept for an operator", slog.String("mall", string(m)), slog.String("day", day.String()),
		slog.String("event_id", string(ev.EventID)), slog.Any("error", why))
	if r.unreadable == nil {
		return nil
	}
	body, err := json.Marshal(struct {
		Statement string                 `json:"statement"`
		Event     orders.FulfilmentEvent `json:"event"`
	}{day.String(), ev})
	if err != nil {
		return err
	}
	return r.unreadable.KeepUnreadable(ctx, m, body, why.Error())
}

func mallMismatch(got, want orders.Mall) error {
	if got == want {
		return nil
	}
	return orders.Errorf(orders.ErrInvalid, "event of mall %q in %s's statement", got, want)
}

// reconcileWorker runs Reconcile as a job: periodic (Config.ReconcileInterval) and on
// demand (EnqueueReconcile).
type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	r *Runner
}

// Work reconciles the job's days (yesterday and today when none). A malformed day cancels
// the job; a mall or store failure fails it, to be retried.
func (w *reconcileWorker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	days := make([]bizday.Day, 0, len(job.Args.Days))
	for _, s := range job.Args.Days {
		d, err := bizday.Parse(s)
		if err != nil {
			return river.JobCancel(fmt.Errorf("reconcile: %w", err))
		}
		days = append(days, d)
	}
	_, err := w.r.Reconcile(ctx, days...)
	return err
}

// Timeout lets a reconcile run longer than River's default minute.
func (w *reconcileWorker) Timeout(*river.Job[ReconcileArgs]) time.Duration { return reconcileTimeout }
