// Package gen writes scaled data bundles (aidmall gen): N copies of a base bundle (the
// shape of examples/yichuan-dingbian-2019, shared/data/README.md), each copy with its own
// branches, suppliers, products, households, linkages, orders and statement events, so
// that the figures of the scaled bundle are exactly N times the base's: a supplier keeps
// its number of households, an order its lines and events.
//
// Copy 0 is the base itself, byte for byte; copy k ≥ 1 renames everything it holds:
// codes, refs, SKUs, item ids and aid certificate numbers get "-K<k>", the malls' order
// numbers and event ids "K<k>" (letters and digits only, as the malls want them),
// household numbers (户编号, digits only) k as a fixed-width number, USCCs a new
// organisation code with its GB 32100 check character, and resident ID numbers a birth
// date a few years earlier (picked by the seed) with their GB 11643 check character,
// unique across every copy. A base row that is bad on purpose stays bad in every copy in
// the same way (a wrong check character stays wrong, a repeated 户编号 repeats).
//
// The output is streamed: the base (a few hundred KB) is held, each copy is written as it
// is made; only the set of resident ID numbers (8 bytes each) grows with N. The bundle is
// written into a folder beside the one asked for and renamed to it once complete: an
// interrupted run never leaves a partial bundle where an import would take it whole.
package gen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"aidmall/households"
)

// Files are the files a bundle generated holds, in the base's formats (households.xlsx
// is not written: the registry import reads households.csv when it is absent).
var Files = []string{"branches.csv", "suppliers.csv", "products.csv", "households.csv", "linkages.csv",
	"orders.csv", "order_lines.csv", "statement-ccb.csv", "statement-abc.jsonl"}

// gb18030Files are the files in GB18030 (the rest are UTF-8).
var gb18030Files = map[string]bool{"households.csv": true, "statement-ccb.csv": true}

// MaxScale is the most copies Write makes: ten times issue 10's largest scale (3.2 GB);
// more would fill a disk before it was of use.
const MaxScale = 10000

// Options says what to generate.
type Options struct {
	Ctx   context.Context // when set, Write stops (its error) once it is done; nil: never
	Scale int             // copies of the base, 1 to MaxScale
	Seed  uint64          // picks the copies' birth dates; the same seed gives the same bytes
	// Force lets Write replace a folder that is not empty; without it such a folder is
	// refused (ErrNotEmpty).
	Force bool
	// Progress, when set, is called after each copy of each file (file, copies done).
	Progress func(file string, done int)
}

// ErrNotEmpty is Write's refusal of an out folder that holds something, without Force.
var ErrNotEmpty = errors.New("the folder is not empty")

// ParseScale reads a scale as a person writes it (aidmall gen --scale): a whole number
// of copies from 1 to MaxScale; the error says what was given and what is wanted.
func ParseScale(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > MaxScale {
		return 0, fmt.Errorf("%q: want a whole number from 1 to %d (copies of the bundle)", s, MaxScale)
	}
	return n, nil
}

// Copies says n copies in words: "1 copy", "3 copies".
func Copies(n int) string {
	if n == 1 {
		return "1 copy"
	}
	return strconv.Itoa(n) + " copies"
}

// Write writes base scaled by opt.Scale into the folder out. The bundle is written into a
// new folder beside out and renamed to out only once every file is complete, so that out
// is never a partial bundle: if Write fails or is stopped (opt.Ctx), out is as it was
// (absent, or untouched) and the folder beside it is removed. An out that exists must be
// an empty folder, or opt.Force must be set: then it is replaced whole. Write fails when
// base lacks one of Files, and with ErrNotEmpty (wrapped, naming out) for a folder that
// holds something without opt.Force.
func Write(base fs.FS, out string, opt Options) (err error) {
	if opt.Scale < 1 || opt.Scale > MaxScale {
		return fmt.Errorf("gen: scale %d: want 1 to %d", opt.Scale, MaxScale)
	}
	if opt.Ctx == nil {
		opt.Ctx = context.Background()
	}
	if out, err = filepath.Abs(out); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	if err := checkOut(out, opt.Force); err != nil {
		return err
	}
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	// Owner only (MkdirTemp's 0700): a bundle holds households' names and ID numbers.
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".gen-")
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp) // what was written, never out
		}
	}()
	g := &generator{opt: opt, width: max(4, len(strconv.Itoa(opt.Scale-1))), usccs: map[string]bool{}, ids: map[uint64]bool{}}
	for _, name := range Files {
		if err := g.file(base, tmp, name); err != nil {
			return fmt.Errorf("gen: %s: %w", name, err)
		}
	}
	if err := opt.Ctx.Err(); err != nil {
		return fmt.Errorf("gen: stopped: %w", err)
	}
	return replace(tmp, out, opt.Force)
}

