package alerts

import (
	"context"
	"fmt"
)

// fencedError is a send the Fence refused: nothing was sent or recorded, and the item is tried
// again later. A leader that was frozen and resumed after its lease passed to another is
// stopped here, before it posts what the new leader posts.
type fencedError struct{ err error }

func (e *fencedError) Error() string {
	return fmt.Sprintf("this process may not send (fence): %v", e.err)
}
func (e *fencedError) Unwrap() error { return e.err }

// checkFence asks the Fence, when there is one, whether a send may go out now.
func (d *Dispatcher) checkFence(ctx context.Context) error {
	if d.Fence == nil {
		return nil
	}
	if err := d.Fence.Check(ctx); err != nil {
		return &fencedError{err: err}
	}
	return nil
}
