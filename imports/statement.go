package imports

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"aidmall/audit"
	"aidmall/orders"
)

// StatementParser reads one mall's statement file (malls.Driver.ParseStatement): the
// events of the rows that read, an error per row that did not, and an error when the file
// cannot be read at all.
type StatementParser func(r io.Reader) ([]orders.FulfilmentEvent, []error, error)

// Applier applies one fulfilment event; *orders.Service satisfies it.
type Applier interface {
	Apply(ctx context.Context, ev orders.FulfilmentEvent) (orders.ApplyResult, error)
}

// Auditor appends an entry to the audit log; adapters/sqlstore's Store satisfies it.
type Auditor interface {
	Audit(ctx context.Context, e audit.Entry) error
}

// StatementReport says what applying a statement did: its mall, file and SHA-256, the
// events read and what became of them, and every row that could not be read (the mall's
// malls.RowError, with its row and column). Tally counts each event once by its
// outcome: an event held for review (ATTRIBUTION.md §1.6) is Held, never Applied.
// Refused: strict and a row was bad, so nothing was applied.
type StatementReport struct {
	Mall    orders.Mall
	File    string
	SHA256  string
	Events  int
	Tally   orders.Tally
	Bad     []error
	Refused bool
}

// ErrRefused is Statement's error, wrapped with the count, when strict and a row is bad:
// the whole file is refused and nothing applied.
var ErrRefused = errors.New("statement refused: nothing applied")

// Statement applies the statement file name of mall (read from r with parse) through the
// same Apply as notifications and reconcile: each event not yet seen applies, a copy is a
// no-op, an event for an order not loaded yet waits for it. The bad rows are reported and
// the others applied — unless strict, when one bad row refuses the whole file: nothing is
// applied nor audited, the report is Refused and the error wraps ErrRefused. Then the file
// is recorded in the audit log (actor from ctx) with its SHA-256 and what became of its
// events. The error is a file that cannot be read at all, a refused file, an event the
// service refuses, or a failure; the report then holds the bad rows and what was applied
// before it.
func Statement(ctx context.Context, svc Applier, log Auditor, parse StatementParser, mall orders.Mall, name string, r io.Reader, strict bool) (StatementReport, error) {
	rep := StatementReport{Mall: mall, File: name}
	h := sha256.New()
	tee := io.TeeReader(r, h)
	evs, bad, err := parse(tee)
	if err != nil {
		return rep, err
	}
	if _, err := io.Copy(io.Discard, tee); err != nil { // the whole file's hash, read or not
		return rep, err
	}
	rep.SHA256, rep.Bad, rep.Events = hex.EncodeToString(h.Sum(nil)), bad, len(evs)
	if strict && len(bad) > 0 {
		rep.Refused = true
		return rep, fmt.Errorf("%w: %d bad rows (--strict)", ErrRefused, len(bad))
	}
	for _, e := range evs {
		res, err := svc.Apply(ctx, e)
		if err != nil {
			return rep, fmt.Errorf("event %s: %w", e.EventID, err)
		}
		rep.Tally.Add(res)
	}
	t := rep.Tally
	e, err := audit.New(audit.ActorFrom(ctx), audit.ActionStatementImport, "file:statement/"+name, nil, map[string]any{
		"mall": mall, "file": name, "sha256": rep.SHA256, "events": rep.Events,
		"applied": t.Applied, "held": t.Held, "duplicate": t.Duplicate, "parked": t.Parked, "rejected": len(bad),
	})
	if err != nil {
		return rep, err
	}
	return rep, log.Audit(ctx, e)
}
