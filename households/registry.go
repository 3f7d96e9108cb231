package households

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"time"

	"aidmall/audit"
)

// Sealer seals personal data (implemented by adapters/seal). Seal encrypts a value
// (randomised: two seals of one value differ) bound to place, where it is stored
// (SealedAt): opened for any other place it fails. Hash is a keyed, deterministic hash
// (hex) for lookups and change detection. KeyName names the key both use (not secret).
type Sealer interface {
	Seal(plain, place string) ([]byte, error)
	Hash(plain string) string
	KeyName() string
}

// SealedAt is the place a household's sealed field is bound to: the store's table,
// column and row, e.g. "households/id_sealed/06300101001". column is one of
// "name_sealed", "id_sealed", "phone_sealed".
func SealedAt(column string, no HouseholdNo) string {
	return "households/" + column + "/" + string(no)
}

// RegistryStore is what imports need of the system of record (implemented by
// adapters/sqlstore). Each Upsert stores all the records it is given in ONE transaction
// (all or nothing) and returns how many were inserted, updated (content changed) and
// unchanged. Keys: branch code, supplier code, SKU, household number (户编号), and
// (supplier code, household number, type, valid_from) for linkages. A household is
// unchanged when its Fingerprint equals the stored one: sealed bytes differ on every
// import (AES-GCM nonces) and must never be compared.
type RegistryStore interface {
	UpsertBranches(ctx context.Context, bs []Branch) (Counts, error)
	UpsertSuppliers(ctx context.Context, ss []Supplier) (Counts, error)
	UpsertProducts(ctx context.Context, ps []Product) (Counts, error)
	UpsertHouseholds(ctx context.Context, hs []SealedHousehold) (Counts, error)
	// UpsertLinkages stores ls. With prune it takes ls as the whole set of linkages of
	// every supplier it names: rows of those suppliers absent from ls are removed. The
	// ledger of changed suppliers' sale lines is worked out again with the new set, in the
	// same transaction.
	UpsertLinkages(ctx context.Context, ls []Linkage, prune bool) (Counts, error)
	// HouseholdsExist reports, for each household number asked, whether it is registered.
	HouseholdsExist(ctx context.Context, nos []HouseholdNo) (map[HouseholdNo]bool, error)
	// SuppliersExist reports, for each supplier code asked, whether it is known.
	SuppliersExist(ctx context.Context, codes []string) (map[string]bool, error)
}

// Counts is what an upsert did, in records.
type Counts struct {
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Removed   int `json:"removed"` // linkages no longer in their supplier's set
}

// SealedHousehold is a Household ready to store: the head's name, ID number and phone
// sealed (Sealer.Seal) and masked for display; ID number and phone also hashed
// (Sealer.Hash of the normalised value, NormalizeResidentID / NormalizePhone) for
// lookups. Fingerprint is the keyed hash of all the plain fields: the store compares it,
// never the sealed bytes, to tell an unchanged household. A household without a phone has
// nil PhoneSealed and empty PhoneHash and PhoneMasked. SealKey names the key its sealed
// values and hashes are under (Sealer.KeyName).
type SealedHousehold struct {
	No          HouseholdNo
	SealKey     string
	NameSealed  []byte
	NameMasked  string
	IDSealed    []byte
	IDHash      string
	IDMasked    string
	PhoneSealed []byte
	PhoneHash   string
	PhoneMasked string
	Members     int
	County      string
	Township    string
	Village     string
	Attribute   string
	ExitYear    int // 0 if not yet
	Fingerprint string
}

