package households

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes a human summary of the import: one line of totals, one line per row
// error ("row 7, 证件号码: check character is 5, want 7") and, when refused, a line saying
// nothing was stored. It returns the first write error.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	removed := ""
	if r.Counts.Removed > 0 {
		removed = fmt.Sprintf(", %d removed", r.Counts.Removed)
	}
	fmt.Fprintf(&b, "%s (%s): %d rows, %d loaded: %d inserted, %d updated, %d unchanged%s; %s\n",
		r.File, r.Kind, r.Rows, r.Loaded, r.Counts.Inserted, r.Counts.Updated, r.Counts.Unchanged, removed, rowErrors(len(r.Errors)))
	for _, e := range r.Errors {
		b.WriteString("  ")
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	if len(r.Warnings) > 0 {
		warnings := "warnings"
		if len(r.Warnings) == 1 {
			warnings = "warning"
		}
		fmt.Fprintf(&b, "  %d %s (rows loaded; check them):\n", len(r.Warnings), warnings)
		for _, e := range r.Warnings {
			fmt.Fprintf(&b, "  warning: %s\n", e)
		}
	}
	if r.Note != "" && !r.Refused {
		fmt.Fprintf(&b, "  note: %s\n", r.Note)
	}
	if r.Refused {
		fmt.Fprintf(&b, "  refused: strict import and %s, nothing stored\n", rowErrors(len(r.Errors)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// rowErrors counts n row errors: "1 row error", "3 row errors".
func rowErrors(n int) string {
	if n == 1 {
		return "1 row error"
	}
	return fmt.Sprintf("%d row errors", n)
}
