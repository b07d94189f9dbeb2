package loki_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/internal/victoriatest"
)

// gateway is what sits in front of a multi-tenant Loki: it reads the org
// id of each push and routes it to that org's storage. In front of
// VictoriaLogs it maps X-Scope-OrgID to VictoriaLogs' numeric AccountID
// and refuses unknown orgs; the body goes through unchanged, so the push
// VictoriaLogs decodes is the deliverer's own.
func gateway(t *testing.T, backend string, accounts map[string]int) string {
	t.Helper()
	target, err := url.Parse(backend)
	require.NoError(t, err)
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Header.Set("AccountID", strconv.Itoa(accounts[r.In.Header.Get("X-Scope-OrgID")]))
		r.Out.Header.Set("ProjectID", "0")
		r.Out.Header.Del("X-Scope-OrgID")
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := accounts[r.Header.Get("X-Scope-OrgID")]; !ok {
			http.Error(w, "no such org", http.StatusForbidden)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// The push protocol against a real implementation: VictoriaLogs decodes
// the protobuf and snappy of the deliverer; each org's entries come back
// to that org only, line for line, with their labels, their structured
// metadata and their timestamps to the nanosecond.
func TestVictoriaLogsRoundTrip(t *testing.T) {
	vl := victoriatest.Start(t)
	gw := gateway(t, vl.URL, map[string]int{"acme": 11, "globex": 12})
	dv := newDeliverer(t)

	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	lines := []string{
		`plain text`,
		`  leading and trailing spaces  `,
		"tabs\tand\ttabs",
		`{"level":"info","msg":"json \"quoted\" line","n":1}`,
		`ünïcödé ✓ 日本語`,
		`a line with a backslash \ and a brace {namespace}`,
	}
	var recs []deliver.Record
	for i := range 60 {
		ns, pod := "shop", fmt.Sprintf("api-%d", i%3)
		if i%2 == 1 {
			ns = "billing"
		}
		recs = append(recs, deliver.Record{
			Time:        start.Add(time.Duration(i)*time.Second + time.Duration(i*7919+1)), // odd nanoseconds
			Message:     fmt.Sprintf("%s #%d", lines[i%len(lines)], i),
			Namespace:   ns,
			Pod:         pod,
			Container:   "main",
			Application: "api",
		})
	}
	deliverTo := func(orgID string, recs []deliver.Record) {
		cfg := config(gw+"/insert", map[string]any{
			"labels":          map[string]any{"team": "team-{namespace}", "quoted": `say "hi"`},
			"label_fields":    map[string]any{"namespace": "namespace", "app": "application"},
			"metadata_fields": map[string]any{"pod": "pod", "container": "container"},
			"batch_entries":   25, // several pushes
		})
		cfg.TenantID = orgID
		rcpt, err := dv.Deliver(context.Background(), delivery(t, dv, cfg, recs))
		require.NoError(t, err)
		assert.Equal(t, int64(len(recs)), rcpt.Events)
		assert.Equal(t, (len(recs)+24)/25, rcpt.Calls)
	}
	deliverTo("acme", recs)
	deliverTo("globex", recs[:5])

	vl.Flush(t)
	var got []map[string]string
	deadline := time.Now().Add(15 * time.Second)
	for len(got) < len(recs) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		got = vl.Query(t, 11, "* | sort by (_time)")
	}
	require.Len(t, got, len(recs), "every entry of acme arrived")
	for i, g := range got {
		r := recs[i]
		assert.Equal(t, r.Message, g["_msg"], "entry %d: the line unchanged", i)
		ts, err := time.Parse(time.RFC3339Nano, g["_time"])
		require.NoError(t, err)
		assert.True(t, r.Time.Equal(ts), "entry %d: time %s, want %s (nanoseconds kept)", i, g["_time"], r.Time.UTC().Format(time.RFC3339Nano))
		assert.Equal(t, r.Namespace, g["namespace"], "entry %d: label namespace", i)
		assert.Equal(t, "api", g["app"])
		assert.Equal(t, "team-"+r.Namespace, g["team"], "a templated label")
		assert.Equal(t, `say "hi"`, g["quoted"], "a quoted label value")
		assert.Equal(t, r.Pod, g["pod"], "entry %d: structured metadata", i)
		assert.Equal(t, "main", g["container"])
	}
	streams := map[string]bool{}
	for _, g := range got {
		streams[g["_stream"]] = true
	}
	assert.Len(t, streams, 2, "one stream per namespace: pod is metadata, not a label")

	other := vl.Query(t, 12, "* | sort by (_time)")
	require.Len(t, other, 5, "globex's org holds globex's entries only")
	var msgs []string
	for _, g := range other {
		msgs = append(msgs, g["_msg"])
	}
	assert.True(t, slices.Equal(msgs, []string{recs[0].Message, recs[1].Message, recs[2].Message, recs[3].Message, recs[4].Message}))
	assert.Empty(t, vl.Query(t, 13, "*"), "no other account")
}
