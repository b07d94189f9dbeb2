package s3

import (
	"context"
	"fmt"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/awserr"
)

// Check works out the destination key of d and obtains the central
// role's credentials the copy would use, writing nothing. It implements
// deliver.Checker.
func (d *Deliverer) Check(ctx context.Context, dl *deliver.Delivery) error {
	st, err := deliver.SettingsOf[Settings](dl, Kind())
	if err != nil {
		return err
	}
	if _, err := d.tmpl.Expand(dl.Key, map[string]string{"bucket_prefix": st.Prefix()}); err != nil {
		return fault.Permanent(fmt.Errorf("s3 deliverer: destination key for %s: %w", dl.Object.Key, err))
	}
	creds, err := d.chain.Provider(ctx, d.opts.Region)
	if err == nil {
		_, err = creds.Retrieve(ctx)
	}
	if err != nil {
		return awserr.Classify(fmt.Errorf("s3 deliverer: credentials to copy into %s: %w", st.BucketName, err))
	}
	return nil
}