// SealHousehold seals, hashes and masks the personal data of h. It returns the sealer's
// error when sealing fails.
func SealHousehold(s Sealer, h Household) (SealedHousehold, error) {
	plain, err := json.Marshal(h)
	if err != nil {
		return SealedHousehold{}, fmt.Errorf("fingerprint household %s: %w", h.No, err)
	}
	sh := SealedHousehold{
		No: h.No, NameMasked: MaskName(h.HeadName), IDHash: s.Hash(h.IDNumber), IDMasked: MaskID(h.IDNumber),
		Members: h.Members, County: h.County, Township: h.Township, Village: h.Village,
		Attribute: h.Attribute, ExitYear: h.ExitYear,
		Fingerprint: s.Hash("aidmall/household/v1\n" + string(plain)), SealKey: s.KeyName(),
	}
	if sh.NameSealed, err = s.Seal(h.HeadName, SealedAt("name_sealed", h.No)); err != nil {
		return SealedHousehold{}, fmt.Errorf("seal name of household %s: %w", h.No, err)
	}
	if sh.IDSealed, err = s.Seal(h.IDNumber, SealedAt("id_sealed", h.No)); err != nil {
		return SealedHousehold{}, fmt.Errorf("seal ID number of household %s: %w", h.No, err)
	}
	if h.Phone != "" {
		if sh.PhoneSealed, err = s.Seal(h.Phone, SealedAt("phone_sealed", h.No)); err != nil {
			return SealedHousehold{}, fmt.Errorf("seal phone of household %s: %w", h.No, err)
		}
		sh.PhoneHash, sh.PhoneMasked = s.Hash(h.Phone), MaskPhone(h.Phone)
	}
	return sh, nil
}

// Kind is the kind of a registry file.
type Kind string

const (
	KindBranches   Kind = "branches"
	KindSuppliers  Kind = "suppliers"
	KindProducts   Kind = "products"
	KindHouseholds Kind = "households"
	KindLinkages   Kind = "linkages"
)

// ErrUnknownKind is returned for a Kind that is none of the five.
var ErrUnknownKind = errors.New("unknown registry file kind")

// ParseKind returns the Kind named s, or ErrUnknownKind.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(s); k {
	case KindBranches, KindSuppliers, KindProducts, KindHouseholds, KindLinkages:
		return k, nil
	}
	return "", fmt.Errorf("%w %q: want branches, suppliers, products, households or linkages", ErrUnknownKind, s)
}

// Report is the outcome of importing one file.
type Report struct {
	Kind   Kind       `json:"kind"`
	File   string     `json:"file"`
	Rows   int        `json:"rows"`   // data rows read (header and blank lines not counted)
	Loaded int        `json:"loaded"` // good records given to the store (0 when refused)
	Counts Counts     `json:"counts"`
	Errors []RowError `json:"errors"` // in row order
	// Warnings are what an office would check but not refuse (an ID number issued in
	// another county: people move); their rows are loaded. In row order.
	Warnings []RowError `json:"warnings"`
	Refused  bool       `json:"refused"`        // strict and row errors: nothing was stored
	Note     string     `json:"note,omitempty"` // what the import did differently, for the reader
}

// Registry is the import use case of the registry and catalogue files.
type Registry struct {
	store   RegistryStore
	sealer  Sealer
	now     func() time.Time
	decoder FileDecoder
	malls   []string // mall codes a catalogue's listing columns may name (none: any)
	auditor Auditor  // records imports that store nothing (WithAuditor); nil: none
	// budgetYear is the year a branches file's budget column is the budget of; 0: the
	// column is read and checked but not stored.
	budgetYear int
	progress   func(rows int) // WithProgress; nil: none
}

// WithProgress has a household import call progress with the data rows read so far, as
// it reads them (every few hundred rows; for a progress bar).
func WithProgress(progress func(rows int)) RegistryOption {
	return func(r *Registry) { r.progress = progress }
}

// RegistryOption configures a Registry.
type RegistryOption func(*Registry)

// WithClock sets the clock that bounds birth dates and 脱贫年度 in household files
// (default time.Now).
func WithClock(now func() time.Time) RegistryOption { return func(r *Registry) { r.now = now } }

// WithMalls sets the mall codes a catalogue may list products at (the registered
// drivers'); a listing column of another code refuses the file. Default: any code.
func WithMalls(codes ...string) RegistryOption {
	return func(r *Registry) { r.malls = append([]string(nil), codes...) }
}

// WithBudgetYear names the year whose budgets a branches file's budget column holds
// (aidmall import branches --budget-year; a bundle's year for import bundle and the demo).
// Without it the column is checked but no budget is stored.
func WithBudgetYear(year int) RegistryOption { return func(r *Registry) { r.budgetYear = year } }

