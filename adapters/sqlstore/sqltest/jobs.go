package sqltest

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"

	"aidmall/adapters/sqlstore"
)

// Jobs is a sqlstore.Enqueuer that records the jobs it was given (in the order's
// transaction: a rolled-back order's job is still recorded here, as River would have
// rolled it back with the order), or fails with Fail when set.
type Jobs struct {
	mu       sync.Mutex
	dispatch []int64
	cancels  map[int64][]string
	Fail     error
}

func (j *Jobs) EnqueueDispatch(_ context.Context, tx *sql.Tx, ids ...int64) error {
	if tx == nil {
		return errors.New("sqltest: dispatch job outside a transaction")
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.Fail != nil {
		return j.Fail
	}
	j.dispatch = append(j.dispatch, ids...)
	return nil
}

func (j *Jobs) EnqueueCancel(_ context.Context, tx *sql.Tx, id int64, reason string) error {
	if tx == nil {
		return errors.New("sqltest: cancel job outside a transaction")
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.Fail != nil {
		return j.Fail
	}
	if j.cancels == nil {
		j.cancels = map[int64][]string{}
	}
	j.cancels[id] = append(j.cancels[id], reason)
	return nil
}

// Dispatched returns the order ids given dispatch jobs, in order.
func (j *Jobs) Dispatched() []int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]int64(nil), j.dispatch...)
}

// Cancels returns the reasons of the cancel jobs of order id, in order.
func (j *Jobs) Cancels(id int64) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.cancels[id]...)
}

// Kept is one notification kept for an operator (sqlstore.Store.KeepUnreadable).
type Kept struct {
	Mall   string `db:"mall"`
	Reason string `db:"reason"`
	Body   []byte `db:"body"`
}

// KeptUnreadable reads back, in the order kept, what st keeps for an operator.
func KeptUnreadable(t testing.TB, st *sqlstore.Store) []Kept {
	t.Helper()
	var out []Kept
	if err := st.DB().SelectContext(context.Background(), &out,
		`SELECT mall, reason, body FROM unreadable_notifications ORDER BY id`); err != nil {
		t.Fatalf("sqltest: read unreadable notifications: %v", err)
	}
	return out
}
