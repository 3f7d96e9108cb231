// Package money holds the one money type of aidmall: Fen, an exact amount in fen
// (分, 0.01 yuan). Money is never a float: it is parsed from yuan strings with at most two
// decimal places, stored as integer fen, and written in JSON as a yuan string with exactly
// two decimals ("1360.00").
package money

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/shopspring/decimal"
)

// Fen is an amount of money in fen (0.01 yuan, CNY). It may be negative (refund entries).
type Fen int64

// ErrInvalidAmount is returned by the parsers for text that is not a yuan amount with at
// most two decimal places.
var ErrInvalidAmount = errors.New("invalid amount")

var hundred = decimal.NewFromInt(100)

// FromDecimal converts an amount in yuan to fen. It fails with ErrInvalidAmount when the
// amount has more than two decimal places or does not fit in int64 fen.
func FromDecimal(yuan decimal.Decimal) (Fen, error) {
	f := yuan.Mul(hundred)
	if !f.IsInteger() {
		return 0, fmt.Errorf("%w: %s has more than 2 decimal places", ErrInvalidAmount, yuan.String())
	}
	if !f.BigInt().IsInt64() {
		return 0, fmt.Errorf("%w: %s is out of range", ErrInvalidAmount, yuan.String())
	}
	return Fen(f.IntPart()), nil
}

// ParseYuan parses a yuan amount such as "68", "68.5" or "68.00" into fen. Leading or
// trailing spaces are trimmed; exponents, thousands separators and more than two decimal
// places are rejected with ErrInvalidAmount.
func ParseYuan(s string) (Fen, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "eE,_ ") {
		return 0, fmt.Errorf("%w: %q", ErrInvalidAmount, s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrInvalidAmount, s)
	}
	return FromDecimal(d)
}

// amountPattern is the API contract's Money (openapi.yaml): digits with no sign but '-',
// no spaces and no leading zero, then at most 2 decimals after a '.' that has some; at
// most 15 digits before it, so that the amount fits a Fen.
var amountPattern = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?$`)

// ParseAmount parses an amount written exactly as the contract's Money ("68", "68.5",
// "68.00"; not "68.000", "+68", " 68", "068", "68."), into fen; anything else is
// ErrInvalidAmount. Every amount a person or a client gives goes through it.
func ParseAmount(s string) (Fen, error) {
	if !amountPattern.MatchString(s) {
		return 0, fmt.Errorf("%w: %q is not yuan written as 68.00", ErrInvalidAmount, s)
	}
	return ParseYuan(s)
}

// Decimal returns the amount in yuan.
func (f Fen) Decimal() decimal.Decimal { return decimal.New(int64(f), -2) }

// String returns the amount in yuan with exactly two decimals, e.g. "1360.00", "-0.05".
func (f Fen) String() string { return f.Decimal().StringFixed(2) }

// MarshalJSON writes the amount as a yuan string with two decimals.
func (f Fen) MarshalJSON() ([]byte, error) { return json.Marshal(f.String()) }

// UnmarshalJSON reads a yuan string ("68.00"). A bare JSON number is refused, so that no
// client ever sends money through a float.
func (f *Fen) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: money must be a string of yuan with at most 2 decimals", ErrInvalidAmount)
	}
	v, err := ParseYuan(s)
	if err != nil {
		return err
	}
	*f = v
	return nil
}
