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
// a default partition. No transaction that writes the ledger creates one: an entry of a
// month without its partition lands in the default partition, so no insert ever fails for
// a missing partition (creating one inside an apply would need locks against every other
// apply's and could deadlock). EnsureLedgerPartitions creates the months ahead, and
// PrepareLedgerMonths a batch's months before its transaction (a past year loaded
// offline), in transactions of their own that give up on any lock they cannot have within
// lockWait (and are tried again), so an apply is never made to wait on one for long nor
// chosen as a deadlock's victim. Entries are never moved out of the default partition
// while the service runs: a query planned before an attach could miss moved rows. A month
// that got entries before its partition (history older than the migration's months, or
// booked by an event applied alone) stays in the default partition, which every query
// reads as part of the ledger.

// partitionsAhead is how many months after this one EnsureLedgerPartitions keeps ready.
const partitionsAhead = 3

// partitionName is the partition of month "YYYY-MM".
func partitionName(month string) string { return "ledger_entries_y" + month[:4] + "m" + month[5:7] }

// ledgerParts is the store's knowledge of which months have their partition.
type ledgerParts struct {
	mu sync.Mutex
	// months are the months known: true with their partition, false with entries in the
	// default partition (they stay there, and no partition is made for them).
	months   map[string]bool
	ensuring bool
	making   sync.Mutex // held while partitions are made (EnsureLedgerPartitions, PrepareLedgerMonths)
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
	s.parts.making.Lock()
	defer s.parts.making.Unlock()
	return s.ensureMonths(ctx, monthsAhead(s.now()))
}

// historyYears is how far back before this month PrepareLedgerMonths makes partitions:
// older history keeps to the default partition.
const historyYears = 10

// prepareWait bounds PrepareLedgerMonths: a batch waits no longer for its months'
// partitions (a month not made by then goes to the default partition and stays there).
const prepareWait = 5 * time.Second

// PrepareLedgerMonths (orders.MonthPreparer) gives each business month "YYYY-MM" of
// months its partition before a batch books entries in it, so that a year loaded offline
// (a statement of 2019 applied by import statement) is partitioned by month as the
// months the service lives through are, instead of all going to the default partition.
// Each month is made in a transaction of its own, before the batch's, as
// EnsureLedgerPartitions makes the months ahead (never inside an apply: see "Ledger
// partitions" above). Only months from historyYears before this one up to the last month
// EnsureLedgerPartitions keeps ready are made (a wrongly dated event makes none); a month
// that already has entries in the default partition keeps them there. Best effort: on an
// error or after prepareWait the batch's entries go where they would have gone anyway.
// A no-op on SQLite, and once a month is known, an in-memory look.
func (s *Store) PrepareLedgerMonths(ctx context.Context, months []string) error {
	if s.db.Dialect != Postgres || len(months) == 0 {
		return nil
	}
	ahead := monthsAhead(s.now())
	earliest, latest := s.now().In(bizdayZone).AddDate(-historyYears, 0, 0).Format("2006-01"), ahead[len(ahead)-1]
	todo := func() []string {
		s.parts.mu.Lock()
		defer s.parts.mu.Unlock()
		var out []string
		for _, m := range months {
			if _, known := s.parts.months[m]; !known && len(m) == len("2006-01") && m >= earliest && m <= latest {
				out = append(out, m)
			}
		}
		return out
	}
	if len(todo()) == 0 {
		return nil
	}
	s.parts.making.Lock()
	defer s.parts.making.Unlock()
	ctx, cancel := context.WithTimeout(ctx, prepareWait)
	defer cancel()
	return s.ensureMonths(ctx, todo()) // again: another caller may have made them meanwhile
}

// ensureMonths makes the partitions of months that have none, one month per transaction,
// each tried again while a lock is busy, and notes which months have their partition and
// which keep to the default partition. The caller holds s.parts.making.
func (s *Store) ensureMonths(ctx context.Context, months []string) error {
	if len(months) == 0 {
		return nil
	}
	have, err := s.loadPartitions(ctx, s.db)
	if err != nil {
		return err
	}
	s.parts.mu.Lock()
	for m, made := range s.parts.months {
		if !made { // known to keep to the default partition (the database lists partitions only)
			have[m] = false
		}
	}
	s.parts.mu.Unlock()
	defer func() { // what was learnt, also on an error
		s.parts.mu.Lock()
		s.parts.months = have
		s.parts.mu.Unlock()
	}()
	for _, m := range months {
		if _, known := have[m]; known {
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
