// Package audit is the audit log's domain: the entry, its canonical encoding, the hash
// chain and its verification. It holds no SQL: adapters/sqlstore stores the entries
// (appending each in the transaction of the change it records) and feeds them back to a
// Verifier.
//
// The chain: entry n carries PrevHash = Hash of entry n-1 ("" for entry 1) and Hash =
// SHA-256 (hex) of its canonical encoding, which covers every field but Hash itself. A
// row edited, deleted or moved breaks the chain at the first entry whose recomputed
// hash, sequence number or previous hash disagrees; the store's head (the last sequence
// number and hash, updated with every append) catches a deleted tail.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Actions recorded. Other slices add theirs here (one constant each).
const (
	ActionOrderPlace      = "order.place"           // an order placed (POST /v1/orders)
	ActionOrderCancel     = "order.cancel"          // a cancel asked for
	ActionOrderHistory    = "order.load_history"    // an order already at its mall loaded (import orders)
	ActionImport          = "registry.import"       // a registry file imported (object "file:<kind>/<name>")
	ActionKeyCreate       = "key.create"            // an API key made (users add)
	ActionKeyRevoke       = "key.revoke"            // an API key revoked
	ActionKeyRotate       = "key.rotate"            // an API key given a new secret (users rotate)
	ActionBudgetSet       = "budget.set"            // a branch's budget for a year set
	ActionTargetSet       = "target.set"            // the group's yearly targets set
	ActionPeriodClose     = "period.close"          // a month or year closed (ATTRIBUTION.md §5)
	ActionPeriodReopen    = "period.reopen"         // the latest closed period reopened
	ActionReviewResolve   = "review.resolve"        // a review item dismissed or re-read
	ActionStatementImport = "statement.import"      // a mall statement file applied
	ActionPersonCreate    = "person.create"         // a person's account made (people add, /office/people)
	ActionPersonReset     = "person.reset"          // a person's password reset (never the password)
	ActionPersonDisable   = "person.disable"        // an account disabled: its sessions end
	ActionPersonEnable    = "person.enable"         // a disabled account enabled again
	ActionSignIn          = "person.signin"         // a sign-in to the pages
	ActionSignInRefused   = "person.signin_refused" // a refused sign-in (the login tried, never the password)
)

// Actions on an order's dispatch (giving up visibly, retry by hand, failover for auto).
const (
	ActionOrderDispatchFailed = "order.dispatch_failed" // an order's dispatch gave up (the dispatch job, actor "system")
	ActionOrderRetryDispatch  = "order.retry_dispatch"  // an order whose dispatch gave up sent again by hand
	ActionOrderFailover       = "order.failover"        // an auto order moved to another mall (the dispatch job)
)

// TimeLayout is how an entry's time is written in the canonical encoding and stored: UTC,
// microseconds, fixed width (so stored text sorts as time and every database keeps it exactly).
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// Actor is who made a change: an API key ("key:<id>:<name>") or an operator at the CLI
// ("cli:<os user>"), with the role it acted in.
type Actor struct {
	Name string `json:"actor"`
	Role string `json:"role"`
}

// System is the actor of changes made by the service itself (jobs, and stores called
// without an actor in their context).
var System = Actor{Name: "system", Role: "system"}

type actorKey struct{}

// WithActor returns ctx carrying a: stores that change state outside a domain use case
// (API keys, registry imports, review decisions) record it as the actor.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries, System when none.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok && a.Name != "" {
		return a
	}
	return System
}

