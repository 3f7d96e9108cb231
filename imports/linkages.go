package imports

import (
	"context"
	"io"

	"aidmall/households"
	"aidmall/orders"
)

// LinkageStore is the registry's store with the linkage import that also says what it
// moved in the ledger and can do it as a dry run (adapters/sqlstore's Store satisfies it).
type LinkageStore interface {
	households.RegistryStore
	// ImportLinkages stores ls as UpsertLinkages does and returns what the rework of the
	// ledger moved; with dryRun the same work is done and rolled back.
	ImportLinkages(ctx context.Context, ls []households.Linkage, prune, dryRun bool) (households.Counts, orders.Changes, error)
	// StreamLinkages stores a linkages file as it is read, as
	// households.LinkageStreamStore's ImportLinkageStream does, and returns what the
	// rework moved; with dryRun the same work is done and rolled back.
	StreamLinkages(ctx context.Context, next func(households.References) ([]households.Linkage, error),
		done func() (households.ImportInfo, bool, func(households.Linkage) bool), dryRun bool) (households.Counts, orders.Changes, error)
}

// linkageRun is st for one linkages import: its UpsertLinkages and ImportLinkageStream
// (a file read as a stream) keep what the import
// changed in the ledger and, in a dry run, stores nothing.
type linkageRun struct {
	LinkageStore
	dryRun  bool
	changes orders.Changes
}

func (l *linkageRun) UpsertLinkages(ctx context.Context, ls []households.Linkage, prune bool) (households.Counts, error) {
	c, ch, err := l.LinkageStore.ImportLinkages(ctx, ls, prune, l.dryRun)
	l.changes = ch
	return c, err
}

func (l *linkageRun) ImportLinkageStream(ctx context.Context, next func(households.References) ([]households.Linkage, error),
	done func() (households.ImportInfo, bool, func(households.Linkage) bool)) (households.Counts, error) {
	c, ch, err := l.LinkageStore.StreamLinkages(ctx, next, done, l.dryRun)
	l.changes = ch
	return c, err
}

// Linkages imports the linkages file name (from r) through a households.Registry that
// newRegistry builds over the store it is given, and returns the report and what the
// import changed in the ledger per household and month (orders.Changes). With dryRun
// everything is worked out and rolled back: the report and changes say what the file
// would do, and nothing is stored. strict is households.Registry.Import's.
func Linkages(ctx context.Context, st LinkageStore, newRegistry func(households.RegistryStore) (*households.Registry, error),
	name string, r io.Reader, strict, dryRun bool) (households.Report, orders.Changes, error) {
	run := &linkageRun{LinkageStore: st, dryRun: dryRun}
	reg, err := newRegistry(run)
	if err != nil {
		return households.Report{}, orders.Changes{}, err
	}
	rep, err := reg.Import(ctx, households.KindLinkages, name, r, strict)
	return rep, run.changes, err
}
