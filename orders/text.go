package orders

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The text of a request (order fields, path and query parameters) is checked here once,
// for every door in: the API's body decoder and its parameters, the pages' forms (through
// Place) and the list filters.

// TextProblem says what is wrong with s as text a person typed, or "" when nothing is:
// invalid UTF-8 (a body or parameter in another encoding), a control character (NUL, a
// tab or line break, DEL, C1), a Unicode replacement character (text already damaged by a
// wrong encoding, or a lone surrogate escape), a line or paragraph separator, or a
// bidirectional override that can make a stored value read otherwise than it is.
func TextProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not UTF-8 text"
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return "must not contain control characters (NUL, tabs, line breaks, …)"
		case r == utf8.RuneError:
			return "contains a replacement character (U+FFFD): the text was damaged by a wrong encoding"
		case r == '\u2028' || r == '\u2029':
			return "must not contain line or paragraph separators"
		case isBidiControl(r):
			return "must not contain bidirectional control characters"
		}
	}
	return ""
}

// isBidiControl reports the bidirectional formatting characters (Unicode's Bidi_Control
// property): ALM, LRM, RLM, the embeddings and overrides, and the isolates.
func isBidiControl(r rune) bool {
	return r == '\u061C' || r == '\u200E' || r == '\u200F' ||
		r >= '\u202A' && r <= '\u202E' || r >= '\u2066' && r <= '\u2069'
}

// NormalizeText is s in Unicode Normalization Form C, without surrounding spaces, so
// that two spellings of the same text (a precomposed é or e + U+0301) compare equal. Text
// that TextProblem refuses is returned as it is.
func NormalizeText(s string) string {
	if TextProblem(s) != "" {
		return s
	}
	return strings.TrimSpace(norm.NFC.String(s))
}

// The shapes of codes and references (after NormalizeText):
//
//	branch_code, sku  1–32 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit
//	order_ref         1–64 letters or digits of any script, '-', '_', '.', '/', '#', '(' or ')',
//	                  starting with a letter or digit (the malls keep it as buyer_ref, ≤ 64)
var (
	codePattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
	orderRefPattern = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{M}\p{N}\-_./#()]*$`) // letters may carry combining marks (NFC keeps those without a precomposed form)
)

// The most characters of a name and of an address; MaxOrderRef of an order_ref.
const (
	MaxNameLen    = 50
	MaxAddressLen = 200
	MaxOrderRef   = 64
)

// The most lines of one order and the most recipients of one order (all lines together):
// far above a real group order, low enough that one body cannot make a mall call of
// megabytes.
const (
	MaxLines      = 100
	MaxRecipients = 2000
)

// ValidCode reports whether s has the shape of a branch code or SKU.
func ValidCode(s string) bool { return codePattern.MatchString(s) }

// codeRule is ValidCode's rule, for messages.
const codeRule = "1–32 letters, digits, '.', '_' or '-' (ASCII), starting with a letter or digit"

// orderRefRule is the order_ref's rule, for messages.
const orderRefRule = "letters, digits, '-', '_', '.', '/', '#', '(' or ')', starting with a letter or digit, no spaces"

// PhoneProblem says why a courier could not dial phone, or "" when it can: 7 to 15 ASCII
// digits (ITU-T E.164's most), with an optional leading '+' and '-', spaces or brackets
// between them; a Chinese mobile number (11 digits starting with 1, after an optional
// +86) must start 13–19. Masked numbers (138****1234, *******) and placeholders (every
// digit the same, a subscriber number after an area code of one repeated digit such as
// 010-00000000, or a counting run such as 1234567) are refused: they were written down for privacy or to
// fill the field, and no parcel reaches them.
func PhoneProblem(phone string) string {
	const rule = "not a phone number a courier can dial: 7–15 digits, with +, -, spaces or brackets"
	s := strings.TrimSpace(phone)
	if strings.ContainsAny(s, "*xX×") {
		return "a masked phone number cannot be dialled: give the whole number"
	}
	var digits []byte
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits = append(digits, byte(r))
		case r == '+' && i == 0:
		case r == '-' || r == ' ' || r == '(' || r == ')':
		default:
			return rule
		}
	}
	if len(digits) < 7 || len(digits) > 15 {
		return rule
	}
	d := string(digits)
	national := d
	if strings.HasPrefix(s, "+86") || strings.HasPrefix(s, "0086") {
		national = strings.TrimPrefix(strings.TrimPrefix(d, "00"), "86")
	}
	// A mainland number starting with 1 is a mobile number (landlines start with an area
	// code's 0, or with 2–9 without it), of 11 digits: a shorter or longer one is cut
	// short or mistyped. Written from abroad (+86, 0086) Beijing's area code is 10, so
	// there a 10… number is a landline. Numbers of other countries are not judged.
	abroad := strings.HasPrefix(s, "+") || strings.HasPrefix(s, "00")
	if (!abroad || national != d) && national[0] == '1' && len(national) != 11 && !(abroad && strings.HasPrefix(national, "10")) {
		return "not a phone number a courier can dial: a mobile number has 11 digits"
	}
	if len(national) == 11 && national[0] == '1' && national[1] < '3' {
		return "not a phone number a courier can dial: a mobile number starts 13–19"
	}
	if placeholderDigits(national) || placeholderSubscriber(s) {
		return "a placeholder, not a phone number: give one a courier can dial"
	}
	return ""
}

