package web

// officePages adds the aid office's pages: the review queue, imports by upload, budgets
// and targets, closed periods, people and keys, the audit log and household provenance.
func (s *Server) officePages(g pageGroup) {}
