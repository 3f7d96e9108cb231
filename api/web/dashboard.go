package web

// dashboardPages adds the dashboard (the group for the aid office and auditors, their
// branch for branch staff), its exports and its live updates.
func (s *Server) dashboardPages(g pageGroup) {}