// Entry is one audit log entry. The caller of an append sets Actor, Action, Object,
// Before and After (JSON, personal fields already masked; nil for none); the store sets
// Seq, At, PrevHash and Hash.
type Entry struct {
	Seq      int64           `json:"seq"`
	At       time.Time       `json:"at"`
	Actor    Actor           `json:"-"`
	Action   string          `json:"action"`
	Object   string          `json:"object"`
	Before   json.RawMessage `json:"before,omitempty"`
	After    json.RawMessage `json:"after,omitempty"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// MarshalJSON writes the entry with its actor and role flat.
func (e Entry) MarshalJSON() ([]byte, error) {
	type plain Entry
	return json.Marshal(struct {
		plain
		Actor string `json:"actor"`
		Role  string `json:"role"`
		At    string `json:"at"`
	}{plain(e), e.Actor.Name, e.Actor.Role, e.At.UTC().Format(TimeLayout)})
}

// New returns an entry of actor doing action on object, before and after marshalled to
// JSON (nil stays absent). Values must already be masked: no name, ID number or phone in
// clear.
func New(actor Actor, action, object string, before, after any) (Entry, error) {
	e := Entry{Actor: actor, Action: action, Object: object}
	var err error
	if e.Before, err = raw(before); err != nil {
		return Entry{}, fmt.Errorf("audit %s %s: before: %w", action, object, err)
	}
	if e.After, err = raw(after); err != nil {
		return Entry{}, fmt.Errorf("audit %s %s: after: %w", action, object, err)
	}
	return e, nil
}

func raw(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	if r, ok := v.(json.RawMessage); ok {
		return r, nil
	}
	return json.Marshal(v)
}

// Seal fills e as the entry after prev (seq 0 and hash "" for the first): its sequence
// number, its time (at, truncated to microseconds, UTC), the previous hash and its own.
func Seal(e Entry, prevSeq int64, prevHash string, at time.Time) Entry {
	e.Seq = prevSeq + 1
	e.At = at.UTC().Truncate(time.Microsecond)
	e.PrevHash = prevHash
	e.Hash = HashOf(e)
	return e
}

// Canonical is e's canonical encoding, what its hash is taken over: a version line, then
// every field but Hash as "<name>=<length>:<bytes>\n" in a fixed order, so that no field's
// content can be mistaken for another's.
func Canonical(e Entry) []byte {
	var b strings.Builder
	b.WriteString(CanonicalVersion)
	writeField(&b, "seq", strconv.FormatInt(e.Seq, 10))
	b.Write(CanonicalMiddle(e))
	writeField(&b, "prev", e.PrevHash)
	return []byte(b.String())
}

// CanonicalVersion is the first line of every canonical encoding.
const CanonicalVersion = "aidmall/audit/v1\n"

// CanonicalMiddle is the part of Canonical(e) that does not depend on the entry before
// it: every field after seq and before prev. A store that seals an entry in SQL, where
// the head is locked, joins CanonicalVersion, the "seq" field, this and the "prev" field
// (each field "<name>=<length in bytes>:<bytes>\n").
func CanonicalMiddle(e Entry) []byte {
	var b strings.Builder
	writeField(&b, "at", e.At.UTC().Format(TimeLayout))
	writeField(&b, "actor", e.Actor.Name)
	writeField(&b, "role", e.Actor.Role)
	writeField(&b, "action", e.Action)
	writeField(&b, "object", e.Object)
	writeField(&b, "before", string(e.Before))
	writeField(&b, "after", string(e.After))
	return []byte(b.String())
}

func writeField(b *strings.Builder, name, v string) {
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(strconv.Itoa(len(v)))
	b.WriteByte(':')
	b.WriteString(v)
	b.WriteByte('\n')
}

// HashOf is the SHA-256 (hex) of e's canonical encoding.
func HashOf(e Entry) string {
	h := sha256.Sum256(Canonical(e))
	return hex.EncodeToString(h[:])
}

// Break is where the chain is broken: the first entry (by sequence number) that does not
// follow from the one before, and why. Seq is the head's next number when the log ends
// early (entries deleted at its end).
type Break struct {
	Seq    int64
	Reason string
}

func (b *Break) Error() string {
	return fmt.Sprintf("audit log broken at entry %d: %s", b.Seq, b.Reason)
}

// Verifier checks entries given in the stored order (ascending Seq), one at a time.
type Verifier struct {
	seq  int64
	hash string
	n    int64
}

// Next checks e against the entries before it; a *Break at the first that fails.
func (v *Verifier) Next(e Entry) error {
	switch {
	case e.Seq != v.seq+1:
		if e.Seq > v.seq+1 {
			return &Break{Seq: v.seq + 1, Reason: fmt.Sprintf("entry missing (next stored entry is %d)", e.Seq)}
		}
		return &Break{Seq: e.Seq, Reason: fmt.Sprintf("out of order after entry %d", v.seq)}
	case e.PrevHash != v.hash:
		return &Break{Seq: e.Seq, Reason: "previous hash does not match the entry before (an entry was removed, replaced or moved)"}
	case HashOf(e) != e.Hash:
		return &Break{Seq: e.Seq, Reason: "content does not match its hash (the entry was edited)"}
	}
	v.seq, v.hash = e.Seq, e.Hash
	v.n++
	return nil
}

// End checks that the last entry seen is the head the store recorded (its sequence number
// and hash); a *Break when entries were deleted at the end or the head disagrees.
func (v *Verifier) End(headSeq int64, headHash string) error {
	switch {
	case headSeq > v.seq:
		return &Break{Seq: v.seq + 1, Reason: fmt.Sprintf("log ends at entry %d but the head records %d (entries deleted at the end)", v.seq, headSeq)}
	case headSeq < v.seq:
		return &Break{Seq: headSeq + 1, Reason: fmt.Sprintf("entries after the head's %d", headSeq)}
	case headHash != v.hash:
		return &Break{Seq: v.seq, Reason: "last entry's hash differs from the head's"}
	}
	return nil
}

// Checked is how many entries Next accepted.
func (v *Verifier) Checked() int64 { return v.n }

// Filter selects entries for listing. Zero fields do not filter.
type Filter struct {
	From, To time.Time // At in [From, To)
	Action   string    // exact, or a prefix ending in "." ("order.")
	Object   string    // exact
	After    int64     // entries with Seq > After (the cursor)
	Limit    int       // 1–500; default 100
}

// Limit bounds a page: 100 by default, at most 500.
func Limit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 500:
		return 500
	}
	return n
}
