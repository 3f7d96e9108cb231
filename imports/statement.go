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

// BatchApplier applies many fulfilment events at once, as Applier each (orders.Service
// satisfies it): the results of the events applied, in order; on an error, of those
// before the one that failed (evs[len(results)]).
type BatchApplier interface {
	ApplyBatch(ctx context.Context, evs []orders.FulfilmentEvent) ([]orders.ApplyResult, error)
}

// StatementBatch is how many events of a statement StatementStream applies at once when
// its Applier is a BatchApplier: one transaction and a few dozen statements per batch
// rather than a score per event; small enough that the orders it locks are soon free
// for live notifications.
const StatementBatch = 500

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
	// Differing lists the events already known whose row carries other content than the
	// event recorded under the same id (orders.ApplyResult.Differs): counted as already
	// known and not applied, the recorded event standing, and listed for someone to look
	// into ("event ID of order NO: what differs").
	Differing []string
}

// add counts the result r of applying e.
func (rep *StatementReport) add(e orders.FulfilmentEvent, r orders.ApplyResult) {
	rep.Tally.Add(r)
	if r.Differs != "" {
		rep.Differing = append(rep.Differing, fmt.Sprintf("event %s of order %s: %s", e.EventID, e.OutOrderNo, r.Differs))
	}
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
	return StatementStream(ctx, svc, log, parse.Scanner(), mall, name, r, strict)
}

// StatementScanner reads one mall's statement file as a stream (ccb.ScanStatement,
// abc.ScanStatement): each good row's event is given to each in file order (an error from
// each stops it and is returned), each bad row to bad; the error is a file that cannot be
// read at all.
type StatementScanner func(r io.Reader, each func(orders.FulfilmentEvent) error, bad func(error)) error

// Scanner is parse as a StatementScanner (the file's events are held whole by parse).
func (parse StatementParser) Scanner() StatementScanner {
	return func(r io.Reader, each func(orders.FulfilmentEvent) error, bad func(error)) error {
		evs, errs, err := parse(r)
		if err != nil {
			return err
		}
		for _, e := range errs {
			bad(e)
		}
		for _, ev := range evs {
			if err := each(ev); err != nil {
				return err
			}
		}
		return nil
	}
}

// StatementStream is Statement reading the file as a stream with scan: the events are
// applied as they are read, StatementBatch at a time when svc is a BatchApplier (one
// transaction each; the tally then counts an event held by its state at its batch's
// commit), so a statement of any size goes through in the memory of one batch. With strict the file is read twice when r is an io.ReadSeeker (a file): first to
// find any bad row (then nothing is applied), then to apply; another reader's events are
// held for the second pass.
func StatementStream(ctx context.Context, svc Applier, log Auditor, scan StatementScanner, mall orders.Mall, name string, r io.Reader, strict bool) (StatementReport, error) {
	rep := StatementReport{Mall: mall, File: name}
	h := sha256.New()
	tee := io.TeeReader(r, h)
	var held []orders.FulfilmentEvent
	batcher, batching := svc.(BatchApplier)
	var pending []orders.FulfilmentEvent
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		res, err := batcher.ApplyBatch(ctx, pending)
		for i, r := range res {
			rep.add(pending[i], r)
		}
		if err != nil {
			if len(res) < len(pending) {
				return fmt.Errorf("event %s: %w", pending[len(res)].EventID, err)
			}
			return err
		}
		pending = pending[:0]
		return nil
	}
	apply := func(e orders.FulfilmentEvent) error {
		rep.Events++
		if batching {
			if pending = append(pending, e); len(pending) >= StatementBatch {
				return flush()
			}
			return nil
		}
		res, err := svc.Apply(ctx, e)
		if err != nil {
			return fmt.Errorf("event %s: %w", e.EventID, err)
		}
		rep.add(e, res)
		return nil
	}
	first := apply
	seeker, seekable := r.(io.ReadSeeker)
	if strict {
		first = func(e orders.FulfilmentEvent) error {
			rep.Events++
			if !seekable {
				held = append(held, e)
			}
			return nil
		}
	}
	applyErr := error(nil)
	err := scan(tee, func(e orders.FulfilmentEvent) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := first(e); err != nil {
			applyErr = err
			return err
		}
		return nil
	}, func(e error) { rep.Bad = append(rep.Bad, e) })
	if err != nil && applyErr == nil {
		if !strict { // what was read before it applies, as it would event by event
			if ferr := flush(); ferr != nil {
				return rep, errors.Join(err, ferr)
			}
		}
		return rep, err // the file cannot be read
	}
	if err != nil {
		return rep, applyErr
	}
	if !strict {
		if err := flush(); err != nil {
			return rep, err
		}
	}
	if _, err := io.Copy(io.Discard, tee); err != nil { // the whole file's hash, read or not
		return rep, err
	}
	rep.SHA256 = hex.EncodeToString(h.Sum(nil))
	if strict && len(rep.Bad) > 0 {
		rep.Refused = true
		rows := "bad rows"
		if len(rep.Bad) == 1 {
			rows = "bad row"
		}
		return rep, fmt.Errorf("%w: %d %s (--strict)", ErrRefused, len(rep.Bad), rows)
	}
	if strict {
		rep.Events = 0
		switch {
		case seekable:
			if _, err := seeker.Seek(0, io.SeekStart); err != nil {
				return rep, err
			}
			bad := len(rep.Bad)
			if err := scan(seeker, func(e orders.FulfilmentEvent) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				return apply(e)
			}, func(error) { bad++ }); err != nil {
				return rep, err
			}
			if bad != len(rep.Bad) {
				return rep, fmt.Errorf("statement %s changed while it was read", name)
			}
			if err := flush(); err != nil {
				return rep, err
			}
		default:
			for _, e := range held {
				if err := apply(e); err != nil {
					return rep, err
				}
			}
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
	t := rep.Tally
	e, err := audit.New(audit.ActorFrom(ctx), audit.ActionStatementImport, "file:statement/"+name, nil, map[string]any{
		"mall": mall, "file": name, "sha256": rep.SHA256, "events": rep.Events,
		"applied": t.Applied, "held": t.Held, "duplicate": t.Duplicate, "parked": t.Parked, "rejected": len(rep.Bad),
		"duplicate_differing": len(rep.Differing),
	})
	if err != nil {
		return rep, err
	}
	return rep, log.Audit(ctx, e)
}
