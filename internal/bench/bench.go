// Package bench measures the service under load for `aidmall bench`: a closed-loop driver
// (a fixed number of clients, each sending its next request when the last one is
// answered), a paced driver (requests started at a fixed rate, whatever the answers take),
// and the figures they give, each printed beside the raw baseline measured in the same
// run and the ratio of the two. Every run is bounded in time and in count.
//
// The machine is usually shared: a figure alone says little, the ratio to a baseline
// measured a minute apart says more, and the load average printed with them says how far
// to trust both.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Result is what one driver run measured.
type Result struct {
	N       int             // operations completed
	Elapsed time.Duration   // from the first start to the last answer
	Lat     []time.Duration // each completed operation's latency
}

// Rate is operations per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.N) / r.Elapsed.Seconds()
}

// Percentile returns the q-quantile (0 < q ≤ 1) of the latencies, 0 without any.
func (r Result) Percentile(q float64) time.Duration {
	if len(r.Lat) == 0 {
		return 0
	}
	s := slices.Clone(r.Lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// Merge adds o's operations to r's: two runs of the same thing taken in turns.
func (r Result) Merge(o Result) Result {
	return Result{N: r.N + o.N, Elapsed: r.Elapsed + o.Elapsed, Lat: append(slices.Clip(r.Lat), o.Lat...)}
}

// Alternate runs a and b in turns, rounds times each for d/rounds a turn, and returns the
// merged results of each: on a shared machine both then meet the same load, and their
// ratio means more than either figure.
func Alternate(ctx context.Context, rounds int, d time.Duration, a, b func(ctx context.Context, d time.Duration) (Result, error)) (Result, Result, error) {
	rs, err := AlternateAll(ctx, rounds, d, a, b)
	return rs[0], rs[1], err
}

// AlternateAll is Alternate of any number of runs, each taking its turn of d/rounds in
// every round; it returns their merged results in the order given.
func AlternateAll(ctx context.Context, rounds int, d time.Duration, runs ...func(ctx context.Context, d time.Duration) (Result, error)) ([]Result, error) {
	rs := make([]Result, len(runs))
	turn := d / time.Duration(max(rounds, 1))
	for range max(rounds, 1) {
		for i, run := range runs {
			x, err := run(ctx, turn)
			if err != nil {
				return rs, err
			}
			rs[i] = rs[i].Merge(x)
		}
	}
	return rs, nil
}

// ErrDone, returned by an operation, ends its client's part of a run quietly (it has no
// more work prepared); the operation is not counted.
var ErrDone = errors.New("bench: no more work")

// Op is one operation; i counts from 0 across all clients of a run.
type Op func(ctx context.Context, i int) error

// Closed runs op from clients goroutines, each starting its next operation when its last
// one ends, until d has passed or max operations have started. The first error stops the
// run and is returned.
func Closed(ctx context.Context, clients int, d time.Duration, max int, op Op) (Result, error) {
	if clients < 1 || max < 1 {
		return Result{}, errors.New("bench: at least one client and one operation")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() { mu.Lock(); lat = append(lat, mine...); mu.Unlock() }()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				if i >= max {
					return
				}
				t := time.Now()
				if err := op(ctx, i); errors.Is(err, ErrDone) {
					return
				} else if err != nil {
					mu.Lock()
					if firstErr == nil && ctx.Err() == nil {
						firstErr = fmt.Errorf("operation %d: %w", i, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				mine = append(mine, time.Since(t))
			}
		}()
	}
	wg.Wait()
	return Result{N: len(lat), Elapsed: time.Since(start), Lat: lat}, firstErr
}

// Paced starts op at rate per second (an open loop: a slow answer does not delay the
// next start) until d has passed or max operations have started, with at most inFlight
// running at once (a start that finds them all busy waits, and its latency counts from
// when it was due). The first error stops the run and is returned.
func Paced(ctx context.Context, rate float64, d time.Duration, max, inFlight int, op Op) (Result, error) {
	if rate <= 0 || max < 1 || inFlight < 1 {
		return Result{}, errors.New("bench: a positive rate, at least one operation and one in flight")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	slots := make(chan struct{}, inFlight)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < max; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.Sub(start) >= d {
			break
		}
		if w := time.Until(due); w > 0 {
			select {
			case <-time.After(w):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			defer func() { <-slots }()
			err := op(ctx, i)
			mu.Lock()
			defer mu.Unlock()
			if errors.Is(err, ErrDone) { // no more work prepared: the run ends, quietly
				cancel()
				return
			}
			if err != nil {
				if firstErr == nil && ctx.Err() == nil {
					firstErr = fmt.Errorf("operation %d: %w", i, err)
				}
				cancel()
				return
			}
			lat = append(lat, time.Since(due))
		}(i, due)
	}
	wg.Wait()
	return Result{N: len(lat), Elapsed: time.Since(start), Lat: lat}, firstErr
}

// Figure is one measured value beside its raw baseline, measured in the same run.
type Figure struct {
	Part     string  // intake, ingest, verify, reports
	Name     string  // what was measured
	Value    float64 // the service's figure
	Baseline float64 // the raw path's figure; 0 for a figure without one (latency)
	Unit     string
	BaseName string // what the baseline is
	Load     float64
	// Time: Value and Baseline are times (a latency), lower is faster; else rates.
	Time bool
}

// Ratio is the service's speed over the baseline's, 0 without a baseline: Value / Baseline
// for rates, Baseline / Value for times. Above 1 the service is faster than its baseline.
func (f Figure) Ratio() float64 {
	if f.Baseline == 0 || f.Value == 0 {
		return 0
	}
	if f.Time {
		return f.Baseline / f.Value
	}
	return f.Value / f.Baseline
}

// Print writes figures as a table: part, figure, value, baseline, ratio, load average. A
// baseline's description longer than printWidth is cut short (the run's own lines give it
// whole), so that the table stays readable in a terminal. Under the table, what the ratio
// means.
func Print(w io.Writer, figures []Figure) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "part\tfigure\tvalue\tbaseline\tratio\tload\t")
	for _, f := range figures {
		base, ratio := "-", "-"
		if f.Baseline != 0 {
			base = fmt.Sprintf("%s %s (%s)", num(f.Baseline), f.Unit, shorten(f.BaseName, printWidth))
			ratio = fmt.Sprintf("%.2f", f.Ratio())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%.2f\t\n", f.Part, f.Name, num(f.Value), f.Unit, base, ratio, f.Load)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "ratio: the service's speed over its baseline's (rates: value ÷ baseline; times: baseline ÷ value); above 1 the service is faster")
	return err
}

// printWidth bounds a baseline's description in Print's table.
const printWidth = 60

// shorten cuts s to at most n characters, ending in "…" where it was cut.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// LoadAverage is the 1-minute load average (/proc/loadavg), 0 where unknown.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	if _, err := fmt.Sscan(strings.Fields(string(b) + " 0")[0], &l); err != nil {
		return 0
	}
	return l
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
