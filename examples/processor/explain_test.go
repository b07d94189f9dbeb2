package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver/delivertest"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

func TestExplainMode(t *testing.T) {
	archive := storetest.S3("acme")
	archive.Type, archive.DesiredLogs = "s3:archive", []string{"billing"}
	store, err := memstore.New(nil)
	require.NoError(t, err)
	_, err = store.Create(context.Background(), storetest.S3("acme"))
	require.NoError(t, err)
	_, err = store.Create(context.Background(), archive)
	require.NoError(t, err)
	rec := &delivertest.Recorder{}
	d, err := logdelivery.NewDispatcher(store, kindsOf(t, s3.Kind().With(rec)))
	require.NoError(t, err)
	ctx := context.Background()

	var out bytes.Buffer
	code := runExplain(ctx, d, []string{"c/acme/app/pod/1.gz", "s3://central/c/acme/billing/pod/2.gz"}, nil, &out, false)
	assert.Equal(t, 0, code, out.String())
	text := out.String()
	assert.Contains(t, text, "object:  s3:///c/acme/app/pod/1.gz\n")
	assert.Contains(t, text, "tenant:  acme\n")
	assert.Contains(t, text, "deliver: s3: selected; the object is copied whole\n")
	assert.Contains(t, text, `skip:    s3:archive: not selected by desired_logs, groups or match: application "app" is not among desired_logs and groups (billing)`)
	assert.Contains(t, text, "object:  s3://central/c/acme/billing/pod/2.gz\n")
	assert.Contains(t, text, `deliver: s3:archive: application "billing" is among desired_logs and groups; the object is copied whole`)
	assert.Empty(t, rec.Deliveries(), "nothing delivered")

	out.Reset()
	code = runExplain(ctx, d, nil, strings.NewReader(okBody), &out, true)
	assert.Equal(t, 0, code)
	var e logdelivery.Explanation
	require.NoError(t, json.Unmarshal(out.Bytes(), &e))
	assert.Equal(t, "central", e.Object.Bucket)
	assert.Equal(t, "ok", e.Key.Tenant)
	assert.Empty(t, e.Destinations, "tenant ok has no configs here")

	out.Reset()
	code = runExplain(ctx, d, []string{"not-a-key", "s3://central", `{"not":"a notification"}`}, nil, &out, false)
	assert.Equal(t, 1, code)
	lines := out.String()
	assert.Contains(t, lines, "error:")
	assert.Contains(t, lines, `"s3://central": want s3://bucket/key`)
	assert.Contains(t, lines, "not a notification body")
}
