package orders_test

import (
	"testing"

	"aidmall/orders"
)

// Phones a courier can dial pass; numbers cut short, masked or made up to fill the field
// are refused.
func TestPhoneProblem(t *testing.T) {
	tests := []struct {
		phone string
		ok    bool
	}{
		{"13800138000", true},
		{"+86 138 0013 8000", true},
		{"0086 138 0013 8000", true},
		{"010-68001234", true},
		{"(0911) 4821234", true},
		{"68001234", true},         // a local landline, no area code
		{"+44 20 7946 0958", true}, // abroad
		{"1380000", false},         // a mobile number cut short
		{"138001380001", false},    // twelve digits starting with 1
		{"+86 1380013800", false},
		{"0086-10-68001234", true}, // Beijing's landline written from abroad
		{"+86 10 6800 1234", true},
		{"12800138000", false}, // no mobile prefix 12
		{"138****1234", false},
		{"*******", false},
		{"11111111111", false},
		{"010-00000000", false},
		{"1234567", false},
		{"call me", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := orders.PhoneProblem(tt.phone); (got == "") != tt.ok {
			t.Errorf("PhoneProblem(%q) = %q, want ok=%v", tt.phone, got, tt.ok)
		}
	}
}
