package households

import (
	"strings"
	"unicode/utf8"
)

// MaskID masks an identity number for display: the first 6 and last 4 characters are
// kept and every one between becomes '*' (610630197302274514 → 610630********4514). A
// value of 10 characters or fewer is masked whole, since keeping 10 would show it all.
func MaskID(id string) string { return maskMiddle(id, 6, 4) }

// MaskPhone masks a phone number for display. A mobile number keeps its first 3 and last
// 4 digits (13800000000 → 138****0000); a landline written with an area code and '-'
// keeps the area code and the last 4 digits (0911-4119289 → 0911-***9289); anything of 7
// characters or fewer is masked whole.
func MaskPhone(phone string) string {
	if i := strings.IndexByte(phone, '-'); i > 0 && i < len(phone)-1 {
		local := phone[i+1:]
		if utf8.RuneCountInString(local) > 4 {
			return phone[:i+1] + maskMiddle(local, 0, 4)
		}
		return phone[:i+1] + strings.Repeat("*", utf8.RuneCountInString(local))
	}
	if utf8.RuneCountInString(phone) <= 7 {
		return strings.Repeat("*", utf8.RuneCountInString(phone))
	}
	return maskMiddle(phone, 3, 4)
}

// MaskName masks a person's name for display: its first character followed by one '*'
// for each other character (张三丰 → 张**). A one-character name becomes "*" and an empty
// name stays empty.
func MaskName(name string) string {
	n := utf8.RuneCountInString(name)
	if n <= 1 {
		return strings.Repeat("*", n)
	}
	r, _ := utf8.DecodeRuneInString(name)
	return string(r) + strings.Repeat("*", n-1)
}

// maskMiddle keeps the first head and last tail runes of s and stars the rest; when that
// would keep everything, all of s is starred.
func maskMiddle(s string, head, tail int) string {
	rs := []rune(s)
	if len(rs) <= head+tail {
		return strings.Repeat("*", len(rs))
	}
	return string(rs[:head]) + strings.Repeat("*", len(rs)-head-tail) + string(rs[len(rs)-tail:])
}
