package households

import (
	"errors"
	"strings"
	"testing"
	"time"

	"aidmall/bizday"
)

// now is 2020-01-15 00:30 in Beijing, still 2020-01-14 in UTC: a birth date of 2020-01-15
// is today, not the future.
var testNow = time.Date(2020, 1, 14, 16, 30, 0, 0, time.UTC)

func TestValidateResidentID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, id, want string // want "" = valid
	}{
		// From households.csv of the bundle (rows 2, 63, 389).
		{"bundle_id_is_valid", "610630197302274514", ""},
		{"bundle_id_with_check_X_is_valid", "61063019611127586X", ""},
		{"bundle_dingbian_id_is_valid", "610825196106050092", ""},
		// The example of GB 11643-1999 itself, computed by hand: digits × weights
		// 1×7 + 1×9 + 0×10 + 1×5 + 0×8 + 5×4 + 1×2 + 9×1 + 4×6 + 9×3 + 1×7 + 2×9 + 3×10
		// + 1×5 + 0×8 + 0×4 + 2×2 = 167; 167 mod 11 = 2 → check character X.
		{"standard_example_is_valid", "11010519491231002X", ""},
		{"lowercase_x_is_accepted_as_X", "11010519491231002x", ""},
		{"born_today_in_beijing_is_valid", "110105202001150018", ""},
		// Row 97 of the bundle: one digit off, so the check character no longer fits.
		{"wrong_check_character_is_named", "610630198207058794", "check character is 4, want 7"},
		{"standard_example_with_wrong_check", "110105194912310021", "check character is 1, want X"},
		{"seventeen_characters", "61063019730227451", "has 17 characters, want 18"},
		{"nineteen_characters", "6106301973022745140", "has 19 characters, want 18"},
		{"empty", "", "has 0 characters, want 18"},
		{"letter_in_body", "6106301973O2274514", "character 11 is 'O', want a digit"},
		{"full_width_digit_is_not_folded_here", "６10630197302274514", "character 1 is '６', want a digit"},
		{"check_character_Y", "61063019730227451Y", "character 18 is 'Y', want a digit or X"},
		{"province_99_does_not_exist", "990630197302274514", "address code 990630 does not start with a province code of GB/T 2260"},
		{"province_20_does_not_exist", "200630197302274514", "address code 200630 does not start with a province code of GB/T 2260"},
		{"february_30_is_not_a_date", "610630198302300000", "birth date 19830230 is not a real date"},
		{"born_before_1900", "610630189912310000", "birth date 18991231 is before 1900"},
		{"born_tomorrow_in_beijing", "110105202001160000", "birth date 20200116 is in the future"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateResidentIDAt(tt.id, testNow)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidateResidentIDAt(%q) = %v, want valid", tt.id, err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("ValidateResidentIDAt(%q) = %v, want %q", tt.id, err, tt.want)
			}
			if !errors.Is(err, ErrResidentID) {
				t.Errorf("error does not match ErrResidentID")
			}
		})
	}
}

func TestNormalizeResidentID(t *testing.T) {
	t.Parallel()
	if got := NormalizeResidentID(" １１010519491231002x "); got != "11010519491231002X" {
		t.Errorf("NormalizeResidentID = %q, want 11010519491231002X", got)
	}
}

