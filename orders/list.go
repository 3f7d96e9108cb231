package orders

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// The size of a page of orders (ListFilter.Limit): DefaultListLimit when none is asked
// for, never more than MaxListLimit.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// ListLimit returns the page size for the limit asked: DefaultListLimit for 0 or less,
// MaxListLimit for more than that, else the limit asked.
func ListLimit(asked int) int {
	switch {
	case asked <= 0:
		return DefaultListLimit
	case asked > MaxListLimit:
		return MaxListLimit
	}
	return asked
}

// ListCursor is a position in the list of orders, newest placed first: the page after it
// starts with the order placed before PlacedAt, or at PlacedAt with a lower ID (keyset
// pagination). Its text (String, ListFilter.Cursor) is opaque to clients.
type ListCursor struct {
	PlacedAt time.Time
	ID       int64
}

// maxCursorLen bounds the text of a cursor: base64 of two int64 and a dot is 56 at most.
const maxCursorLen = 64

// CursorAfter is the cursor after order o.
func CursorAfter(o GroupOrder) ListCursor { return ListCursor{PlacedAt: o.PlacedAt, ID: o.ID} }

// String is the cursor's text: unpadded base64url of "<unix nanoseconds>.<id>".
func (c ListCursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.PlacedAt.UnixNano(), 10) + "." + strconv.FormatInt(c.ID, 10)))
}

// ParseListCursor reads a cursor's text as String writes it. Anything else is an *Error
// of kind ErrInvalid ("not a next_cursor this service gave"): a cursor is never guessed.
func ParseListCursor(s string) (ListCursor, error) {
	bad := Errorf(ErrInvalid, "not a next_cursor of a previous page")
	if s == "" || len(s) > maxCursorLen {
		return ListCursor{}, bad
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return ListCursor{}, bad
	}
	ts, idText, ok := strings.Cut(string(b), ".")
	n, err1 := strconv.ParseInt(ts, 10, 64)
	id, err2 := strconv.ParseInt(idText, 10, 64)
	if !ok || err1 != nil || err2 != nil || id <= 0 || strconv.FormatInt(n, 10) != ts || strconv.FormatInt(id, 10) != idText {
		return ListCursor{}, bad
	}
	c := ListCursor{PlacedAt: time.Unix(0, n).UTC(), ID: id}
	if c.String() != s { // one text per cursor
		return ListCursor{}, bad
	}
	return c, nil
}
