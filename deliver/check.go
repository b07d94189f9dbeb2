package deliver

import "context"

// Checker is implemented by deliverers that can tell, without writing
// anything, whether a delivery could reach its destination: the
// credentials it would use can be obtained (the tenant's role assumed,
// with its ExternalId), its settings resolved. Self-checks call it
// (logdelivery.Dispatcher.Explain with ExplainOptions.Check); a deliverer
// without it is taken as reachable. d carries no Open and no Records.
type Checker interface {
	Check(ctx context.Context, d *Delivery) error
}
