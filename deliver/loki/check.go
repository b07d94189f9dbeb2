package loki

import (
	"context"

	"github.com/logdelivery/logdelivery/deliver"
)

// Check resolves what a delivery of d would use — the push URL under the
// egress policy, the org id, the secrets its authentication references —
// without connecting to the Loki. It implements deliver.Checker.
func (dv *Deliverer) Check(ctx context.Context, d *deliver.Delivery) error {
	st, err := deliver.SettingsOf[Settings](d, dv.Kind())
	if err != nil {
		return err
	}
	_, err = dv.destination(ctx, d, st)
	return err
}
