package orders

import (
	"fmt"
	"time"
)

// PlacedAtWindow bounds a back-dated placed_at (aid_office's order history through the
// API): not before Earliest, nor more than Ahead after the service's clock. A date outside
// it is a typo (1990, 2091) that would put an order into a closed year or a year not begun.
type PlacedAtWindow struct {
	Earliest time.Time
	Ahead    time.Duration
}

// DefaultPlacedAtWindow is the window when none is configured: from 2015-01-01 00:00
// Beijing time (before consumption aid began) to one day ahead (clocks and time zones of
// a client that is wrong by hours).
var DefaultPlacedAtWindow = PlacedAtWindow{
	Earliest: time.Date(2015, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600)),
	Ahead:    24 * time.Hour,
}

// WithPlacedAtWindow sets the window a placed_at must fall in (config's placed_at
// settings); the zero window keeps DefaultPlacedAtWindow.
func WithPlacedAtWindow(w PlacedAtWindow) Option {
	return func(s *Service) {
		if !w.Earliest.IsZero() {
			s.placedAt = w
		}
	}
}

// problem says why t is outside the window at now, or "".
func (w PlacedAtWindow) problem(t, now time.Time) string {
	const layout = "2006-01-02T15:04:05-07:00"
	bj := time.FixedZone("CST", 8*3600)
	switch {
	case t.Before(w.Earliest):
		return fmt.Sprintf("is before %s, the earliest placed_at taken", w.Earliest.In(bj).Format(layout))
	case t.After(now.Add(w.Ahead)):
		return fmt.Sprintf("lies in the future: at most %s ahead of now (%s)", w.Ahead, now.In(bj).Format(layout))
	}
	return ""
}
