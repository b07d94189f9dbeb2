package configapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

// The client over the handler over a memstore is itself a conforming
// tenant.Store: every store operation survives the trip through the API.
func TestClientConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tenant.Store {
		return newEnv(t).client
	})
}

func TestEndpointsThroughClient(t *testing.T) {
	e := newEnv(t)
	c := e.client
	require.NoError(t, c.Health(ctx(t)))

	created, err := c.Create(ctx(t), cwConfig("acme"))
	require.NoError(t, err)
	assert.NotEmpty(t, created.UpdatedAt)
	assert.Equal(t, "/rosa/acme", created.Settings["log_group_name"])

	archive := s3Config("acme")
	archive.Type = "s3:archive"
	_, err = c.Create(ctx(t), archive)
	require.NoError(t, err, "named destinations (':' in the path) work")

	got, err := c.Get(ctx(t), "acme", "s3:archive")
	require.NoError(t, err)
	assert.Equal(t, "tenant-logs-acme", got.Settings["bucket_name"])

	list, err := c.Configs(ctx(t), "acme")
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, []string{"cloudwatch", "s3:archive"}, []string{list[0].Type, list[1].Type})

	empty, err := c.Configs(ctx(t), "nobody")
	require.NoError(t, err)
	assert.Empty(t, empty)
	assert.NotNil(t, empty)

	// PUT replaces every field.
	repl := cwConfig("acme")
	repl.DesiredLogs = []string{"payments"}
	repl.TargetRegion = ""
	replaced, err := c.Replace(ctx(t), repl, tenant.Condition{IfUpdatedAt: created.UpdatedAt})
	require.NoError(t, err)
	assert.Equal(t, []string{"payments"}, replaced.DesiredLogs)
	assert.Empty(t, replaced.TargetRegion)
	assert.Equal(t, created.CreatedAt, replaced.CreatedAt)
	assert.NotEqual(t, created.UpdatedAt, replaced.UpdatedAt)

	// PATCH merges: null removes, others replace, the rest stays.
	patched, err := c.Patch(ctx(t), "acme", "cloudwatch", map[string]any{
		"enabled": false, "desired_logs": nil, "groups": []string{"API"},
	}, tenant.Condition{IfUpdatedAt: replaced.UpdatedAt})
	require.NoError(t, err)
	require.NotNil(t, patched.Enabled)
	assert.False(t, *patched.Enabled)
	assert.Nil(t, patched.DesiredLogs)
	assert.Equal(t, []string{"API"}, patched.Groups)
	assert.Equal(t, repl.Settings["log_distribution_role_arn"], patched.Settings["log_distribution_role_arn"])

	rep, err := c.Validate(ctx(t), "acme", "cloudwatch")
	require.NoError(t, err)
	assert.True(t, rep.Valid)
	assert.False(t, rep.Active, "disabled")
	assert.Contains(t, rep.Checks, Check{Name: "enabled", Outcome: OutcomeWarn, Message: "the config is disabled; the processor skips it"})
	assert.Contains(t, rep.Checks, Check{Name: "log_group_name", Outcome: OutcomePass, Message: "required; The tenant's log group: at most 512 letters, digits, '_', '-', '/', '.' and '#', not under aws/."})

	_, err = c.Create(ctx(t), s3Config("globex"))
	require.NoError(t, err)
	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		items, next, err := c.List(ctx(t), 2, cursor)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(items), 2)
		for _, it := range items {
			all = append(all, it.TenantID+"/"+it.Type)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	assert.Equal(t, []string{"acme/cloudwatch", "acme/s3:archive", "globex/s3"}, all)

	require.NoError(t, c.Delete(ctx(t), "acme", "s3:archive", tenant.Condition{}))
	_, err = c.Get(ctx(t), "acme", "s3:archive")
	assert.ErrorIs(t, err, tenant.ErrNotFound)
}

