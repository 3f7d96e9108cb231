package orders

import "testing"

func TestCallerPermissions(t *testing.T) {
	t.Parallel()
	hq := Caller{KeyID: 1, Name: "HQ staff", Role: RoleBranchStaff, BranchCode: "HQ"}
	noBranch := Caller{KeyID: 2, Name: "broken key", Role: RoleBranchStaff}
	office := Caller{KeyID: 3, Name: "扶贫办", Role: RoleAidOffice}
	auditor := Caller{KeyID: 4, Name: "审计", Role: RoleAuditor}
	unknown := Caller{KeyID: 5, Name: "?", Role: "admin", BranchCode: "HQ"}

	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"branch_staff_sees_own_branch", hq.CanSeeOrder("HQ"), true},
		{"branch_staff_does_not_see_other_branch", hq.CanSeeOrder("S01"), false},
		{"branch_staff_without_branch_sees_no_branchless_order", noBranch.CanSeeOrder(""), false},
		{"aid_office_sees_every_branch", office.CanSeeOrder("S01"), true},
		{"auditor_sees_no_order", auditor.CanSeeOrder("HQ"), false},
		{"unknown_role_sees_no_order", unknown.CanSeeOrder("HQ"), false},

		{"branch_staff_places", hq.CanPlaceOrders(), true},
		{"aid_office_places", office.CanPlaceOrders(), true},
		{"auditor_does_not_place", auditor.CanPlaceOrders(), false},
		{"unknown_role_does_not_place", unknown.CanPlaceOrders(), false},

		{"only_aid_office_backdates", office.CanBackdate(), true},
		{"branch_staff_does_not_backdate", hq.CanBackdate(), false},
		{"auditor_does_not_backdate", auditor.CanBackdate(), false},

		{"aid_office_reads_reports", office.CanReadReports(), true},
		{"auditor_reads_reports", auditor.CanReadReports(), true},
		{"branch_staff_does_not_read_reports", hq.CanReadReports(), false},
		{"unknown_role_does_not_read_reports", unknown.CanReadReports(), false},

		{"aid_office_sees_registry", office.CanSeeRegistry(), true},
		{"branch_staff_does_not_see_registry", hq.CanSeeRegistry(), false},
		{"auditor_does_not_see_registry", auditor.CanSeeRegistry(), false},

		{"branch_staff_is_a_role", RoleBranchStaff.Valid(), true},
		{"aid_office_is_a_role", RoleAidOffice.Valid(), true},
		{"auditor_is_a_role", RoleAuditor.Valid(), true},
		{"admin_is_not_a_role", Role("admin").Valid(), false},
		{"empty_is_not_a_role", Role("").Valid(), false},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestDomainEnums(t *testing.T) {
	t.Parallel()
	for _, f := range []Funding{FundingUnion, FundingEmployeePays, FundingExternal} {
		if !f.Valid() {
			t.Errorf("%s is not Valid", f)
		}
	}
	if Funding("gift").Valid() || Funding("").Valid() {
		t.Error("unknown funding is Valid")
	}
	if !DeliveryBulk.Valid() || !DeliveryPerRecipient.Valid() || DeliveryMode("express").Valid() {
		t.Error("DeliveryMode.Valid: want bulk and per_recipient only")
	}
}
