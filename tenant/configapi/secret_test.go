package configapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A setting may only reference a secret: a value in its place is refused,
// and the refusal does not echo it.
func TestSecretsAreReferencedNeverStored(t *testing.T) {
	e := newEnv(t)
	const value = "sk-live-0123456789abcdef"
	r := e.do(request{method: "POST", path: "/tenants/acme/delivery-configs",
		body: `{"type":"hook","settings":{"url":"https://hooks.example/x","token":"` + value + `"}}`})
	require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
	p := r.problem(t)
	require.Len(t, p.Errors, 1)
	assert.Equal(t, "settings.token", p.Errors[0].Field)
	assert.Contains(t, p.Errors[0].Message, "secret reference")
	assert.NotContains(t, string(r.body), value, "the refusal never echoes what may be a secret")
	assert.NotContains(t, e.logs.String(), value, "nor does the log")

	ref := "arn:aws:secretsmanager:us-east-1:222222222222:secret:logdelivery/acme/hook-token-AbCdEf"
	r = e.do(request{method: "POST", path: "/tenants/acme/delivery-configs",
		body: `{"type":"hook","settings":{"url":"https://hooks.example/x","token":"` + ref + `"}}`})
	require.Equal(t, http.StatusCreated, r.status, r.body)
	assert.Contains(t, string(r.body), ref, "a reference is stored and returned as it is")

	doc := string(e.h.OpenAPI())
	assert.True(t, strings.Contains(doc, `"token"`), "the reference is in the kind's schema")
}
