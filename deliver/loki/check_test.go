package loki_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/loki"
	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
)

// Check resolves the secrets a push would send, and pushes nothing.
func TestCheck(t *testing.T) {
	srv := newFake(t, lokitest.Options{})
	dv := newDeliverer(t, func(o *loki.Options) { o.Secrets = secrets{"acme file:acme/t": "topsecret"} })
	var _ deliver.Checker = dv

	ok := delivery(t, dv, config(srv.URL, map[string]any{"auth": map[string]any{"token_ref": "file:acme/t"}}), nil)
	require.NoError(t, dv.Check(context.Background(), ok))

	missing := delivery(t, dv, config(srv.URL, map[string]any{"auth": map[string]any{"token_ref": "file:acme/gone"}}), nil)
	err := dv.Check(context.Background(), missing)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "settings.auth.token_ref")
	assert.NotContains(t, err.Error(), "topsecret")
	assert.Zero(t, srv.Pushes(""), "nothing was pushed")
}