// placeholderDigits reports digit strings written to fill a phone field: one digit
// repeated, or a run counting up or down (1234567…, 9876543…).
func placeholderDigits(d string) bool {
	if strings.Count(d, d[:1]) == len(d) {
		return true
	}
	up, down := true, true
	for i := 1; i < len(d); i++ {
		up = up && (d[i]-'0') == (d[i-1]-'0'+1)%10
		down = down && (d[i]-'0'+1)%10 == (d[i-1]-'0')
	}
	return up || down
}

// placeholderSubscriber reports a landline written with its area code whose subscriber
// number (the last group, of 7 or 8 digits) is one digit repeated: 010-00000000.
func placeholderSubscriber(s string) bool {
	i := strings.LastIndexAny(s, "- )")
	if i < 0 {
		return false
	}
	last := s[i+1:]
	return len(last) >= 7 && strings.Count(last, last[:1]) == len(last)
}

// checkText checks every text field of req (TextProblem, at its pointer) and returns req
// with them normalised (NormalizeText); the caller's slices are not changed.
func (s *Service) checkText(req PlaceRequest, ve *ValidationError) PlaceRequest {
	clean := func(ptr string, v *string) {
		if d := TextProblem(*v); d != "" {
			ve.add(ptr, "%s", d) // the later checks of the field add nothing more (ValidationError.add)
			return
		}
		*v = NormalizeText(*v)
	}
	for _, f := range []struct {
		ptr string
		v   *string
	}{
		{"/order_ref", &req.OrderRef}, {"/branch_code", &req.BranchCode}, {"/mall", (*string)(&req.Mall)},
		{"/funding", (*string)(&req.Funding)}, {"/delivery_mode", (*string)(&req.DeliveryMode)},
		{"/ship_to/name", &req.ShipTo.Name}, {"/ship_to/phone", &req.ShipTo.Phone}, {"/ship_to/address", &req.ShipTo.Address},
	} {
		clean(f.ptr, f.v)
	}
	lines := make([]PlaceLine, len(req.Lines))
	for i, l := range req.Lines {
		p := fmt.Sprintf("/lines/%d", i)
		clean(p+"/sku", &l.SKU)
		if l.Recipients != nil {
			rs := make([]Recipient, len(l.Recipients))
			for k, r := range l.Recipients {
				rp := fmt.Sprintf("%s/recipients/%d", p, k)
				clean(rp+"/name", &r.Name)
				clean(rp+"/phone", &r.Phone)
				clean(rp+"/address", &r.Address)
				rs[k] = r
			}
			l.Recipients = rs
		}
		lines[i] = l
	}
	if req.Lines != nil {
		req.Lines = lines
	}
	return req
}

// checkContact checks a consignee or recipient at ptr: a name and an address of bounded
// length and a phone a courier can dial; each is required when required is set.
func checkContact(ve *ValidationError, ptr, name, phone, address string, required bool) {
	required1 := func(field, value string, max int) bool {
		switch n := utf8.RuneCountInString(value); {
		case n == 0 && required:
			ve.add(ptr+"/"+field, "required")
		case n > max:
			ve.add(ptr+"/"+field, "at most %d characters", max)
		default:
			return true
		}
		return false
	}
	required1("name", name, MaxNameLen)
	switch {
	case phone == "" && required:
		ve.add(ptr+"/phone", "required")
	case phone != "":
		if d := PhoneProblem(phone); d != "" {
			ve.add(ptr+"/phone", "%s", d)
		}
	}
	required1("address", address, MaxAddressLen)
}

// orderRefMax is the most characters of an order_ref: MaxOrderRef, or the malls' limit
// when lower.
func orderRefMax(l MallLimits) int { return minLimit(MaxOrderRef, l.OrderRefMax) }
