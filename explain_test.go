package logdelivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/ledger"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

// explainConfigs are configs of tenant acme, one for each reason a
// destination may or may not receive c1/acme/payments/pod-1/1.json.gz.
func explainConfigs() []tenant.DeliveryConfig {
	named := func(c tenant.DeliveryConfig, typ string, fn func(*tenant.DeliveryConfig)) tenant.DeliveryConfig {
		c.Type = typ
		c.Settings = maps.Clone(c.Settings)
		fn(&c)
		return c
	}
	cw, s3c := storetest.CloudWatch("acme"), storetest.S3("acme")
	return []tenant.DeliveryConfig{
		cw,
		named(cw, "cloudwatch:labels", func(c *tenant.DeliveryConfig) {
			c.Match = []tenant.MatchRule{{Select: &tenant.MatchCriteria{Labels: map[string]string{"tier": "prod"}}}}
		}),
		named(cw, "cloudwatch:canary", func(c *tenant.DeliveryConfig) {
			c.Match = []tenant.MatchRule{{Select: &tenant.MatchCriteria{Namespaces: []string{"payments-canary"}}}}
		}),
		named(cw, "cloudwatch:api", func(c *tenant.DeliveryConfig) { c.Groups = []string{"API"} }),
		named(cw, "cloudwatch:broken", func(c *tenant.DeliveryConfig) { delete(c.Settings, "log_group_name") }),
		named(s3c, "s3", func(c *tenant.DeliveryConfig) { c.Enabled = tenant.Bool(false) }),
		named(s3c, "s3:payments", func(c *tenant.DeliveryConfig) { c.DesiredLogs = []string{"payments"} }),
		named(s3c, "s3:old", func(c *tenant.DeliveryConfig) { c.TTL = time.Now().Add(-time.Hour).Unix() }),
		{TenantID: "acme", Type: "webhook"},
	}
}

