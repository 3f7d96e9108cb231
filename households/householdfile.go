package households

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"aidmall/bizday"
)

// HouseholdSheet is the sheet of a registry XLSX export that holds the households.
const HouseholdSheet = "建档立卡贫困户信息"

// The columns of a household registry export, as the registry system names them.
const (
	ColHouseholdNo = "户编号"
	ColHeadName    = "户主姓名"
	ColIDNumber    = "证件号码"
	ColMembers     = "家庭人口数"
	ColCounty      = "县(市、区)"
	ColTownship    = "乡(镇)"
	ColVillage     = "行政村"
	ColAttribute   = "贫困户属性"
	ColExitYear    = "脱贫年度"
	ColPhone       = "联系电话"
)

var householdColumns = []string{ColHouseholdNo, ColHeadName, ColIDNumber, ColMembers, ColCounty,
	ColTownship, ColVillage, ColAttribute, ColExitYear, ColPhone}

// The values of 贫困户属性.
const (
	AttrGeneral   = "一般贫困户"
	AttrSubsidy   = "低保贫困户"
	AttrSupported = "特困供养贫困户"
)

// firstExitYear is the first year a registered household can have left poverty: the
// registration (建档立卡) of poor households began in 2014.
const firstExitYear = 2014

// ParseHouseholds reads a household registry export at the current time; see
// ParseHouseholdsAt.
func ParseHouseholds(name string, f File) ([]Household, []RowError, error) {
	return ParseHouseholdsAt(name, f, time.Now())
}

// ParseHouseholdsAt reads a household registry export (建档立卡贫困户), decoded (an XLSX
// workbook's sheet 建档立卡贫困户信息 or CSV text: adapters/registryfile), as of now (which
// bounds birth dates and 脱贫年度). The header row names the columns 户编号,户主姓名,证件号码,家庭人口数,县(市、区),乡(镇),行政村,
// 贫困户属性,脱贫年度,联系电话 in any order (spaces and full-width brackets tolerated; other
// columns ignored). Rules per row:
//   - a text row with fewer cells than the header, or any row with a cell beyond the
//     header's last column, is one error and is not read further (File.Sheet);
//   - 户编号: digits only, kept as text with its leading zeros; an XLSX cell stored as a
//     number is an error (its leading zeros may be lost); a repeat within the file is an
//     error of the later row;
//   - 户主姓名: required; 证件号码: GB 11643 (ValidateResidentIDAt; stored normalised, x → X);
//     the number of a person already read in another household of the file is an error
//     of the later row, naming the first; a number whose region code (its first six
//     digits) is not the household's county is a warning only (Report.Warnings): people
//     move;
//   - 家庭人口数: a whole number 1–12; 县, 乡, 行政村: required;
//   - 贫困户属性: 一般贫困户, 低保贫困户 or 特困供养贫困户;
//   - 脱贫年度: empty, or a year from 2014 to now's year (a trailing 年 is accepted);
//   - 联系电话: empty, a mobile number or a landline (NormalizePhone).
//
// It returns the good households in file order, one RowError per bad cell (personal
// values masked), and a *ParseError (with File = name) for a file it cannot read at all:
// a missing or repeated column.
func ParseHouseholdsAt(name string, f File, now time.Time) ([]Household, []RowError, error) {
	p, err := parseHouseholds(name, f, now)
	if err != nil {
		return nil, nil, err
	}
	return values(p.good), p.errs, nil
}

func parseHouseholds(name string, f File, now time.Time) (parsed[Household], error) {
	t, pre, err := readCSV(f, householdColumns)
	if err != nil {
		if pe, ok := err.(*ParseError); ok && pe.File == "" {
			pe.File = name
		}
		return parsed[Household]{}, err
	}
	seen := newHouseholdsSeen()
	return run(t, pre, func(rr *rowReader) Household {
		return rr.household(seen, now)
	}), nil
}

// householdsSeen is what the duplicate checks of a household file keep of its rows: per
// household number and per resident ID number the row that first had it (and that row's
// household number). A file of a million households keeps only this, so it is kept without
// pointers: numbers packed into uint64 keys and values (the garbage collector then never
// scans it), about 60 bytes a row; a number that does not pack (a household number of
// more than 18 digits) is kept as a string.
type householdsSeen struct {
	nos     map[uint64]int32 // packNo(household number) → first row
	longNos map[string]int32 // household numbers of 19–40 digits → first row
	ids     map[uint64]idSeen
	long    []string // household numbers of 19–40 digits named by idSeen.no
}

