package orders

// Role is what an API key may do (ARCHITECTURE.md, Who uses it).
type Role string

const (
	RoleBranchStaff Role = "branch_staff" // 工会干事: its own branch's orders only
	RoleAidOffice   Role = "aid_office"   // 扶贫办: everything, incl. back-dated orders and imports
	RoleAuditor     Role = "auditor"      // 审计: reports only, never personal data
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleBranchStaff || r == RoleAidOffice || r == RoleAuditor }

// Caller is the authenticated principal of a request.
type Caller struct {
	KeyID      int64
	Name       string
	Role       Role
	BranchCode string // set for branch_staff only
}

// CanSeeOrder reports whether c may read an order of branch. A branch_staff caller sees only
// its own branch's orders (another branch's order must look absent: 404, not 403).
func (c Caller) CanSeeOrder(branch string) bool {
	switch c.Role {
	case RoleAidOffice:
		return true
	case RoleBranchStaff:
		return c.BranchCode != "" && c.BranchCode == branch
	}
	return false
}

// CanPlaceOrders reports whether c may place or cancel orders.
func (c Caller) CanPlaceOrders() bool { return c.Role == RoleAidOffice || c.Role == RoleBranchStaff }

// CanBackdate reports whether c may set placed_at (only aid_office, to load history).
func (c Caller) CanBackdate() bool { return c.Role == RoleAidOffice }

// CanReadReports reports whether c may read benefit reports.
func (c Caller) CanReadReports() bool { return c.Role == RoleAidOffice || c.Role == RoleAuditor }

// CanSeeRegistry reports whether c may read the household registry (masked): the
// poverty-alleviation office only; branches and auditors never see household records.
func (c Caller) CanSeeRegistry() bool { return c.Role == RoleAidOffice }

// CanSetBudgets reports whether c may set the branches' budgets: aid_office only.
func (c Caller) CanSetBudgets() bool { return c.Role == RoleAidOffice }
