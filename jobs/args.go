package jobs

import (
	"time"

	"github.com/riverqueue/river"
)

// DispatchArgs is the job that places one group order at its mall. It is unique by its
// args in River's default states (rivertype.UniqueOptsByStateDefault: pending, scheduled,
// available, running, retryable, and completed until River's cleaner removes it, 24 h by
// default), so an order has one live dispatch job. A discarded (out of attempts) or
// cancelled job does not block a new one: that is how maintenance dispatches a stranded
// order again (Runner.Maintain).
type DispatchArgs struct {
	OrderID int64 `json:"order_id"`
}

// Kind implements river.JobArgs.
func (DispatchArgs) Kind() string { return "aidmall_dispatch" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (DispatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// CancelArgs is the job that asks an order's mall to cancel it. It is not unique: asking
// twice is harmless (the malls answer a second cancel with success), and a dispatch that
// learns of a cancel while it was placing the order must be able to ask again.
type CancelArgs struct {
	OrderID int64  `json:"order_id"`
	Reason  string `json:"reason"`
}

// Kind implements river.JobArgs.
func (CancelArgs) Kind() string { return "aidmall_cancel" }

// ReconcileArgs is the job that applies the malls' statements. Days are Beijing business
// days, "YYYY-MM-DD"; empty means yesterday and today.
type ReconcileArgs struct {
	Days []string `json:"days,omitempty"`
}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return "aidmall_reconcile" }

// InsertOpts implements river.JobArgsWithInsertOpts: a few attempts only, since the next
// periodic run reads the same statements again.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3}
}

// MaintenanceArgs is the periodic job that dispatches stranded orders again and deletes
// old idempotency keys (Runner.Maintain).
type MaintenanceArgs struct{}

// Kind implements river.JobArgs.
func (MaintenanceArgs) Kind() string { return "aidmall_maintenance" }

// InsertOpts implements river.JobArgsWithInsertOpts: a few attempts only, since the next
// periodic run does the same work again.
func (MaintenanceArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3}
}

// reconcileTimeout bounds one reconcile run (statements of a busy day are long).
const reconcileTimeout = 10 * time.Minute
