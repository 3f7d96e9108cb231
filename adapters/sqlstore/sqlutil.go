package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func join(cols []string) string { return strings.Join(cols, ", ") }

func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// sameValues compares stored column values with the ones to write, as text, so that
// driver representations (int64 vs []byte vs string) do not matter.
func sameValues(old []any, vals []any) bool {
	if len(old) != len(vals) {
		return false
	}
	for i := range old {
		if text(old[i]) != text(vals[i]) {
			return false
		}
	}
	return true
}

func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(x)
	default:
		return fmt.Sprint(x)
	}
}
