package bench

import "testing"

// A ratio reads the same way for rates and times: above 1 the service is faster than its
// baseline.
func TestFigureRatio(t *testing.T) {
	for _, c := range []struct {
		name string
		f    Figure
		want float64
	}{
		{"rate slower than the baseline", Figure{Value: 50, Baseline: 100}, 0.5},
		{"rate faster", Figure{Value: 300, Baseline: 100}, 3},
		{"time faster than the baseline", Figure{Value: 2, Baseline: 100, Time: true}, 50},
		{"time slower", Figure{Value: 40, Baseline: 10, Time: true}, 0.25},
		{"no baseline", Figure{Value: 40}, 0},
		{"no time measured", Figure{Baseline: 10, Time: true}, 0},
	} {
		if got := c.f.Ratio(); got != c.want {
			t.Errorf("%s: ratio %v, want %v", c.name, got, c.want)
		}
	}
}
