package awsdispatch_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

func TestNewValidates(t *testing.T) {
	_, err := awsdispatch.New(aws.Config{}, func(o *awsdispatch.Options) { o.Table = "t" })
	assert.ErrorContains(t, err, "no region")
	_, err = awsdispatch.New(aws.Config{Region: "us-east-1"})
	assert.ErrorContains(t, err, "table or a Store")
	_, err = awsdispatch.New(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")}, func(o *awsdispatch.Options) {
		o.Table = "t"
		o.CentralRoleARN = "not-an-arn"
	})
	assert.Error(t, err, "a malformed central role is caught at start, not per delivery")
}

func TestOptionsReachTheDispatcher(t *testing.T) {
	store, err := memstore.New([]tenant.DeliveryConfig{{TenantID: "acme", Type: "webhook"}})
	require.NoError(t, err)
	hook := &delivertest.Recorder{}
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")}
	d, err := awsdispatch.New(cfg, func(o *awsdispatch.Options) {
		o.Store = store
		o.Kinds = []deliver.Kind{delivertest.Kind("webhook", hook, false)}
		o.Dispatcher = func(do *logdelivery.Options) { do.MaxConcurrency = 1 }
	})
	require.NoError(t, err)
	rs := d.Dispatch(context.Background(), logdelivery.Object{ID: "m", Bucket: "central", Key: "c/acme/app/pod/f.gz"})
	require.Len(t, rs, 1)
	assert.Equal(t, logdelivery.Delivered, rs[0].Outcome, "an added deliverer kind is used")
	assert.Len(t, hook.Deliveries(), 1)
}

// New wires every built-in kind; Kinds lists the same names, and
// validates URLs with the policy it is given, as the processor does.
func TestKinds(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("k", "s", "")}
	store, err := memstore.New(nil)
	require.NoError(t, err)
	d, err := awsdispatch.New(cfg, func(o *awsdispatch.Options) { o.Store = store })
	require.NoError(t, err)
	defer d.Close()
	want := []string{"cloudwatch", "dataprepper", "loki", "opensearch", "s3", "webhook"}
	assert.Equal(t, want, d.Kinds().Names())

	var names []string
	for _, k := range awsdispatch.Kinds() {
		names = append(names, k.Name)
	}
	assert.ElementsMatch(t, want, names)

	lokiOn3100 := tenant.DeliveryConfig{TenantID: "acme", Type: "loki", Settings: map[string]any{"url": "https://logs.acme.example.com:3100"}}
	strict, err := deliver.NewRegistry(awsdispatch.Kinds())
	require.NoError(t, err)
	assert.NotEmpty(t, strict.Validate(lokiOn3100), "port 3100 is not in the strict policy")
	open, err := deliver.NewRegistry(awsdispatch.Kinds(func(o *awsdispatch.Options) { o.Egress.Ports = []int{443, 3100} }))
	require.NoError(t, err)
	assert.Empty(t, open.Validate(lokiOn3100), "the operator's policy allows it")
}
