package httpsend

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/keyparse"
)

func TestDocument(t *testing.T) {
	key := keyparse.Key{Cluster: "prod-east-1", Namespace: "acme", Tenant: "acme", Application: "payments", Pod: "payments-0"}
	labels := map[string]string{"app.kubernetes.io/name": "payments", "app": "pay"}
	rec := deliver.Record{
		Time:    time.Date(2026, 11, 30, 11, 0, 0, 120_000_000, time.FixedZone("CET", 3600)),
		Message: "payment \"accepted\"\n", Stream: "stdout", Container: "app", Host: "node-1", Labels: labels,
	}

	d := &Document{Key: key}
	got := string(d.Append(nil, &rec))
	assert.Equal(t, `{"@timestamp":"2026-11-30T10:00:00.120000000Z","message":"payment \"accepted\"\n","stream":"stdout",`+
		`"cluster":"prod-east-1","application":"payments","kubernetes":{"namespace":"acme","pod":"payments-0","container":"app"}}`, got,
		"UTC with nine digits; the key's fields where the record has none; no optional fields unless asked")

	d = &Document{Key: key, Fields: deliver.FieldHost | deliver.FieldLabels | deliver.FieldNamespaceLabels, ReplaceDots: true}
	rec.Namespace, rec.Pod, rec.Cluster, rec.Application = "ns", "pod-1", "c9", "app9"
	rec.NamespaceLabels = map[string]string{"team": "pay"}
	got = string(d.Append(nil, &rec))
	assert.Equal(t, `{"@timestamp":"2026-11-30T10:00:00.120000000Z","message":"payment \"accepted\"\n","stream":"stdout",`+
		`"cluster":"c9","application":"app9","kubernetes":{"namespace":"ns","pod":"pod-1","container":"app","host":"node-1",`+
		`"labels":{"app":"pay","app_kubernetes_io/name":"payments"},"namespace_labels":{"team":"pay"}}}`, got,
		"the record's own fields; labels sorted, dots replaced")
	assert.Equal(t, got, string(d.Append(nil, &rec)), "the cached labels encode the same")

	// A map of the same pod is served from the cache, another map is not.
	rec.Labels = map[string]string{"app": "other"}
	assert.Contains(t, string(d.Append(nil, &rec)), `"labels":{"app":"other"}`)

	bare := deliver.Record{Time: time.Unix(0, 1), Message: "x"}
	assert.Equal(t, `{"@timestamp":"1970-01-01T00:00:00.000000001Z","message":"x"}`, string((&Document{}).Append(nil, &bare)),
		"no kubernetes object without its fields")
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(got), &v))
}

func BenchmarkDocument(b *testing.B) {
	d := &Document{Key: keyparse.Key{Cluster: "c1", Namespace: "acme", Application: "api", Pod: "api-0"}, Fields: deliver.FieldLabels}
	rec := deliver.Record{Time: time.Now(), Message: strings.Repeat("GET /api/v1/orders 200 12ms ", 6), Stream: "stdout",
		Labels: map[string]string{"app": "api", "pod-template-hash": "5d8f7c9b6"}}
	var dst []byte
	b.ReportAllocs()
	for b.Loop() {
		dst = d.Append(dst[:0], &rec)
	}
	b.SetBytes(int64(len(dst)))
}

func TestDocumentTime(t *testing.T) {
	d := &Document{}
	base := time.Date(2026, 11, 30, 23, 59, 59, 999_999_999, time.FixedZone("X", 5*3600))
	for _, tm := range []time.Time{base, base.Add(time.Nanosecond), base.Add(time.Second), time.Unix(-1, 5), time.Unix(0, 0), base, time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)} {
		assert.Equal(t, tm.UTC().Format(TimeLayout), string(d.appendTime(nil, tm)), "%v", tm)
	}
}
