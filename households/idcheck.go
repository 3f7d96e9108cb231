package households

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"aidmall/bizday"
)

// ErrResidentID is matched (errors.Is) by every error of ValidateResidentID.
var ErrResidentID = errors.New("invalid resident ID number")

// ErrUSCC is matched (errors.Is) by every error of ValidateUSCC.
var ErrUSCC = errors.New("invalid unified social credit code")

// CheckError says exactly what is wrong with an identity number. Its Error text is the
// reason alone ("check character is 4, want 7"), so that a row error can show it next to
// the column name; Unwrap gives ErrResidentID or ErrUSCC.
type CheckError struct {
	Code   error  // ErrResidentID or ErrUSCC
	Reason string // what is wrong, e.g. "check character is 4, want 7"
}

func (e *CheckError) Error() string { return e.Reason }
func (e *CheckError) Unwrap() error { return e.Code }

func idErr(format string, args ...any) error {
	return &CheckError{Code: ErrResidentID, Reason: fmt.Sprintf(format, args...)}
}

func usccErr(format string, args ...any) error {
	return &CheckError{Code: ErrUSCC, Reason: fmt.Sprintf(format, args...)}
}

// Weights and check characters of GB 11643-1999 (ISO 7064 MOD 11-2).
var (
	residentWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	residentChecks  = "10X98765432"
)

// provinceCodes are the first two digits of the administrative division codes of
// GB/T 2260 (provinces, autonomous regions, municipalities, Taiwan, Hong Kong, Macao).
func isProvinceCode(p int) bool {
	switch {
	case p >= 11 && p <= 15, p >= 21 && p <= 23, p >= 31 && p <= 37, p >= 41 && p <= 46,
		p >= 50 && p <= 54, p >= 61 && p <= 65, p == 71, p == 81, p == 82:
		return true
	}
	return false
}

// NormalizeResidentID returns s with surrounding spaces removed, full-width digits and
// letters folded to ASCII and a lowercase check character x made uppercase X, the form in
// which the service stores, hashes and compares resident ID numbers.
func NormalizeResidentID(s string) string {
	return strings.ToUpper(foldWidth(strings.TrimSpace(s)))
}

// ValidateResidentID checks an 18-character resident identity number by GB 11643-1999
// against today's date in Beijing time. See ValidateResidentIDAt.
func ValidateResidentID(s string) error { return ValidateResidentIDAt(s, time.Now()) }

// ValidateResidentIDAt checks an 18-character resident identity number (公民身份号码) by
// GB 11643-1999: 17 digits and a check character; the first two digits a province code of
// GB/T 2260 (11–82, only codes that exist); digits 7–14 a real birth date YYYYMMDD, not
// before 1900 and not after the Beijing calendar day of now; the check character
// ISO 7064 MOD 11-2 (weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, sum mod 11 mapped
// 0..10 → 1 0 X 9 8 7 6 5 4 3 2). A lowercase x is accepted as X (NormalizeResidentID gives
// the stored form); s is not trimmed. The error is a *CheckError wrapping ErrResidentID
// that names the first problem found, e.g. "check character is 4, want 7".
func ValidateResidentIDAt(s string, now time.Time) error {
	if n := utf8.RuneCountInString(s); n != 18 {
		return idErr("has %d characters, want 18", n)
	}
	if i, r := firstNonASCII(s); i > 0 {
		return idErr("character %d is %q, want a digit", i, r)
	}
	for i := 0; i < 17; i++ {
		if s[i] < '0' || s[i] > '9' {
			return idErr("character %d is %q, want a digit", i+1, s[i])
		}
	}
	last := s[17]
	if last == 'x' {
		last = 'X'
	}
	if (last < '0' || last > '9') && last != 'X' {
		return idErr("character 18 is %q, want a digit or X", s[17])
	}
	if p := int(s[0]-'0')*10 + int(s[1]-'0'); !isProvinceCode(p) {
		return idErr("address code %s does not start with a province code of GB/T 2260", s[:6])
	}
	birth, err := time.ParseInLocation("20060102", s[6:14], bizday.Beijing)
	if err != nil {
		return idErr("birth date %s is not a real date", s[6:14])
	}
	if birth.Year() < 1900 {
		return idErr("birth date %s is before 1900", s[6:14])
	}
	if bizday.Of(now).Before(bizday.Of(birth)) {
		return idErr("birth date %s is in the future", s[6:14])
	}
	sum := 0
	for i, w := range residentWeights {
		sum += int(s[i]-'0') * w
	}
	if want := residentChecks[sum%11]; want != last {
		return idErr("check character is %c, want %c", last, want)
	}
	return nil
}

