package web

// orderPages adds the branch staff's pages: the catalogue, the order form, the order list
// with filters, one order with its timeline, and cancel (the aid office sees every order).
func (s *Server) orderPages(g pageGroup) {}
