package households

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"

	"aidmall/audit"
)

// ImportInfo is what the audit log records of one registry file imported: which file
// (name and SHA-256 of its bytes), its rows and the rows rejected. The Registry puts it
// in the context of its store call; the store appends the import's audit entry
// (ImportInfo.Entry) in the transaction that stores the file's records.
type ImportInfo struct {
	Kind     Kind   `json:"kind"`
	File     string `json:"file"`
	SHA256   string `json:"sha256"`
	Rows     int    `json:"rows"`
	Rejected int    `json:"rejected"` // rows with at least one row error
	Refused  bool   `json:"refused,omitempty"`
}

type importKey struct{}

func withImport(ctx context.Context, info ImportInfo) context.Context {
	return context.WithValue(ctx, importKey{}, info)
}

// ImportFrom returns the import ctx is storing, if any (for the store's audit entry).
func ImportFrom(ctx context.Context) (ImportInfo, bool) {
	i, ok := ctx.Value(importKey{}).(ImportInfo)
	return i, ok
}

// Entry is the audit entry of the import by actor that stored c (object
// "file:<kind>/<name>"; after: the file's hash, rows and counts).
func (i ImportInfo) Entry(actor audit.Actor, c Counts) (audit.Entry, error) {
	return audit.New(actor, audit.ActionImport, "file:"+string(i.Kind)+"/"+i.File, nil, struct {
		ImportInfo
		Inserted  int `json:"inserted"`
		Updated   int `json:"updated"`
		Unchanged int `json:"unchanged"`
		Removed   int `json:"removed"`
	}{i, c.Inserted, c.Updated, c.Unchanged, c.Removed})
}

// Auditor appends an audit entry in a transaction of its own (sqlstore.Store.Audit).
type Auditor interface {
	Audit(ctx context.Context, e audit.Entry) error
}

// WithAuditor records imports that store nothing (refused, or no good row) through a;
// imports that store records are recorded by the store in their own transaction.
func WithAuditor(a Auditor) RegistryOption { return func(r *Registry) { r.auditor = a } }

// hashed reads rd whole and returns it again with the hex SHA-256 of its bytes.
func hashed(rd io.Reader) (io.Reader, string, error) {
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(b)
	return bytes.NewReader(b), hex.EncodeToString(sum[:]), nil
}

// rejectedRows counts the distinct rows of errs.
func rejectedRows(errs []RowError) int {
	seen := map[int]bool{}
	for _, e := range errs {
		seen[e.Row] = true
	}
	return len(seen)
}