func TestClientTypedErrors(t *testing.T) {
	e := newEnv(t)
	c := e.client
	v1, err := c.Create(ctx(t), s3Config("acme"))
	require.NoError(t, err)

	_, err = c.Get(ctx(t), "acme", "cloudwatch")
	var p *Problem
	require.ErrorAs(t, err, &p)
	assert.Equal(t, http.StatusNotFound, p.Status)
	assert.Equal(t, ProblemNotFound, p.Kind())
	assert.ErrorIs(t, err, tenant.ErrNotFound)

	_, err = c.Create(ctx(t), s3Config("acme"))
	assert.ErrorIs(t, err, tenant.ErrExists)
	assert.NotErrorIs(t, err, tenant.ErrConflict)

	_, err = c.Replace(ctx(t), s3Config("acme"), tenant.Condition{})
	require.NoError(t, err)
	_, err = c.Replace(ctx(t), s3Config("acme"), tenant.Condition{IfUpdatedAt: v1.UpdatedAt})
	assert.ErrorIs(t, err, tenant.ErrConflict, "412")
	_, err = c.Patch(ctx(t), "acme", "s3", map[string]any{"enabled": false}, tenant.Condition{IfUpdatedAt: v1.UpdatedAt})
	assert.ErrorIs(t, err, tenant.ErrConflict, "412 on PATCH")
	assert.ErrorIs(t, c.Delete(ctx(t), "acme", "s3", tenant.Condition{IfUpdatedAt: v1.UpdatedAt}), tenant.ErrConflict)

	bad := s3Config("acme")
	bad.Type = "s3:bad"
	bad.Settings["bucket_name"] = "Not_A_Bucket"
	bad.TargetRegion = "mars"
	_, err = c.Create(ctx(t), bad)
	assert.ErrorIs(t, err, tenant.ErrInvalidConfig)
	var ve *tenant.ValidationError
	require.ErrorAs(t, err, &ve)
	fields := map[string]bool{}
	for _, fe := range ve.Problems {
		fields[fe.Field] = true
	}
	assert.Equal(t, map[string]bool{"bucket_name": true, "target_region": true}, fields)

	_, _, err = c.List(ctx(t), 10, "garbage!")
	assert.ErrorIs(t, err, tenant.ErrInvalidCursor)

	_, err = c.Patch(ctx(t), "acme", "s3", map[string]any{"bucket_name": nil}, tenant.Condition{})
	assert.ErrorIs(t, err, tenant.ErrInvalidConfig, "a patch removing a required field")

	_, err = c.Get(ctx(t), "", "s3")
	assert.ErrorIs(t, err, tenant.ErrInvalidConfig, "empty ids never reach the server")

	wrong, err := NewClient(e.srv.URL, "k1", []byte("not the secret"), func(o *ClientOptions) { o.Now = e.clock.Now })
	require.NoError(t, err)
	_, err = wrong.Get(ctx(t), "acme", "s3")
	assert.ErrorIs(t, err, ErrUnauthenticated)
	require.ErrorAs(t, err, &p)
	assert.Equal(t, http.StatusUnauthorized, p.Status)

	deny := newEnv(t, withOptions(func(o *Options) {
		o.Authorizer = AuthorizerFunc(func(_ context.Context, _ Principal, _ Action, _ string) error { return ErrForbidden })
	}))
	_, err = deny.client.Configs(ctx(t), "acme")
	assert.ErrorIs(t, err, ErrForbidden)
}

func TestClientNonProblemErrors(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>bad gateway</html>"))
	}))
	defer proxy.Close()
	c, err := NewClient(proxy.URL, "k1", []byte("s"))
	require.NoError(t, err)
	_, err = c.Get(ctx(t), "acme", "s3")
	var p *Problem
	require.ErrorAs(t, err, &p)
	assert.Equal(t, http.StatusBadGateway, p.Status)
	assert.Equal(t, "about:blank", p.Type)

	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	c, err = NewClient(notFound.URL, "k1", []byte("s"))
	require.NoError(t, err)
	_, err = c.Get(ctx(t), "acme", "s3")
	assert.ErrorIs(t, err, tenant.ErrNotFound, "a plain 404 still matches")
}

func TestNewClientRejectsBadArguments(t *testing.T) {
	for name, args := range map[string][3]string{
		"relative URL": {"/api", "k", "s"},
		"ftp URL":      {"ftp://host", "k", "s"},
		"query":        {"http://host/?a=b", "k", "s"},
		"empty key":    {"http://host", "", "s"},
		"comma key":    {"http://host", "a,b", "s"},
		"no secret":    {"http://host", "k", ""},
	} {
		_, err := NewClient(args[0], args[1], []byte(args[2]))
		assert.Error(t, err, name)
	}
}

// The handler can be mounted under a prefix; the client signs the full path.
func TestClientUnderPrefix(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	mux.Handle("/platform/logdelivery/", http.StripPrefix("/platform/logdelivery", e.h))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := NewClient(srv.URL+"/platform/logdelivery/", "k2", testKeys["k2"], func(o *ClientOptions) { o.Now = e.clock.Now })
	require.NoError(t, err)
	_, err = c.Create(ctx(t), s3Config("acme"))
	require.NoError(t, err)
	got, err := c.Get(ctx(t), "acme", "s3")
	require.NoError(t, err)
	assert.Equal(t, "tenant-logs-acme", got.Settings["bucket_name"])

	// Location stays below the prefix.
	body := []byte(mustJSON(t, cwConfig("acme")))
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/platform/logdelivery/tenants/acme/delivery-configs", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", mediaJSON)
	require.NoError(t, SignRequest(req, body, "k1", testKeys["k1"], e.clock.Now(), e.nonce()))
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, "/platform/logdelivery/tenants/acme/delivery-configs/cloudwatch", resp.Header.Get("Location"))
}

func TestProblemError(t *testing.T) {
	p := newProblem(ProblemValidation, "2 fields are invalid",
		tenant.FieldError{Field: "a", Message: "is bad"}, tenant.FieldError{Field: "b", Message: "is worse"})
	assert.Equal(t, "configapi: 422 Invalid delivery config: 2 fields are invalid: a: is bad; b: is worse", p.Error())
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"urn:logdelivery:problem:validation","title":"Invalid delivery config","status":422,
		"detail":"2 fields are invalid","errors":[{"field":"a","message":"is bad"},{"field":"b","message":"is worse"}]}`, string(b))
	assert.False(t, errors.Is(p, tenant.ErrNotFound))
}
