package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"

	"aidmall/bizday"
)

var bizdayZone = bizday.Beijing

// Ledger partitions (PostgreSQL, migration 00014): one partition per business month and
// a default partition. The write path never creates one: an entry of a month without its
// partition lands in the default partition, so no insert ever fails for a missing
// partition (creating one inside an apply would need locks against every other apply's
// and could deadlock). EnsureLedgerPartitions creates the months ahead in transactions of
// their own that give up on any lock they cannot have within lockWait (and are tried
// again), so an apply is never made to wait on one for long nor chosen as a deadlock's
// victim. Entries are never moved out of the default partition while the service runs:
// a query planned before an attach could miss moved rows. A month that got entries
// before its partition (history older than the migration's months) stays in the default
// partition, which every query reads as part of the ledger.

// partitionsAhead is how many months after this one EnsureLedgerPartitions keeps ready.
const partitionsAhead = 3

// partitionName is the partition of month "YYYY-MM".
func partitionName(month string) string { return "ledger_entries_y" + month[:4] + "m" + month[5:7] }

// ledgerParts is the store's knowledge of which months have their partition.
type ledgerParts struct {
	mu       sync.Mutex
	months   map[string]bool // nil until loaded
	ensuring bool
}

// loadPartitions reads the months that have their partition.
func (s *Store) loadPartitions(ctx context.Context, q sqlx.QueryerContext) (map[string]bool, error) {
	var names []string
	if err := sqlx.SelectContext(ctx, q, &names, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'ledger_entries'::regclass`); err != nil {
		return nil, fmt.Errorf("ledger partitions: %w", err)
	}
	out := map[string]bool{}
	for _, n := range names {
		if len(n) == len("ledger_entries_y2019m03") && n[:len("ledger_entries_y")] == "ledger_entries_y" {
			out[n[16:20]+"-"+n[21:23]] = true
		}
	}
	return out, nil
}

// bookedMonths notes, after a commit, the business months a write booked entries on; when
// the months ahead of now are not all ready it starts EnsureLedgerPartitions in the
// background (at most one at a time).
func (s *Store) bookedMonths(months map[string]bool) {
	if s.db.Dialect != Postgres || len(months) == 0 {
		return
	}
	s.parts.mu.Lock()
	ready := s.parts.months != nil
	for _, m := range monthsAhead(s.now()) {
		ready = ready && s.parts.months[m]
	}
	if ready || s.parts.ensuring {
		s.parts.mu.Unlock()
		return
	}
	s.parts.ensuring = true
	s.parts.mu.Unlock()
	go func() {
		defer func() { s.parts.mu.Lock(); s.parts.ensuring = false; s.parts.mu.Unlock() }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		_ = s.EnsureLedgerPartitions(ctx) // the entries go to the default partition meanwhile
	}()
}

// monthsAhead are this month (Beijing) and the partitionsAhead months after it.
func monthsAhead(now time.Time) []string {
	d := now.In(bizdayZone)
	first := time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC)
	out := make([]string, 0, partitionsAhead+1)
	for i := 0; i <= partitionsAhead; i++ {
		out = append(out, first.AddDate(0, i, 0).Format("2006-01"))
	}
	return out
}

// lockWait is how long a partition's creation waits for a lock before it gives up and
// tries again later.
const lockWait = "200ms"

// EnsureLedgerPartitions gives this month and the partitionsAhead months after it their
// partition (a month with entries in the default partition already keeps them there),
// one month per transaction, each tried again while a lock is busy. A no-op on SQLite.
func (s *Store) EnsureLedgerPartitions(ctx context.Context) error {
	if s.db.Dialect != Postgres {
		return nil
	}
	have, err := s.loadPartitions(ctx, s.db)
	if err != nil {
		return err
	}
	for _, m := range monthsAhead(s.now()) {
		if have[m] {
			continue
		}
		for attempt := 0; ; attempt++ {
			made, err := s.createPartition(ctx, m)
			if err == nil {
				have[m] = made
				break
			}
			var pg *pgconn.PgError
			if !errors.As(err, &pg) || pg.Code != "55P03" || attempt == 50 { // lock_not_available
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(50+attempt*20) * time.Millisecond):
			}
		}
	}
	s.parts.mu.Lock()
	s.parts.months = have
	s.parts.mu.Unlock()
	return nil
}

// createPartition makes month's partition unless the default partition holds entries of
// it already (then it reports false and the month stays there).
func (s *Store) createPartition(ctx context.Context, month string) (bool, error) {
	t, err := time.Parse("2006-01", month)
	if err != nil {
		return false, fmt.Errorf("ledger partition %q: %w", month, err)
	}
	from, to := t.Format(time.DateOnly), t.AddDate(0, 1, 0).Format(time.DateOnly)
	name := partitionName(month)
	made := false
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '`+lockWait+`'`); err != nil {
			return err
		}
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT COUNT(*) FROM (SELECT 1 FROM ledger_entries_default
			WHERE business_day >= $1 AND business_day < $2 LIMIT 1) x`, from, to); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		for _, q := range []string{
			`CREATE TABLE ` + name + ` (LIKE ledger_entries INCLUDING DEFAULTS)`,
			`ALTER TABLE ledger_entries ATTACH PARTITION ` + name + ` FOR VALUES FROM ('` + from + `') TO ('` + to + `')`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		made = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("ledger partition %s: %w", month, err)
	}
	return made, nil
}
