package configapi

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

func fields(p Problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// The attack of the security review: a key scoped to tenant acme points
// acme's config at globex's role and globex's bucket. With identities the
// API refuses both, naming the rule; a config of acme's own account passes.
func TestIdentitiesBindConfigsToTheTenantsAccounts(t *testing.T) {
	ids, err := memstore.NewIdentities(
		tenant.Identity{TenantID: "acme", Accounts: []string{"222222222222"}},
		tenant.Identity{TenantID: "globex", Accounts: []string{"333333333333"}},
	)
	require.NoError(t, err)
	e := newEnv(t, withOptions(func(o *Options) { o.Identities = ids }))

	r := e.do(request{method: "POST", path: "/tenants/acme/delivery-configs",
		body: `{"type":"cloudwatch","log_distribution_role_arn":"arn:aws:iam::333333333333:role/LogDistributionRole","log_group_name":"/globex/logs"}`})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	p := r.problem(t)
	assert.Equal(t, []string{"log_distribution_role_arn"}, fields(p))
	assert.Contains(t, p.Errors[0].Message, `account 333333333333 is not one of tenant "acme"'s accounts`)

	r = e.do(request{method: "POST", path: "/tenants/acme/delivery-configs",
		body: `{"type":"s3","bucket_name":"globex-logs","bucket_owner":"333333333333"}`})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	assert.Equal(t, []string{"bucket_owner"}, fields(r.problem(t)))

	r = e.do(request{method: "POST", path: "/tenants/acme/delivery-configs",
		body: `{"type":"cloudwatch","log_distribution_role_arn":"arn:aws:iam::222222222222:role/LogDistributionRole","log_group_name":"/acme/logs"}`})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)

	r = e.do(request{method: "POST", path: "/tenants/initech/delivery-configs", body: `{"type":"s3","bucket_name":"initech-logs"}`})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	assert.Contains(t, r.problem(t).Errors[0].Message, "no identity record")
}

// external_id is the operator's: a tenant can neither set nor change it,
// and a PUT that leaves it out keeps it.
func TestOperatorFieldsAreNotTenantWritable(t *testing.T) {
	e := newEnv(t)
	r := e.do(request{method: "POST", path: "/tenants/acme/delivery-configs",
		body: `{"type":"cloudwatch","log_distribution_role_arn":"arn:aws:iam::222222222222:role/R","log_group_name":"/acme/logs","external_id":"mine"}`})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s", r.body)
	p := r.problem(t)
	assert.Equal(t, []string{"external_id"}, fields(p))
	assert.Contains(t, p.Errors[0].Message, "set by the platform operator")

	// The operator set one in the store directly.
	_, err := e.mem.Create(ctx(t), tenant.DeliveryConfig{TenantID: "acme", Type: "cloudwatch", Settings: map[string]any{
		"log_distribution_role_arn": "arn:aws:iam::222222222222:role/R", "log_group_name": "/acme/logs", "external_id": "operator-issued"}})
	require.NoError(t, err)
	r = e.do(request{method: "PUT", path: "/tenants/acme/delivery-configs/cloudwatch",
		body: `{"log_distribution_role_arn":"arn:aws:iam::222222222222:role/R","log_group_name":"/acme/other"}`})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	got, err := e.mem.Get(ctx(t), "acme", "cloudwatch")
	require.NoError(t, err)
	assert.Equal(t, "operator-issued", got.Settings["external_id"], "a PUT without it keeps the operator's value")
	assert.Equal(t, "/acme/other", got.Settings["log_group_name"])

	for _, body := range []string{`{"external_id":"changed"}`, `{"external_id":null}`} {
		r = e.do(request{method: "PATCH", path: "/tenants/acme/delivery-configs/cloudwatch", body: body})
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", body, r.body)
	}
	r = e.do(request{method: "PATCH", path: "/tenants/acme/delivery-configs/cloudwatch", body: `{"groups":["API"]}`})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	got, err = e.mem.Get(ctx(t), "acme", "cloudwatch")
	require.NoError(t, err)
	assert.Equal(t, "operator-issued", got.Settings["external_id"], "a PATCH of other fields keeps it")
}
