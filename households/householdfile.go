package households

import (
	"fmt"
	"regexp"
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
	seen := map[string]int{}
	ids := map[residentKey]idSeen{}
	return run(t, pre, func(rr *rowReader) Household {
		return rr.household(seen, ids, now)
	}), nil
}

// idSeen is where a resident ID number was first read in a household file.
type idSeen struct {
	row int32
	no  HouseholdNo // the 户编号 kept by the duplicate check (one copy of it)
}

// residentKey is a valid resident ID number as a map key: 18 bytes held in the map itself,
// so that a file of a million households keeps no string per number (nor the line it was
// cut from).
type residentKey [18]byte

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
func (rr *rowReader) household(seen map[string]int, ids map[residentKey]idSeen, now time.Time) Household {
	h := Household{}
	if rr.numeric(ColHouseholdNo) {
		rr.fail(ColHouseholdNo, rr.get(ColHouseholdNo), "stored as a number, so leading zeros may be lost: format the column as text")
	} else if v, ok := rr.required(ColHouseholdNo); ok {
		// The registry numbers households with digits only (leading zeros kept).
		if v = foldWidth(v); !householdNoPattern.MatchString(v) {
			rr.fail(ColHouseholdNo, v, "not a household number: want digits only (up to 40, leading zeros kept)")
		} else {
			h.No = HouseholdNo(v)
			rr.unique(seen, ColHouseholdNo, v, "户编号")
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
			} else if first, dup := ids[residentKey([]byte(id))]; dup && first.no != h.No && h.No != "" {
				// One person belongs to one household: the later row is refused, naming the first.
				rr.fail(ColIDNumber, MaskID(v), fmt.Sprintf("the same ID number as row %d (household %s): one person is in one household", first.row, first.no))
			} else {
				h.IDNumber = id
				if !dup && h.No != "" {
					ids[residentKey([]byte(id))] = idSeen{row: int32(rr.r.n), no: HouseholdNo(strings.Clone(string(h.No)))}
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

// NormalizePhone checks a contact phone number and returns it in the form the service
// stores and hashes. A mobile number is 11 digits starting 13–19, optionally written
// with +86/86, spaces or hyphens; it comes back as the 11 digits. A landline is 7–8
// digits not starting with 0 or 1, optionally after an area code 0XX or 0XXX (in
// brackets or followed by '-' or a space) and before an extension (-, 转, ext, #); it
// comes back as "0911-4119289" or "0911-4119289-12". Full-width digits are folded first.
// Anything else is an error saying what is wanted.
func NormalizePhone(s string) (string, error) {
	s = foldWidth(strings.TrimSpace(s))
	d := strings.NewReplacer(" ", "", "-", "").Replace(s)
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
