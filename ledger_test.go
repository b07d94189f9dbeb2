package logdelivery_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/ledger"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

// countingLedger counts the calls the Dispatcher makes.
type countingLedger struct {
	ledger.Ledger
	gets, saves, dones int
	failGet            error
}

func (c *countingLedger) Get(ctx context.Context, k ledger.Key) (ledger.Entry, bool, error) {
	c.gets++
	if c.failGet != nil {
		return ledger.Entry{}, false, c.failGet
	}
	return c.Ledger.Get(ctx, k)
}
func (c *countingLedger) Save(ctx context.Context, k ledger.Key, cp []byte) error {
	c.saves++
	return c.Ledger.Save(ctx, k, cp)
}
func (c *countingLedger) Done(ctx context.Context, k ledger.Key) error {
	c.dones++
	return c.Ledger.Done(ctx, k)
}

func versioned(id string) logdelivery.Object {
	o := obj(id, "c/acme/app/pod/f.gz")
	o.VersionID = "v1"
	return o
}

// A duplicate notification (or a retry, or a replay) of a delivered object
// delivers nothing and says so; a new version, or a changed config,
// delivers again. Two ledger calls per delivery on the happy path.
func TestLedgerSkipsWhatIsDone(t *testing.T) {
	l := &countingLedger{Ledger: ledger.NewMemory()}
	store := newStore(t, storetest.S3("acme"))
	rec := &delivertest.Recorder{}
	d := newDispatcher(t, store, map[string]deliver.Deliverer{"s3": rec}, func(o *logdelivery.Options) { o.Ledger = l })

	rs := d.Dispatch(context.Background(), versioned("m1"))
	require.Len(t, rs, 1)
	assert.Equal(t, logdelivery.Delivered, rs[0].Outcome)
	assert.Equal(t, 2, l.gets+l.dones, "a Get and a Done on the happy path")

	rs = d.Dispatch(context.Background(), versioned("m1-again"))
	assert.Equal(t, logdelivery.Skipped, rs[0].Outcome)
	assert.Equal(t, logdelivery.ReasonDelivered, rs[0].Reason)
	assert.Len(t, rec.Deliveries(), 1, "the duplicate delivered nothing")

	v2 := versioned("m2")
	v2.VersionID = "v2"
	assert.Equal(t, logdelivery.Delivered, d.Dispatch(context.Background(), v2)[0].Outcome, "a new version is a new object")

	changed := storetest.WithSetting(storetest.S3("acme"), "bucket_name", "acme-new-bucket")
	_, err := store.Replace(context.Background(), changed, tenant.Condition{})
	require.NoError(t, err)
	assert.Equal(t, logdelivery.Delivered, d.Dispatch(context.Background(), versioned("m1-new-config"))[0].Outcome,
		"a changed destination is delivered to again")
	assert.Len(t, rec.Deliveries(), 3)
}

// A delivery that saved progress and failed is retried from its
// checkpoint.
func TestLedgerResumesFromCheckpoint(t *testing.T) {
	l := ledger.NewMemory()
	attempts := 0
	var seen [][]byte
	rec := &delivertest.Recorder{Func: func(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
		attempts++
		seen = append(seen, d.Checkpoint)
		if attempts == 1 {
			require.NoError(t, d.Progress(ctx, []byte("half")))
			return deliver.Receipt{Events: 5}, fault.Retryable(errors.New("throttled"))
		}
		return deliver.Receipt{Events: 5}, nil
	}}
	d := newDispatcher(t, newStore(t, storetest.S3("acme")), map[string]deliver.Deliverer{"s3": rec}, func(o *logdelivery.Options) { o.Ledger = l })
	assert.Equal(t, logdelivery.Failed, d.Dispatch(context.Background(), versioned("m1"))[0].Outcome)
	assert.Equal(t, logdelivery.Delivered, d.Dispatch(context.Background(), versioned("m1"))[0].Outcome)
	assert.Equal(t, [][]byte{nil, []byte("half")}, seen, "the retry starts from the checkpoint")
}

// A ledger that cannot be read never turns into a skip: the delivery fails
// retryably and nothing is delivered blind.
func TestLedgerFailureIsRetryable(t *testing.T) {
	l := &countingLedger{Ledger: ledger.NewMemory(), failGet: errors.New("DynamoDB throttled")}
	rec := &delivertest.Recorder{}
	d := newDispatcher(t, newStore(t, storetest.S3("acme")), map[string]deliver.Deliverer{"s3": rec}, func(o *logdelivery.Options) { o.Ledger = l })
	rs := d.Dispatch(context.Background(), versioned("m1"))
	require.Len(t, rs, 1)
	assert.Equal(t, logdelivery.Failed, rs[0].Outcome)
	assert.True(t, fault.IsRetryable(rs[0].Err))
	assert.ErrorContains(t, rs[0].Err, "DynamoDB throttled")
	assert.Empty(t, rec.Deliveries())
}
