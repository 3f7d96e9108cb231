package households

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// SetTestDecoder gives this package's tests the real file decoder (adapters/registryfile,
// which imports this package, so only the external test package can name it; see
// decoder_external_test.go). A Registry built without WithFileDecoder then uses it.
func SetTestDecoder(d FileDecoder) { testDecoder = d }

// parseHouseholdsFile decodes a household file as Registry.Import does and parses it.
func parseHouseholdsFile(name string, r io.Reader, now time.Time) ([]Household, []RowError, error) {
	f, err := testDecoder.Sheet(r, HouseholdSheet)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) && pe.File == "" {
			pe.File = name
		}
		return nil, nil, err
	}
	return ParseHouseholdsAt(name, f, now)
}

// parseCSVFile decodes a CSV catalogue file and parses it with parse.
func parseCSVFile[T any](parse func(File) ([]T, []RowError, error), r io.Reader) ([]T, []RowError, error) {
	f, err := testDecoder.CSV(r)
	if err != nil {
		return nil, nil, err
	}
	return parse(f)
}

// parseProductsAnyMall is ParseProducts with no list of malls (any listing code is read).
func parseProductsAnyMall(f File) ([]Product, []RowError, error) { return ParseProducts(f) }

// csvText decodes text as a CSV registry file with the production decoder.
func csvText(t testing.TB, text string) File {
	t.Helper()
	f, err := testDecoder.CSV(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return f
}
