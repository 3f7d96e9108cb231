package orders

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
