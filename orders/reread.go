package orders

import (
	"context"
	"fmt"
)

// AdoptParked gives the events parked for (mall, outOrderNo) to the order that has that
// number now and works the order out again, in one transaction; it returns how many
// events it gave. ErrNotFound while no order has the number (the events stay parked).
// Orders created through Place and LoadHistory adopt their parked events themselves; this
// is the review queue's "re-read" of a parked event.
func (s *Service) AdoptParked(ctx context.Context, mall Mall, outOrderNo OutOrderNo) (int, error) {
	var n int
	err := s.store.InTx(ctx, func(tx Tx) error {
		closed, err := tx.ClosedPeriods(ctx) // before the order's lock: see Tx.ClosedPeriods
		if err != nil {
			return err
		}
		o, err := tx.LockOrderByOutOrderNo(ctx, mall, outOrderNo)
		if err != nil {
			return fmt.Errorf("order %s at %s: %w", outOrderNo, mall, err)
		}
		if n, err = tx.AdoptParked(ctx, o.ID, mall, outOrderNo); err != nil || n == 0 {
			return err
		}
		_, _, err = workOut(ctx, tx, o, closed)
		return err
	})
	return n, err
}
