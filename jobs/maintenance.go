package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"aidmall/internal/idempotency"
)

// Defaults of the maintenance settings in Config.
const (
	defaultMaintenanceInterval  = 5 * time.Minute
	defaultStrandedAfter        = 10 * time.Minute
	defaultIdempotencyRetention = idempotency.Retention
	// strandedBatch is how many stranded orders one maintenance run dispatches again.
	strandedBatch = 500
	// redispatchMeta marks (in River's job metadata, not in the args, so the unique key
	// is the order's as ever) a dispatch job inserted by maintenance.
	redispatchMeta = `{"aidmall_redispatch":true}`
)

// MaintenanceStore is what the maintenance job needs of the system of record
// (adapters/sqlstore implements it).
type MaintenanceStore interface {
	// StrandedOrders returns the ids of pending orders created (UTC) before `before` that
	// never reached their mall (not submitted, rejected or cancelled), oldest first, at
	// most limit.
	StrandedOrders(ctx context.Context, before time.Time, limit int) ([]int64, error)
	// DeleteIdempotencyBefore deletes the idempotency keys (and their stored responses)
	// created before t and returns how many.
	DeleteIdempotencyBefore(ctx context.Context, t time.Time) (int64, error)
}

// MaintenanceCounts says what one maintenance run did.
type MaintenanceCounts struct {
	// Stranded is how many stranded orders the store returned (at most 500 a run).
	Stranded int
	// Redispatched is how many of them got a new dispatch job.
	Redispatched int
	// Live is how many of them still had a live dispatch job (pending, scheduled,
	// available, running, retryable, or completed and not yet cleaned out), so got none.
	Live int
	// IdempotencyDeleted is how many idempotency keys were deleted.
	IdempotencyDeleted int64
}

// maintenance holds the Runner's maintenance settings; store nil means none.
type maintenance struct {
	store         MaintenanceStore
	strandedAfter time.Duration
	retention     time.Duration
}

// Maintain runs maintenance once, as the periodic maintenance job does
// (Config.MaintenanceInterval):
//
//  1. Orders stranded for Config.StrandedAfter (default 10 min) — pending and never at
//     their mall, typically because their dispatch job ran out of attempts while the mall
//     was down — get their dispatch job again, at most 500 (oldest first) per run, in one
//     transaction. The insert is DispatchArgs' unique one: an order whose dispatch job is
//     still live (scheduled, retrying, running…) gets no second job; one whose job was
//     discarded or cancelled does. Until the 500 oldest stranded orders leave that state
//     (their live jobs succeed or are discarded and redispatched), newer ones wait.
//  2. Idempotency keys created more than Config.IdempotencyRetention (default 24 h) ago
//     are deleted.
//
// Cut-offs are taken from the runner's clock. Both steps run even when the other fails;
// the counts of what was done come back with the errors joined. Error: no
// Config.Maintenance store.
func (r *Runner) Maintain(ctx context.Context) (MaintenanceCounts, error) {
	var c MaintenanceCounts
	m := r.maint
	if m.store == nil {
		return c, errors.New("jobs: maintenance: no Config.Maintenance store")
	}
	now := r.now()
	errRedispatch := r.redispatchStranded(ctx, now.Add(-m.strandedAfter), &c)
	deleted, errDelete := m.store.DeleteIdempotencyBefore(ctx, now.Add(-m.retention))
	if errDelete != nil {
		errDelete = fmt.Errorf("jobs: maintenance: %w", errDelete)
	} else {
		c.IdempotencyDeleted = deleted
		r.metrics.idempotencyDel.Add(float64(deleted))
	}
	level := slog.LevelDebug
	if c.Stranded > 0 || c.IdempotencyDeleted > 0 {
		level = slog.LevelInfo
	}
	r.log.Log(ctx, level, "maintenance", slog.Int("stranded", c.Stranded), slog.Int("redispatched", c.Redispatched),
		slog.Int("live", c.Live), slog.Int64("idempotency_deleted", c.IdempotencyDeleted))
	return c, errors.Join(errRedispatch, errDelete)
}

// redispatchStranded inserts the dispatch jobs of up to strandedBatch orders stranded
// before `before`, in one transaction, and counts them into c.
func (r *Runner) redispatchStranded(ctx context.Context, before time.Time, c *MaintenanceCounts) error {
	ids, err := r.maint.store.StrandedOrders(ctx, before, strandedBatch)
	if err != nil {
		return fmt.Errorf("jobs: maintenance: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	c.Stranded = len(ids)
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("jobs: maintenance: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var redispatched []int64
	opts := &river.InsertOpts{Metadata: []byte(redispatchMeta)}
	for _, id := range ids {
		inserted, err := r.insertDispatch(ctx, tx, id, opts)
		if err != nil {
			return fmt.Errorf("jobs: maintenance: %w", err)
		}
		if inserted {
			redispatched = append(redispatched, id)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("jobs: maintenance: commit: %w", err)
	}
	c.Redispatched, c.Live = len(redispatched), len(ids)-len(redispatched)
	r.metrics.redispatched.Add(float64(len(redispatched)))
	if len(redispatched) > 0 {
		r.log.Warn("stranded orders dispatched again", slog.Any("order_ids", redispatched))
	}
	return nil
}

// redispatched reports whether job was inserted by maintenance (redispatchMeta): its
// first attempt is not the order's first, so earlier jobs may have reached the mall.
func redispatched(job *rivertype.JobRow) bool {
	var meta struct {
		Redispatch bool `json:"aidmall_redispatch"`
	}
	_ = json.Unmarshal(job.Metadata, &meta) // River's own metadata is JSON; other keys ignored
	return meta.Redispatch
}

// maintenanceWorker runs Maintain as a job, periodically (Config.MaintenanceInterval).
type maintenanceWorker struct {
	river.WorkerDefaults[MaintenanceArgs]
	r *Runner
}

// Work runs Maintain; a store failure fails the job, to be retried. A runner without a
// maintenance store cancels the job (inserted by hand or by an older configuration).
func (w *maintenanceWorker) Work(ctx context.Context, _ *river.Job[MaintenanceArgs]) error {
	if w.r.maint.store == nil {
		return river.JobCancel(errors.New("maintenance: no Config.Maintenance store"))
	}
	_, err := w.r.Maintain(ctx)
	return err
}