// NewRegistry returns a Registry storing into store and sealing with sealer; it fails if
// either (or a WithClock clock) is nil.
func NewRegistry(store RegistryStore, sealer Sealer, opts ...RegistryOption) (*Registry, error) {
	if store == nil {
		return nil, errors.New("households: NewRegistry: nil store")
	}
	if sealer == nil {
		return nil, errors.New("households: NewRegistry: nil sealer")
	}
	r := &Registry{store: store, sealer: sealer, now: time.Now, decoder: testDecoder}
	for _, o := range opts {
		o(r)
	}
	if r.now == nil {
		return nil, errors.New("households: NewRegistry: nil clock")
	}
	return r, nil
}

// Import parses one file of the given kind (name is for messages and the report;
// household files are told XLSX or CSV by content) and stores its good records in one
// store transaction. Products naming an unknown supplier, and linkages naming an unknown
// supplier or an unregistered household (ATTRIBUTION.md, Terms), are row errors too. With
// strict, any row error refuses the whole file: nothing is stored and Report.Refused is
// set (a refusal is not an error). Re-importing a file stores nothing new: the store
// counts every record unchanged. The error is ErrUnknownKind, a *ParseError for a file
// that cannot be read at all, a sealing error, or the store's error; the report then
// carries the kind and file name only.
func (r *Registry) Import(ctx context.Context, kind Kind, name string, rd io.Reader, strict bool) (Report, error) {
	rep := Report{Kind: kind, File: name, Errors: []RowError{}, Warnings: []RowError{}}
	if _, err := ParseKind(string(kind)); err != nil {
		return rep, err
	}
	if r.decoder == nil {
		return rep, errNoDecoder
	}
	var (
		sum string
		err error
		f   File
	)
	linkStore, linkStream := r.store.(LinkageStreamStore)
	csvStream, ok := r.decoder.(CSVStreamDecoder)
	linkStream = linkStream && ok && kind == KindLinkages
	if kind == KindHouseholds || linkStream {
		// A household or linkages file is read as a stream (it may have a million rows):
		// its hash is known once it has been read to its end.
		h := sha256.New()
		tee := io.TeeReader(rd, h)
		hashedSum := func() (string, error) {
			if _, err := io.Copy(io.Discard, tee); err != nil {
				return "", fmt.Errorf("read %s: %w", name, err)
			}
			return hex.EncodeToString(h.Sum(nil)), nil
		}
		var src RowSource
		if linkStream {
			if src, err = csvStream.CSVRows(tee); err == nil {
				err = r.importLinkageStream(ctx, &rep, name, src, strict, hashedSum, linkStore)
			}
		} else if sd, ok := r.decoder.(StreamDecoder); ok {
			src, err = sd.SheetRows(tee, HouseholdSheet)
		} else if f, err = r.decoder.Sheet(tee, HouseholdSheet); err == nil {
			src = &fileSource{f: f}
		}
		if err == nil && !linkStream {
			err = r.importHouseholdStream(ctx, &rep, name, src, strict, hashedSum)
		}
		if err == nil {
			sum, err = hashedSum()
		}
	} else {
		var rd2 io.Reader
		if rd2, sum, err = hashed(rd); err != nil {
			return rep, fmt.Errorf("read %s: %w", name, err)
		}
		ctx = withImport(ctx, ImportInfo{Kind: kind, File: name, SHA256: sum})
		f, err = r.decoder.CSV(rd2)
	}
	switch {
	case err != nil:
	case kind == KindHouseholds || linkStream:
	case kind == KindBranches:
		var p parsed[Branch]
		if p, err = parseBranches(f); err == nil {
			for i := range p.good {
				p.good[i].v.BudgetYear = r.budgetYear
			}
			err = importRecords(ctx, &rep, p, strict, r.store.UpsertBranches)
		}
	case kind == KindSuppliers:
		var p parsed[Supplier]
		if p, err = parseSuppliers(f); err == nil {
			err = importRecords(ctx, &rep, p, strict, r.store.UpsertSuppliers)
		}
	case kind == KindProducts:
		var p parsed[Product]
		if p, err = parseProducts(f, r.malls); err == nil {
			var known map[string]bool
			if known, err = r.checkSuppliersOf(ctx, distinct(p, productSupplier)); err == nil {
				reject(&p, reference[Product]{"supplier_code", productSupplier, known, errUnknownSupplier})
				err = importRecords(ctx, &rep, p, strict, r.store.UpsertProducts)
			}
		}
	case kind == KindLinkages:
		var p parsed[Linkage]
		if p, err = parseLinkages(f); err == nil {
			err = r.importLinkages(ctx, &rep, p, strict)
		}
	}
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) && pe.File == "" {
			pe.File = name
		}
		return Report{Kind: kind, File: name, Errors: []RowError{}}, err
	}
	if rep.Loaded == 0 && r.auditor != nil {
		// Nothing stored, so no store transaction recorded it: a refusal is audited too.
		info := ImportInfo{Kind: kind, File: name, SHA256: sum, Rows: rep.Rows, Rejected: rejectedRows(rep.Errors), Refused: rep.Refused}
		e, err := info.Entry(audit.ActorFrom(ctx), rep.Counts)
		if err == nil {
			err = r.auditor.Audit(ctx, e)
		}
		if err != nil {
			return rep, fmt.Errorf("audit import of %s: %w", name, err)
		}
	}
	return rep, nil
}

