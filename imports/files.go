package imports

import (
	"context"
	"errors"
	"io"

	"aidmall/households"
	"aidmall/orders"
)

// Orders is what order history and statements need of the orders use cases;
// *orders.Service satisfies it.
type Orders interface {
	HistoryLoader
	Applier
}

// Files is every import of one configuration, for the aid office's pages (the CLI calls
// the same functions, one command each). Every field is required.
type Files struct {
	// Registry returns the registry importer for a file of kind (sealing personal data for
	// households); budgetYear, for branches, is the year their budget column is for.
	Registry func(ctx context.Context, kind households.Kind, budgetYear int) (*households.Registry, error)
	// Store is the store of linkage imports (ImportLinkages with its dry run), and
	// LinkageRegistry the registry a linkages file runs through over the store given.
	Store           LinkageStore
	LinkageRegistry func(households.RegistryStore) (*households.Registry, error)
	// Orders loads history and applies statements' events; Audit records statements.
	Orders Orders
	Audit  Auditor
	// Statements are the connected malls' statement parsers (malls.Driver.ParseStatement).
	Statements map[orders.Mall]StatementParser
}

// ErrNoBudgetYear is Files.Import's answer to a branches file without the year its budget
// column is for.
var ErrNoBudgetYear = errors.New("imports: a branches file needs the year of its budgets")

// Import imports one registry or catalogue file of kind other than linkages
// (households.Registry.Import). A branches file needs budgetYear, from
// orders.MinBudgetYear to MaxBudgetYear (else ErrNoBudgetYear).
func (f Files) Import(ctx context.Context, kind households.Kind, name string, r io.Reader, strict bool, budgetYear int) (households.Report, error) {
	if kind == households.KindLinkages {
		rep, _, err := f.Linkages(ctx, name, r, strict, false)
		return rep, err
	}
	if kind == households.KindBranches && (budgetYear < orders.MinBudgetYear || budgetYear > orders.MaxBudgetYear) {
		return households.Report{Kind: kind, File: name}, ErrNoBudgetYear
	}
	reg, err := f.Registry(ctx, kind, budgetYear)
	if err != nil {
		return households.Report{Kind: kind, File: name}, err
	}
	return reg.Import(ctx, kind, name, r, strict)
}

// Linkages imports a linkages file (Linkages), dry run or not.
func (f Files) Linkages(ctx context.Context, name string, r io.Reader, strict, dryRun bool) (households.Report, orders.Changes, error) {
	return Linkages(ctx, f.Store, f.LinkageRegistry, name, r, strict, dryRun)
}

// History loads order history as caller (History).
func (f Files) History(ctx context.Context, caller orders.Caller, ordersCSV, linesCSV io.Reader) (HistoryReport, error) {
	return History(ctx, f.Orders, caller, ordersCSV, linesCSV)
}

// Statement applies mall's statement file (Statement, not strict: the good rows apply and
// the bad are reported); an *orders.Error of kind ErrInvalid when mall is not connected.
func (f Files) Statement(ctx context.Context, mall orders.Mall, name string, r io.Reader) (StatementReport, error) {
	parse, ok := f.Statements[mall]
	if !ok {
		return StatementReport{Mall: mall, File: name}, orders.Errorf(orders.ErrInvalid, "mall %q is not connected", mall)
	}
	return Statement(ctx, f.Orders, f.Audit, parse, mall, name, r, false)
}
