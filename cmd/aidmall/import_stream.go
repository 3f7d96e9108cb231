package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/schollz/progressbar/v3"

	"aidmall/adapters/abc"
	"aidmall/adapters/ccb"
	"aidmall/households"
	"aidmall/imports"
	"aidmall/malls"
	"aidmall/orders"
)

// statementScanner reads mall m's statement files for aidmall import statement: CCB's
// and ABC's as streams of any size (ScanStatement), another mall's through its driver's
// ParseStatement (the file held whole).
func statementScanner(m orders.Mall, d malls.Driver) imports.StatementScanner {
	switch m {
	case ccb.Code:
		return func(r io.Reader, each func(orders.FulfilmentEvent) error, bad func(error)) error {
			return ccb.ScanStatement(r, each, func(e malls.RowError) { bad(e) })
		}
	case abc.Code:
		return func(r io.Reader, each func(orders.FulfilmentEvent) error, bad func(error)) error {
			return abc.ScanStatement(r, each, func(e malls.RowError) { bad(e) })
		}
	}
	return imports.StatementParser(d.ParseStatement).Scanner()
}

// importBar is the progress bar of an import on stderr, with the rows read and rows/s:
// shown on a terminal or with --progress, nil (nothing shown) otherwise.
type importBar struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	start time.Time
	what  string
}

func newImportBar(g *globals, force bool, path, what string) *importBar {
	if !force && !isTerminal(g.stderr) {
		return nil
	}
	size := int64(-1)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	// Drawn blank at once: that starts its clock, and the first reading with a rate comes a
	// throttle later. Drawn first at the first read, its byte rate was that read's bytes
	// over microseconds ("16 GB/s").
	bar := progressbar.NewOptions64(size, progressbar.OptionSetWriter(g.stderr), progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30), progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionSetDescription(what),
		progressbar.OptionSetRenderBlankState(true))
	return &importBar{bar: bar, w: g.stderr, start: time.Now(), what: what}
}

// reader counts what is read of the file on the bar.
func (b *importBar) reader(r io.Reader) io.Reader {
	if b == nil {
		return r
	}
	pr := progressbar.NewReader(r, b.bar)
	return &pr
}

// rows shows the rows read so far and their rate.
func (b *importBar) rows(n int) {
	if b == nil {
		return
	}
	b.bar.Describe(fmt.Sprintf("%s: %d rows, %.0f rows/s", b.what, n, float64(n)/max(time.Since(b.start).Seconds(), 1e-3)))
}

// finish draws the bar full and ends its line, so that what is printed next starts on a
// line of its own (the bar may have reached 100 % of the file's bytes before the last rows
// were written: the line is ended here, once, not then).
func (b *importBar) finish() {
	if b != nil {
		_ = b.bar.Finish()
		fmt.Fprintln(b.w)
	}
}

// counting is scan showing the events read on the bar.
func (b *importBar) counting(scan imports.StatementScanner) imports.StatementScanner {
	if b == nil {
		return scan
	}
	return func(r io.Reader, each func(orders.FulfilmentEvent) error, bad func(error)) error {
		n := 0
		err := scan(r, func(e orders.FulfilmentEvent) error {
			if n++; n%100 == 0 { // a small statement shows its count too (the bar throttles drawing)
				b.rows(n)
			}
			return each(e)
		}, bad)
		b.rows(n) // the last count, not the last hundred
		return err
	}
}

// limitImportMemory sets the Go heap limit of a household import (households.ImportHeapLimit)
// as the process's soft memory limit, unless GOMEMLIMIT sets one.
func limitImportMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(households.ImportHeapLimit)
	}
}

// startCPUProfile starts a CPU profile written to path (none when path is empty); stop
// ends it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(filepath.Clean(path))
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close() // the profile's own error is the one to report
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "aidmall: --cpuprofile: %v\n", err)
		}
	}, nil
}