// importRecords fills the report from p and, unless refused, stores p's good records.
func importRecords[T any](ctx context.Context, rep *Report, p parsed[T], strict bool, upsert func(context.Context, []T) (Counts, error)) error {
	rep.Rows, rep.Errors, rep.Warnings = p.rows, p.errs, p.warns
	if info, ok := ImportFrom(ctx); ok {
		info.Rows, info.Rejected = p.rows, rejectedRows(p.errs)
		ctx = withImport(ctx, info)
	}
	if rep.Errors == nil {
		rep.Errors = []RowError{}
	}
	if rep.Warnings == nil {
		rep.Warnings = []RowError{}
	}
	if strict && len(p.errs) > 0 {
		rep.Refused = true
		return nil
	}
	if len(p.good) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := upsert(ctx, values(p.good))
	if err != nil {
		return fmt.Errorf("store %s: %w", rep.Kind, err)
	}
	rep.Loaded, rep.Counts = len(p.good), c
	return nil
}

const (
	errUnknownSupplier  = "unknown supplier: not in the registry (import suppliers.csv first)"
	errUnknownHousehold = "household not registered: missing from the registry or its row was invalid"
)

func productSupplier(p Product) string { return p.SupplierCode }
func linkSupplier(l Linkage) string    { return l.SupplierCode }
func linkHousehold(l Linkage) string   { return string(l.HouseholdNo) }

func (r *Registry) importLinkages(ctx context.Context, rep *Report, p parsed[Linkage], strict bool) error {
	suppliers, err := r.checkSuppliersOf(ctx, distinct(p, linkSupplier))
	if err != nil {
		return err
	}
	households, err := r.checkHouseholdsOf(ctx, distinct(p, linkHousehold))
	if err != nil {
		return err
	}
	reject(&p,
		reference[Linkage]{"supplier_code", linkSupplier, suppliers, errUnknownSupplier},
		reference[Linkage]{"household_no", linkHousehold, households, errUnknownHousehold})
	// A file is each supplier's whole set only when every row of it could be read: a bad
	// row must not remove the linkage it was meant to restate.
	prune := len(p.errs) == 0
	if !prune && !strict {
		rep.Note = "the file has bad rows, so no linkage was removed: fix them and import again to replace the suppliers' sets"
	}
	return importRecords(ctx, rep, p, strict, func(ctx context.Context, ls []Linkage) (Counts, error) {
		return r.store.UpsertLinkages(ctx, ls, prune)
	})
}

// checkSuppliersOf asks the store which of codes are known suppliers.
func (r *Registry) checkSuppliersOf(ctx context.Context, codes []string) (map[string]bool, error) {
	if len(codes) == 0 {
		return map[string]bool{}, nil
	}
	ok, err := r.store.SuppliersExist(ctx, codes)
	if err != nil {
		return nil, fmt.Errorf("look up suppliers: %w", err)
	}
	return ok, nil
}