// Explain says, for each of the tenant's configs, what Dispatch then
// does: the destinations it says deliver are exactly those delivered to.
func TestExplainAgreesWithDispatch(t *testing.T) {
	rec := &delivertest.Recorder{}
	store := newStore(t, explainConfigs()...)
	r, err := deliver.NewRegistry([]deliver.Kind{
		cloudwatch.Kind().With(rec), s3.Kind().With(rec),
		delivertest.Kind("webhook", nil, true), // a kind without a deliverer
	})
	require.NoError(t, err)
	led := ledger.NewMemory()
	d, err := logdelivery.NewDispatcher(store, r, func(o *logdelivery.Options) { o.Ledger = led })
	require.NoError(t, err)
	ctx := context.Background()
	o := logdelivery.Object{Bucket: "central", Key: "c1/acme/payments/pod-1/1.json.gz", ETag: "e1"}

	e := d.Explain(ctx, o)
	require.Empty(t, e.Error)
	assert.Equal(t, "acme", e.Key.Tenant)
	assert.Equal(t, "payments", e.Key.Application)
	assert.Nil(t, e.Identity, "no identities")
	plans := map[string]logdelivery.DestinationPlan{}
	for _, p := range e.Destinations {
		plans[p.Type] = p
	}
	require.Len(t, plans, 9)
	want := map[string]struct{ decision, reason, records string }{
		"cloudwatch":        {logdelivery.PlanDeliver, "selected", "all"},
		"cloudwatch:labels": {logdelivery.PlanDeliver, "record by record", "some"},
		"cloudwatch:canary": {logdelivery.PlanSkip, `the match rules select no record of namespace "acme", application "payments"`, ""},
		"cloudwatch:api":    {logdelivery.PlanSkip, `application "payments" is not among desired_logs and groups (kube-apiserver, openshift-apiserver)`, ""},
		"cloudwatch:broken": {logdelivery.PlanFail, "log_group_name", ""},
		"s3":                {logdelivery.PlanSkip, logdelivery.ReasonDisabled, ""},
		"s3:payments":       {logdelivery.PlanDeliver, `application "payments" is among desired_logs and groups; the object is copied whole`, ""},
		"s3:old":            {logdelivery.PlanSkip, logdelivery.ReasonExpired, ""},
		"webhook":           {logdelivery.PlanFail, "no deliverer", ""},
	}
	for typ, w := range want {
		p := plans[typ]
		assert.Equal(t, w.decision, p.Decision, typ)
		assert.Contains(t, p.Reason, w.reason, typ)
		assert.Equal(t, w.records, p.Records, typ)
	}
	assert.Empty(t, rec.Deliveries(), "explaining delivers nothing")

	rs := d.Dispatch(ctx, o)
	for _, res := range rs {
		p := plans[res.Destination]
		switch p.Decision {
		case logdelivery.PlanDeliver:
			assert.Equal(t, logdelivery.Delivered, res.Outcome, res.Destination)
		case logdelivery.PlanSkip:
			assert.Equal(t, logdelivery.Skipped, res.Outcome, res.Destination)
			assert.Contains(t, p.Reason, res.Reason, res.Destination)
		case logdelivery.PlanFail:
			assert.Equal(t, logdelivery.Failed, res.Outcome, res.Destination)
		}
	}
	assert.Len(t, rec.Deliveries(), 3)

	// Once delivered, the ledger says so.
	e = d.Explain(ctx, o)
	for _, p := range e.Destinations {
		if p.Type == "cloudwatch" || p.Type == "s3:payments" {
			assert.Equal(t, logdelivery.PlanSkip, p.Decision, p.Type)
			assert.Equal(t, logdelivery.ReasonDelivered, p.Reason, p.Type)
		}
	}

	text := d.Explain(ctx, logdelivery.Object{Key: o.Key}).String()
	assert.Contains(t, text, "tenant:  acme\n")
	assert.Contains(t, text, "deliver: cloudwatch [records: all]: selected\n", "without a bucket the ledger is not read")
	assert.Contains(t, text, "skip:    s3: delivery config disabled\n")
	b, err := json.Marshal(e)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"decision":"skip"`)
}

func TestExplainStops(t *testing.T) {
	d := newDispatcher(t, newStore(t, storetest.S3("acme")), map[string]deliver.Deliverer{"s3": &delivertest.Recorder{}})
	ctx := context.Background()
	e := d.Explain(ctx, logdelivery.Object{Key: "not/a/key"})
	assert.Contains(t, e.Error, "not/a/key")
	assert.False(t, e.Retryable)
	assert.Contains(t, e.String(), "error:")

	e = d.Explain(ctx, logdelivery.Object{Key: "c1/globex/app/pod/1.gz"})
	assert.Empty(t, e.Error)
	assert.Empty(t, e.Destinations)
	assert.Contains(t, e.String(), "skip:    "+logdelivery.ReasonNoConfig)

	d = newDispatcher(t, failingStore{}, map[string]deliver.Deliverer{"s3": &delivertest.Recorder{}})
	e = d.Explain(ctx, logdelivery.Object{Key: "c1/acme/app/pod/1.gz"})
	assert.Contains(t, e.Error, "ProvisionedThroughputExceeded")
	assert.True(t, e.Retryable, "a store failure is retried")
	assert.Contains(t, e.String(), "error (retryable):")

	ids := identities{"acme": {TenantID: "acme", Accounts: []string{"222222222222"}, ExternalID: "issued-by-ops"}}
	d = newDispatcher(t, newStore(t, storetest.S3("acme")), map[string]deliver.Deliverer{"s3": &delivertest.Recorder{}},
		func(o *logdelivery.Options) { o.Identities = ids })
	e = d.Explain(ctx, logdelivery.Object{Key: "c1/acme/app/pod/1.gz"})
	require.NotNil(t, e.Identity)
	assert.Equal(t, &logdelivery.ExplainedIdentity{Accounts: []string{"222222222222"}, ExternalID: "issued"}, e.Identity)
	assert.NotContains(t, e.String(), "issued-by-ops", "the ExternalId is never shown")
	e = d.Explain(ctx, logdelivery.Object{Key: "c1/globex/app/pod/1.gz"})
	assert.Contains(t, e.Error, "no identity")
}

type failingStore struct{}

func (failingStore) Configs(context.Context, string) ([]tenant.DeliveryConfig, error) {
	return nil, errors.New("ProvisionedThroughputExceededException")
}

type identities map[string]tenant.Identity

func (m identities) Identity(_ context.Context, id string) (tenant.Identity, error) {
	if v, ok := m[id]; ok {
		return v, nil
	}
	return tenant.Identity{}, tenant.ErrNoIdentity
}

// checkingDeliverer is a Recorder that can tell whether it reaches a
// destination: every config but s3:denied.
type checkingDeliverer struct {
	delivertest.Recorder
	checked []string
}

func (c *checkingDeliverer) Check(_ context.Context, d *deliver.Delivery) error {
	c.checked = append(c.checked, d.Config.Type)
	if d.Settings == nil {
		return errors.New("no settings")
	}
	if d.Config.Type == "s3:denied" {
		return fault.Permanent(errors.New("AccessDenied: not authorized to perform sts:AssumeRole"))
	}
	return nil
}

func TestExplainChecks(t *testing.T) {
	denied, disabled := storetest.S3("acme"), storetest.S3("acme")
	denied.Type = "s3:denied"
	disabled.Type, disabled.Enabled = "s3:off", tenant.Bool(false)
	dl := &checkingDeliverer{}
	d := newDispatcher(t, newStore(t, storetest.S3("acme"), denied, disabled), map[string]deliver.Deliverer{"s3": dl})
	o := logdelivery.Object{Key: "c1/acme/app/pod/1.gz"}

	e := d.Explain(context.Background(), o)
	assert.Empty(t, dl.checked, "without Check nothing is asked of the destinations")
	for _, p := range e.Destinations {
		assert.NotEqual(t, logdelivery.PlanFail, p.Decision, p.Type)
	}

	e = d.Explain(context.Background(), o, func(eo *logdelivery.ExplainOptions) { eo.Check = true })
	assert.ElementsMatch(t, []string{"s3", "s3:denied"}, dl.checked, "only the destinations that would receive the object")
	plans := map[string]logdelivery.DestinationPlan{}
	for _, p := range e.Destinations {
		plans[p.Type] = p
	}
	assert.Equal(t, logdelivery.PlanDeliver, plans["s3"].Decision)
	assert.Equal(t, logdelivery.PlanFail, plans["s3:denied"].Decision)
	assert.Contains(t, plans["s3:denied"].Reason, "cannot reach it: AccessDenied")
	assert.False(t, plans["s3:denied"].Retryable)
	assert.Empty(t, dl.Deliveries(), "checking delivers nothing")
}