// firstNonASCII returns the 1-based position and value of the first rune of s that is not
// ASCII, or 0.
func firstNonASCII(s string) (int, rune) {
	i := 0
	for _, r := range s {
		i++
		if r >= utf8.RuneSelf {
			return i, r
		}
	}
	return 0, 0
}

// The character set and weights of GB 32100-2015: digits and capital letters without
// I, O, Z, S, V, valued 0..30 in this order.
const usccCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// usccTypes maps each registration authority code of GB 32100-2015 (position 1) to the
// organisation type codes (position 2) it issues.
var usccTypes = map[byte]string{
	'1': "1239",   // 机构编制: 机关, 事业单位, 中央编办直管群众团体, 其他
	'2': "19",     // 外交
	'3': "123459", // 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 其他
	'4': "19",     // 文化
	'5': "1239",   // 民政: 社会团体, 民办非企业单位, 基金会, 其他
	'6': "129",    // 旅游
	'7': "129",    // 宗教
	'8': "19",     // 工会
	'9': "123",    // 工商 (市场监管): 企业, 个体工商户, 农民专业合作社
	'A': "19",     // 中央军委改革和编制办公室
	'N': "1239",   // 农业: 组级, 村级, 乡镇级集体经济组织, 其他
	'Y': "1",      // 其他
}

// ValidateUSCC checks an 18-character unified social credit code (统一社会信用代码) by
// GB 32100-2015: every character from 0123456789ABCDEFGHJKLMNPQRTUWXY (no I, O, Z, S, V;
// capitals only, s is not trimmed or folded); position 1 a registration authority code
// and position 2 an organisation type that authority issues; positions 3–8 a six-digit
// administrative division code; positions 9–17 the organisation code; position 18 the
// check character charset[(31 − Σ value×weight mod 31) mod 31] with weights
// 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28. The error is a *CheckError wrapping
// ErrUSCC naming the first problem, e.g. "check character is 5, want 7".
func ValidateUSCC(s string) error {
	if n := utf8.RuneCountInString(s); n != 18 {
		return usccErr("has %d characters, want 18", n)
	}
	if i, r := firstNonASCII(s); i > 0 {
		return usccErr("character %d is %q, not in the GB 32100 character set (digits and capital letters except I, O, Z, S, V)", i, r)
	}
	var vals [18]int
	for i := 0; i < 18; i++ {
		v := strings.IndexByte(usccCharset, s[i])
		if v < 0 {
			return usccErr("character %d is %q, not in the GB 32100 character set (digits and capital letters except I, O, Z, S, V)", i+1, s[i])
		}
		vals[i] = v
	}
	types, ok := usccTypes[s[0]]
	if !ok {
		return usccErr("registration authority code %c is unknown", s[0])
	}
	if strings.IndexByte(types, s[1]) < 0 {
		return usccErr("organisation type %c is unknown for registration authority %c", s[1], s[0])
	}
	for i := 2; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return usccErr("division code %s is not 6 digits", s[2:8])
		}
	}
	sum := 0
	for i, w := range usccWeights {
		sum += vals[i] * w
	}
	if want := usccCharset[(31-sum%31)%31]; want != s[17] {
		return usccErr("check character is %c, want %c", s[17], want)
	}
	return nil
}