// checkHouseholdsOf asks the store which of nos are registered households.
func (r *Registry) checkHouseholdsOf(ctx context.Context, nos []string) (map[string]bool, error) {
	if len(nos) == 0 {
		return map[string]bool{}, nil
	}
	asked := make([]HouseholdNo, len(nos))
	for i, no := range nos {
		asked[i] = HouseholdNo(no)
	}
	known, err := r.store.HouseholdsExist(ctx, asked)
	if err != nil {
		return nil, fmt.Errorf("look up households: %w", err)
	}
	ok := make(map[string]bool, len(known))
	for no, v := range known {
		ok[string(no)] = v
	}
	return ok, nil
}

// distinct returns the distinct non-empty keys of p's good records, sorted.
func distinct[T any](p parsed[T], key func(T) string) []string {
	set := map[string]bool{}
	for _, g := range p.good {
		if k := key(g.v); k != "" {
			set[k] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// reference is a column of a record that must name something the store knows.
type reference[T any] struct {
	column string
	key    func(T) string
	known  map[string]bool
	reason string
}

// reject moves the good records of p that name something unknown to the row errors, one
// RowError per unknown reference.
func reject[T any](p *parsed[T], refs ...reference[T]) {
	kept := p.good[:0]
	for _, g := range p.good {
		bad := false
		for _, ref := range refs {
			if k := ref.key(g.v); !ref.known[k] {
				p.errs = append(p.errs, RowError{Row: g.row, Column: p.column(ref.column), Value: k, Reason: ref.reason})
				bad = true
			}
		}
		if !bad {
			kept = append(kept, g)
		}
	}
	p.good = kept
	sortRowErrors(p.errs)
}

// bundleFiles are the files of a bundle in dependency order; for households the XLSX
// export is preferred to the CSV one.
var bundleFiles = []struct {
	kind  Kind
	names []string
}{
	{KindBranches, []string{"branches.csv"}},
	{KindSuppliers, []string{"suppliers.csv"}},
	{KindProducts, []string{"products.csv"}},
	{KindHouseholds, []string{"households.xlsx", "households.csv"}},
	{KindLinkages, []string{"linkages.csv"}},
}

// ErrEmptyBundle is returned by ImportBundle for a folder holding none of the registry
// files.
var ErrEmptyBundle = errors.New("no registry file in the bundle (want branches.csv, suppliers.csv, products.csv, households.xlsx or households.csv, linkages.csv)")

// ImportBundle imports the registry files of a bundle folder (data/README.md) in
// dependency order: branches.csv, suppliers.csv, products.csv, households (households.xlsx
// if present, else households.csv), linkages.csv. A missing file is skipped. It returns
// one Report per file imported. It stops at the first error (returned wrapped with the
// file name, the reports so far kept) and, in strict mode, after the first refused file,
// since the files after it depend on it. ErrEmptyBundle when no file is there.
func (r *Registry) ImportBundle(ctx context.Context, fsys fs.FS, strict bool) ([]Report, error) {
	var reports []Report
	for _, step := range bundleFiles {
		name := ""
		for _, n := range step.names {
			if _, err := fs.Stat(fsys, n); err == nil {
				name = n
				break
			} else if !errors.Is(err, fs.ErrNotExist) {
				return reports, fmt.Errorf("%s: %w", n, err)
			}
		}
		if name == "" {
			continue
		}
		rep, err := r.importFile(ctx, fsys, step.kind, name, strict)
		if err != nil {
			return reports, fmt.Errorf("import %s: %w", step.kind, err)
		}
		reports = append(reports, rep)
		if rep.Refused {
			break
		}
	}
	if len(reports) == 0 {
		return nil, ErrEmptyBundle
	}
	return reports, nil
}

func (r *Registry) importFile(ctx context.Context, fsys fs.FS, kind Kind, name string, strict bool) (Report, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return Report{Kind: kind, File: name}, err
	}
	defer f.Close()
	return r.Import(ctx, kind, name, f, strict)
}