func TestValidateUSCC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, code, want string
	}{
		// The ten suppliers of the bundle.
		{"bundle_cooperative", "93610630MA5FP0YD9M", ""},
		{"bundle_enterprise", "91610630MA087B336H", ""},
		{"bundle_household_business", "92610630MA52U7F06W", ""},
		{"bundle_check_digit", "91610825MA1GRFCB89", ""},
		// Computed by hand: values 9 1 6 1 0 6 3 0 21(M) 10(A) 6 29(X) 0 10(A) 1 11(B) 2,
		// times weights 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28:
		// 9+3+54+27+0+156+48+0+420+290+150+377+0+240+10+330+56 = 2170 = 70×31,
		// so 2170 mod 31 = 0 and the check is charset[(31−0) mod 31] = charset[0] = '0'.
		{"hand_computed_sum_divisible_by_31", "91610630MA6X0A1B20", ""},
		{"wrong_check_character_is_named", "91610630MA087B3367", "check character is 7, want H"},
		{"hand_computed_with_31_instead_of_0", "91610630MA6X0A1B2Y", "check character is Y, want 0"},
		{"letter_I_is_not_in_the_charset", "91610630MA087I336H", "character 14 is 'I', not in the GB 32100 character set (digits and capital letters except I, O, Z, S, V)"},
		{"lowercase_is_not_in_the_charset", "91610630ma087B336H", "character 9 is 'm', not in the GB 32100 character set (digits and capital letters except I, O, Z, S, V)"},
		{"seventeen_characters", "91610630MA087B336", "has 17 characters, want 18"},
		{"unknown_registration_authority", "B1610630MA087B336H", "registration authority code B is unknown"},
		{"type_unknown_for_authority", "95610630MA087B336H", "organisation type 5 is unknown for registration authority 9"},
		{"division_code_with_letter", "9161A630MA087B336H", "division code 61A630 is not 6 digits"},
		{"chinese_character", "91610630MA087B336汉", "character 18 is '汉', not in the GB 32100 character set (digits and capital letters except I, O, Z, S, V)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateUSCC(tt.code)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidateUSCC(%q) = %v, want valid", tt.code, err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("ValidateUSCC(%q) = %v, want %q", tt.code, err, tt.want)
			}
			if !errors.Is(err, ErrUSCC) {
				t.Errorf("error does not match ErrUSCC")
			}
		})
	}
}

func TestMasks(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, got, want string }{
		{"id_keeps_first_6_and_last_4", MaskID("61063019611127586X"), "610630********586X"},
		{"short_id_is_masked_whole", MaskID("1234567890"), "**********"},
		{"mobile_keeps_3_and_4", MaskPhone("13800000000"), "138****0000"},
		{"landline_keeps_area_code_and_4", MaskPhone("0911-4119289"), "0911-***9289"},
		{"short_number_is_masked_whole", MaskPhone("4119289"), "*******"},
		{"name_keeps_first_character", MaskName("刘忠刚"), "刘**"},
		{"two_character_name", MaskName("曹春"), "曹*"},
		{"one_character_name_is_masked_whole", MaskName("春"), "*"},
		{"empty_name_stays_empty", MaskName(""), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func FuzzValidateResidentID(f *testing.F) {
	for _, s := range []string{"610630197302274514", "11010519491231002X", "11010519491231002x", "610630198207058794", "", "６10630197302274514", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateResidentIDAt(s, testNow)
		if err != nil {
			if !errors.Is(err, ErrResidentID) || err.Error() == "" {
				t.Fatalf("error %v does not say what is wrong", err)
			}
			return
		}
		// A valid number is 18 characters born no later than today, and exactly one check
		// character fits it: every other one is refused.
		if len(s) != 18 {
			t.Fatalf("%q accepted with %d bytes", s, len(s))
		}
		if birth, _ := time.ParseInLocation("20060102", s[6:14], bizday.Beijing); bizday.Of(testNow).Before(bizday.Of(birth)) {
			t.Fatalf("%q accepted with a future birth date", s)
		}
		for _, c := range "0123456789X" {
			if strings.EqualFold(string(c), s[17:]) {
				continue
			}
			if ValidateResidentIDAt(s[:17]+string(c), testNow) == nil {
				t.Fatalf("%q and %q both valid", s, s[:17]+string(c))
			}
		}
	})
}

func FuzzValidateUSCC(f *testing.F) {
	for _, s := range []string{"93610630MA5FP0YD9M", "91610630MA6X0A1B20", "91610630MA087B3367", "", "I1610630MA087B336H", "汉"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateUSCC(s)
		if err != nil {
			if !errors.Is(err, ErrUSCC) || err.Error() == "" {
				t.Fatalf("error %v does not say what is wrong", err)
			}
			return
		}
		if len(s) != 18 || strings.Trim(s, usccCharset) != "" {
			t.Fatalf("%q accepted outside the charset or length", s)
		}
		for _, c := range usccCharset {
			if string(c) != s[17:] && ValidateUSCC(s[:17]+string(c)) == nil {
				t.Fatalf("%q and %q both valid", s, s[:17]+string(c))
			}
		}
	})
}