// idSeen is where a resident ID number was first read: its row and household number
// (packNo's, or longNo|i for long[i]).
type idSeen struct {
	row int32
	no  uint64
}

const longNo = 1 << 63

func newHouseholdsSeen() *householdsSeen {
	return &householdsSeen{nos: map[uint64]int32{}, longNos: map[string]int32{}, ids: map[uint64]idSeen{}}
}

// packNo packs a household number of 1–18 digits (leading zeros kept, by a leading 1);
// false for anything else.
func packNo(no string) (uint64, bool) {
	if len(no) == 0 || len(no) > 18 {
		return 0, false
	}
	v := uint64(1)
	for i := 0; i < len(no); i++ {
		c := no[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// packID packs a valid resident ID number (17 digits and a check character 0–9 or X).
func packID(id string) uint64 {
	var v uint64
	for i := 0; i < 17; i++ {
		v = v*10 + uint64(id[i]-'0')
	}
	c := uint64(10) // X
	if id[17] != 'X' {
		c = uint64(id[17] - '0')
	}
	return v*11 + c
}

// firstRow returns the row that first had household number no, recording row when none did.
func (s *householdsSeen) firstRow(no string, row int) (int, bool) {
	if k, ok := packNo(no); ok {
		if first, dup := s.nos[k]; dup {
			return int(first), true
		}
		s.nos[k] = int32(row)
		return 0, false
	}
	if first, dup := s.longNos[no]; dup {
		return int(first), true
	}
	s.longNos[strings.Clone(no)] = int32(row)
	return 0, false
}

// ref is no as idSeen keeps it.
func (s *householdsSeen) ref(no HouseholdNo) uint64 {
	if k, ok := packNo(string(no)); ok {
		return k
	}
	s.long = append(s.long, strings.Clone(string(no)))
	return longNo | uint64(len(s.long)-1)
}

// householdNo is the household number idSeen.no names.
func (s *householdsSeen) householdNo(ref uint64) HouseholdNo {
	if ref&longNo != 0 {
		return HouseholdNo(s.long[ref&^longNo])
	}
	d := strconv.FormatUint(ref, 10)
	return HouseholdNo(d[1:])
}

var householdNoPattern = regexp.MustCompile(`^[0-9]{1,40}$`)

// countyCode returns the GB/T 2260 code of a household's 县(市、区) cell: the cell itself
// when it is six digits, else the code CountyNames gives that name; "" when unknown.
func countyCode(county string) string {
	if len(county) == 6 && householdNoPattern.MatchString(county) {
		return county
	}
	for code, name := range CountyNames {
		if name == county {
			return code
		}
	}
	return ""
}

// household reads one household row.
func (rr *rowReader) household(seen *householdsSeen, now time.Time) Household {
	h := Household{}
	if rr.numeric(ColHouseholdNo) {
		rr.fail(ColHouseholdNo, rr.get(ColHouseholdNo), "stored as a number, so leading zeros may be lost: format the column as text")
	} else if v, ok := rr.required(ColHouseholdNo); ok {
		// The registry numbers households with digits only (leading zeros kept).
		if v = foldWidth(v); !householdNoPattern.MatchString(v) {
			rr.fail(ColHouseholdNo, v, "not a household number: want digits only (up to 40, leading zeros kept)")
		} else {
			h.No = HouseholdNo(v)
			if first, dup := seen.firstRow(v, rr.r.n); dup {
				rr.fail(ColHouseholdNo, "", fmt.Sprintf("duplicate %s %s, first in row %d", "户编号", v, first))
			}
		}
	}
	if v := rr.text(ColHeadName, 50); v != "" {
		h.HeadName = v
	}
	if v, ok := rr.required(ColIDNumber); ok {
		id := NormalizeResidentID(v)
		switch {
		case rr.numeric(ColIDNumber):
			rr.fail(ColIDNumber, MaskID(v), "stored as a number, which keeps only 15 digits: format the column as text")
		default:
			if err := ValidateResidentIDAt(id, now); err != nil {
				rr.fail(ColIDNumber, MaskID(v), err.Error())
			} else if first, dup := seen.ids[packID(id)]; dup && seen.householdNo(first.no) != h.No && h.No != "" {
				// One person belongs to one household: the later row is refused, naming the first.
				rr.fail(ColIDNumber, MaskID(v), fmt.Sprintf("the same ID number as row %d (household %s): one person is in one household", first.row, seen.householdNo(first.no)))
			} else {
				h.IDNumber = id
				if !dup && h.No != "" {
					seen.ids[packID(id)] = idSeen{row: int32(rr.r.n), no: seen.ref(h.No)}
				}
			}
		}
	}
	h.Members = rr.count(ColMembers, 1, 12)
	h.County = rr.text(ColCounty, 50)
	if code := countyCode(h.County); code != "" && h.IDNumber != "" && h.IDNumber[:6] != code {
		// A warning, not an error: people move, and an ID keeps the region where it was
		// first issued (and regions were renumbered).
		region := h.IDNumber[:6]
		if name, ok := CountyNames[region]; ok {
			region += " " + name
		}
		rr.warn(ColIDNumber, MaskID(h.IDNumber), fmt.Sprintf("the ID number's region %s is outside the household's county %s (%s)", region, h.County, code))
	}
	h.Township = rr.text(ColTownship, 50)
	h.Village = rr.text(ColVillage, 50)
	if v, ok := rr.required(ColAttribute); ok {
		switch v {
		case AttrGeneral, AttrSubsidy, AttrSupported:
			h.Attribute = v
		default:
			rr.fail(ColAttribute, v, "unknown, want 一般贫困户, 低保贫困户 or 特困供养贫困户")
		}
	}
	if v := foldWidth(rr.get(ColExitYear)); v != "" {
		y, ok := atoi(strings.TrimSuffix(v, "年"))
		switch {
		case !ok:
			rr.fail(ColExitYear, v, "not a year: want YYYY or empty")
		case y < firstExitYear || y > now.In(bizday.Beijing).Year():
			rr.fail(ColExitYear, v, fmt.Sprintf("%d is out of range %d–%d", y, firstExitYear, now.In(bizday.Beijing).Year()))
		default:
			h.ExitYear = y
		}
	}
	if v := rr.get(ColPhone); v != "" {
		p, err := NormalizePhone(v)
		if err != nil {
			rr.fail(ColPhone, MaskPhone(v), err.Error())
		} else {
			h.Phone = p
		}
	}
	return h
}

var (
	mobileDigits = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	landline     = regexp.MustCompile(`^(?:\(?(0[0-9]{2,3})\)?[- ]?)?([2-9][0-9]{6,7})(?:(?:-|转|ext\.?|#)([0-9]{1,6}))?$`)
)

// phoneSeparators drops the spaces and hyphens of a phone number; built once (a Replacer
// built per call cost 3 % of a 1M-row import's CPU).
var phoneSeparators = strings.NewReplacer(" ", "", "-", "")

// NormalizePhone checks a contact phone number and returns it in the form the service
// stores and hashes. A mobile number is 11 digits starting 13–19, optionally written
// with +86/86, spaces or hyphens; it comes back as the 11 digits. A landline is 7–8
// digits not starting with 0 or 1, optionally after an area code 0XX or 0XXX (in
// brackets or followed by '-' or a space) and before an extension (-, 转, ext, #); it
// comes back as "0911-4119289" or "0911-4119289-12". Full-width digits are folded first.
// Anything else is an error saying what is wanted.
func NormalizePhone(s string) (string, error) {
	s = foldWidth(strings.TrimSpace(s))
	d := phoneSeparators.Replace(s)
	d = strings.TrimPrefix(d, "+86")
	if len(d) == 13 && strings.HasPrefix(d, "86") {
		d = d[2:]
	}
	if mobileDigits.MatchString(d) {
		return d, nil
	}
	if m := landline.FindStringSubmatch(s); m != nil {
		out := m[2]
		if m[1] != "" {
			out = m[1] + "-" + out
		}
		if m[3] != "" {
			out += "-" + m[3]
		}
		return out, nil
	}
	return "", fmt.Errorf("not a phone number: want 11 digits starting with 1, or a landline like 0911-4119289")
}
