package cloudwatch

import (
	"context"
	"fmt"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/internal/awserr"
)

// Check obtains the credentials a delivery of d would use — the central
// role, then the tenant's role with its ExternalId — writing nothing. It
// implements deliver.Checker.
func (dv *Deliverer) Check(ctx context.Context, d *deliver.Delivery) error {
	st, err := deliver.SettingsOf[Settings](d, Kind())
	if err != nil {
		return err
	}
	creds, _, err := dv.credentials(ctx, d, st)
	if err != nil {
		return err
	}
	if _, err := creds.Retrieve(ctx); err != nil {
		return awserr.Classify(fmt.Errorf("cloudwatch: assuming the roles of %s/%s: %w", d.Config.TenantID, d.Config.Type, err))
	}
	return nil
}