// checkOut refuses an out that is a file, or a folder holding something without force.
func checkOut(out string, force bool) error {
	fi, err := os.Stat(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("gen: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("gen: %s is a file, not a folder", out)
	case force:
		return nil
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("gen: %s: %w (it holds %s): give another folder, or --force to replace it", out, ErrNotEmpty, entries[0].Name())
	}
	return nil
}

// replace renames the complete bundle tmp to out. An existing out (empty, or any with
// force; checked again now) is first moved aside, and removed once tmp is in its place
// (put back if that fails).
func replace(tmp, out string, force bool) error {
	if err := checkOut(out, force); err != nil {
		return err
	}
	if _, err := os.Lstat(out); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(tmp, out); err != nil {
			return fmt.Errorf("gen: %w", err)
		}
		return nil
	}
	old := tmp + ".old"
	if err := os.Rename(out, old); err != nil {
		return fmt.Errorf("gen: move the old %s aside: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return errors.Join(fmt.Errorf("gen: %w", err), os.Rename(old, out))
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("gen: wrote %s, but could not remove the old folder (now %s): %w", out, old, err)
	}
	return nil
}

type generator struct {
	opt   Options
	width int             // digits of k in household numbers
	usccs map[string]bool // every USCC written
	ids   map[uint64]bool // the first 17 digits of every resident ID written
}

// baseFile is a base file read into lines (decoded to UTF-8), with its line end.
type baseFile struct {
	header string
	rows   []string
	eol    string
}

func readBase(base fs.FS, name string) (baseFile, error) {
	b, err := fs.ReadFile(base, name)
	if err != nil {
		return baseFile{}, err
	}
	if gb18030Files[name] {
		if b, err = simplifiedchinese.GB18030.NewDecoder().Bytes(b); err != nil {
			return baseFile{}, err
		}
	}
	eol := "\n"
	if bytes.Contains(b, []byte("\r\n")) {
		eol = "\r\n"
	}
	lines := strings.Split(strings.TrimSuffix(string(b), eol), eol)
	f := baseFile{eol: eol}
	if !strings.HasSuffix(name, ".jsonl") {
		f.header, lines = lines[0], lines[1:]
	}
	f.rows = lines
	return f, nil
}

// file writes the scaled name into dir (the bundle's folder while it is written).
func (g *generator) file(base fs.FS, dir, name string) error {
	bf, err := readBase(base, name)
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	defer f.Close() // closed below; again on an early return
	var w io.Writer = f
	var enc io.WriteCloser
	if gb18030Files[name] {
		enc = transform.NewWriter(f, simplifiedchinese.GB18030.NewEncoder())
		w = enc
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	if bf.header != "" {
		bw.WriteString(bf.header + bf.eol)
	}
	col := columns(bf.header)
	for k := 0; k < g.opt.Scale; k++ {
		if err := g.opt.Ctx.Err(); err != nil {
			return fmt.Errorf("stopped after %s: %w", Copies(k), err)
		}
		c := g.copyOf(k)
		for _, row := range bf.rows {
			line, err := c.row(name, col, row)
			if err != nil {
				return err
			}
			bw.WriteString(line)
			bw.WriteString(bf.eol)
		}
		if g.opt.Progress != nil {
			g.opt.Progress(name, k+1)
		}
	}
	err = bw.Flush()
	if enc != nil {
		err = errors.Join(err, enc.Close())
	}
	return errors.Join(err, f.Close())
}

// columns maps a CSV header's names to their index.
func columns(header string) map[string]int {
	m := map[string]int{}
	for i, h := range strings.Split(header, ",") {
		m[h] = i
	}
	return m
}

// copyOf is copy k: its renaming rules.
type copyOf struct {
	g      *generator
	k      int
	shift  int               // days a person's birth date moves back
	people map[string]string // base resident ID → this copy's
}

func (g *generator) copyOf(k int) *copyOf {
	c := &copyOf{g: g, k: k, people: map[string]string{}}
	if k > 0 {
		// Up to ten years back, by the seed; a collision moves on (resident below).
		c.shift = 1 + rand.New(rand.NewPCG(g.opt.Seed, uint64(k))).IntN(3650)
	}
	return c
}

// code is a code, ref, SKU or item id of copy k ("" stays "").
func (c *copyOf) code(s string) string {
	if c.k == 0 || s == "" {
		return s
	}
	return s + "-K" + strconv.Itoa(c.k)
}

// mallNo is an order number or event id at a mall: letters and digits only.
func (c *copyOf) mallNo(s string) string {
	if c.k == 0 || s == "" {
		return s
	}
	return s + "K" + strconv.Itoa(c.k)
}

// household is a 户编号 of copy k: still digits only.
func (c *copyOf) household(s string) string {
	if c.k == 0 || s == "" {
		return s
	}
	return s + fmt.Sprintf("%0*d", c.g.width, c.k)
}

// name marks a branch's or supplier's name with its copy.
func (c *copyOf) name(s string) string {
	if c.k == 0 || s == "" {
		return s
	}
	return s + "（" + strconv.Itoa(c.k) + "）"
}

func (c *copyOf) row(file string, col map[string]int, row string) (string, error) {
	if c.k == 0 {
		if file == "suppliers.csv" || file == "households.csv" {
			// Copy 0 is the base: its numbers are taken first.
			cells := strings.Split(row, ",")
			if file == "suppliers.csv" {
				c.g.usccs[cells[col["uscc"]]] = true
			} else if id := cells[col["证件号码"]]; len(id) == 18 {
				if n, err := strconv.ParseUint(id[:17], 10, 64); err == nil {
					c.g.ids[n] = true
				}
			}
		}
		return row, nil
	}
	if file == "statement-abc.jsonl" {
		for _, f := range []string{"eventId", "partnerOrderNo", "mallOrderNo"} {
			row = suffixJSON(row, f, "K"+strconv.Itoa(c.k))
		}
		return row, nil
	}
	cells := strings.Split(row, ",")
	set := func(name string, f func(string) string) {
		if i, ok := col[name]; ok && i < len(cells) {
			cells[i] = f(cells[i])
		}
	}
	switch file {
	case "branches.csv":
		set("code", c.code)
		set("name", c.name)
		set("company", c.name)
	case "suppliers.csv":
		set("code", c.code)
		set("name", c.name)
		set("uscc", c.uscc)
	case "products.csv":
		for _, n := range []string{"sku", "supplier_code", "aid_cert_no", "ccb_item_id", "abc_item_id"} {
			set(n, c.code)
		}
	case "households.csv":
		set("户编号", c.household)
		set("证件号码", c.resident)
	case "linkages.csv":
		set("supplier_code", c.code)
		set("household_no", c.household)
	case "orders.csv":
		set("order_ref", c.code)
		set("branch_code", c.code)
		set("out_order_no", c.mallNo)
		set("mall_order_no", c.mallNo)
	case "order_lines.csv":
		set("order_ref", c.code)
		set("sku", c.code)
	case "statement-ccb.csv":
		for _, n := range []string{"通知编号", "商户订单号", "商城订单号"} {
			set(n, c.mallNo)
		}
	default:
		return "", fmt.Errorf("no rule for %s", file)
	}
	return strings.Join(cells, ","), nil
}

// suffixJSON appends sfx to the string value of field in a JSON line, if it has one.
func suffixJSON(line, field, sfx string) string {
	key := `"` + field + `":"`
	i := strings.Index(line, key)
	if i < 0 {
		return line
	}
	j := strings.IndexByte(line[i+len(key):], '"')
	if j <= 0 {
		return line
	}
	at := i + len(key) + j
	return line[:at] + sfx + line[at:]
}

const usccCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// uscc gives copy k's supplier a USCC of its own: the organisation code's last three
// characters count on by k (in the GB 32100 alphabet) until the code is new, and the check
// character is worked out again (a base USCC that is wrong stays wrong).
func (c *copyOf) uscc(s string) string {
	if len(s) != 18 || strings.Trim(s, usccCharset) != "" {
		return s // not even the shape of one: bad in every copy alike
	}
	good := households.ValidateUSCC(s) == nil
	v := 0
	for _, ch := range s[14:17] {
		v = v*31 + strings.IndexRune(usccCharset, ch)
	}
	for step := c.k; ; step++ {
		n := (v + step) % (31 * 31 * 31)
		body := s[:14] + string([]byte{usccCharset[n/961], usccCharset[n/31%31], usccCharset[n%31]})
		out := body + string(usccCheck(body, good))
		if !c.g.usccs[out] {
			c.g.usccs[out] = true
			return out
		}
	}
}

func usccCheck(body string, good bool) byte {
	for i := 0; i < len(usccCharset); i++ {
		if households.ValidateUSCC(body+usccCharset[i:i+1]) == nil {
			if !good {
				return usccCharset[(i+1)%len(usccCharset)]
			}
			return usccCharset[i]
		}
	}
	return '0' // not reached for a body of the right shape
}

var (
	residentWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	residentChecks  = "10X98765432"
)

// resident gives a person of copy k an ID number of their own: born c.shift days earlier
// (same region, same sequence and so the same sex), the sequence moving on by two while
// the number is taken; the check character worked out again, or left wrong when the
// base's is. The same base number gives the same number within a copy (a repeated person
// stays repeated). A number that is not 18 characters with a real date stays as it is.
func (c *copyOf) resident(s string) string {
	if out, ok := c.people[s]; ok {
		return out
	}
	out := s
	id := strings.ToUpper(s)
	if birth, err := time.Parse("20060102", id[min(6, len(id)):min(14, len(id))]); err == nil && len(id) == 18 && strings.Trim(id[:17], "0123456789") == "" {
		good := check(id[:17]) == id[17]
		seq, _ := strconv.Atoi(id[14:17])
		date := birth.AddDate(0, 0, -c.shift).Format("20060102")
		for tries := 0; tries < 500; tries++ {
			body := id[:6] + date + fmt.Sprintf("%03d", (seq+2*tries)%1000)
			n, _ := strconv.ParseUint(body, 10, 64)
			if c.g.ids[n] {
				continue
			}
			c.g.ids[n] = true
			ch := check(body)
			if !good {
				ch = residentChecks[(strings.IndexByte(residentChecks, ch)+1)%11]
			}
			out = body + string(ch)
			break
		}
	}
	c.people[s] = out
	return out
}

func check(body string) byte {
	sum := 0
	for i, w := range residentWeights {
		sum += int(body[i]-'0') * w
	}
	return residentChecks[sum%11]
}
