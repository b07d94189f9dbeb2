package prometheus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/limits"
	"github.com/logdelivery/logdelivery/metrics"
	"github.com/logdelivery/logdelivery/sqsworker"
)

// requireEnv turns the skip without promtool into a failure.
const requireEnv = "LOGDELIVERY_REQUIRE_PROMTOOL"

// promtool runs promtool with args and stdin, failing the test with its
// output when it fails.
func promtool(t *testing.T, stdin io.Reader, args ...string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("promtool is not installed (%s=1 forbids skipping): %v", requireEnv, err)
		}
		t.Skipf("promtool is not installed (apt-get install prometheus): %v", err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	// Some lint findings fail the check with exit status 0.
	require.NotContains(t, string(out), "FAILED", "promtool %s:\n%s", strings.Join(args, " "), out)
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

// scrape returns what /metrics of the processor's sqs mode serves (its
// registry: Go and process collectors, the Prometheus observer, the
// worker, limits and reload metrics) once a few results and messages went
// through.
func scrape(t *testing.T) []byte {
	t.Helper()
	reg := promclient.NewPedanticRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p, err := metrics.NewPrometheus(reg)
	require.NoError(t, err)
	w, err := metrics.NewWorker(reg)
	require.NoError(t, err)
	lm, err := metrics.NewLimits(reg)
	require.NoError(t, err)
	rm, err := metrics.NewReloads(reg)
	require.NoError(t, err)
	lm.Waited("acme", "cloudwatch", 10, 1000, time.Second)
	lm.Limited(&limits.LimitedError{Tenant: "acme", Kind: "cloudwatch", Limit: "events_per_second"})
	rm.Loaded(limits.SourceOverrides)
	rm.Reloaded(limits.SourceOverrides, errors.New("invalid"))

	now := time.Now()
	obj := logdelivery.Object{Bucket: "central", Key: "prod-1/acme/api/api-0/1.gz", Time: now.Add(-time.Minute)}
	acme := keyparse.Key{Tenant: "acme", Application: "api"}
	results := logdelivery.Results{
		{Object: obj, Key: acme, Destination: "cloudwatch", Outcome: logdelivery.Delivered, Started: now, Duration: time.Second,
			Receipt: deliver.Receipt{Events: 100, Rejected: 1, Dropped: 2, Truncated: 3, Bytes: 4096}},
		{Object: obj, Key: acme, Destination: "s3", Outcome: logdelivery.Failed, Started: now, Duration: time.Second,
			Err: fault.Permanent(errors.New("NoSuchBucket"))},
		{Object: obj, Key: acme, Destination: "s3:archive", Outcome: logdelivery.Skipped, Reason: logdelivery.ReasonFiltered},
	}
	for _, r := range results {
		p.ObserveResult(context.Background(), r)
	}
	w.Received(2)
	w.ReceiveFailed()
	w.Processed(logdelivery.MessageResult{ID: "m1", Results: results}, now, sqsworker.Parked)
	w.Processed(logdelivery.MessageResult{ID: "m2", Err: fault.Permanent(errors.New("not a notification"))}, now, sqsworker.Kept)

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return body
}

// families returns the metric families of a text exposition.
func families(body []byte) map[string]bool {
	out := map[string]bool{}
	for _, l := range strings.Split(string(body), "\n") {
		if name, ok := strings.CutPrefix(l, "# TYPE "); ok {
			out[strings.Fields(name)[0]] = true
		}
	}
	return out
}

func TestScrapePassesPromtoolCheckMetrics(t *testing.T) {
	body := scrape(t)
	for _, name := range []string{"logdelivery_deliveries_total", "logdelivery_last_delivery_timestamp_seconds",
		"logdelivery_worker_messages_failed_total", "logdelivery_worker_object_lag_seconds"} {
		require.Contains(t, families(body), name, "the scrape holds every series")
	}
	promtool(t, bytes.NewReader(body), "check", "metrics")
}

func TestRulesPassPromtool(t *testing.T) {
	promtool(t, nil, "check", "rules", "rules.yaml")
	promtool(t, nil, "test", "rules", "rules_test.yaml")
}

// dashboardQueries returns the PromQL of every panel of the dashboard,
// with Grafana's variables replaced by values a query may take.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("dashboard.json")
	require.NoError(t, err)
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	require.NoError(t, dec.Decode(&d))
	require.Equal(t, "logdelivery", d.UID)
	var exprs []string
	for _, p := range d.Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			e := strings.NewReplacer("$__rate_interval", "5m", "$tenant", ".*").Replace(tg.Expr)
			require.NotContains(t, e, "$", "%s: a variable the test does not replace", p.Title)
			exprs = append(exprs, e)
		}
	}
	return exprs
}

// The dashboard's queries parse: promtool checks them as the expressions
// of recording rules.
func TestDashboardQueriesParse(t *testing.T) {
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []rule
	for i, e := range dashboardQueries(t) {
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: e})
	}
	doc, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
	require.NoError(t, os.WriteFile(path, doc, 0o600))
	promtool(t, nil, "check", "rules", path)
}

// ruleExprs returns the expressions of rules.yaml.
func ruleExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("rules.yaml")
	require.NoError(t, err)
	var doc struct {
		Groups []struct {
			Rules []struct {
				Expr string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(data, &doc))
	var out []string
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	require.NotEmpty(t, out)
	return out
}

// Every series the rules and the dashboard query is one the processor
// serves: a renamed metric breaks this test, not an alert in production.
func TestQueriesNameServedSeries(t *testing.T) {
	served := families(scrape(t))
	name := regexp.MustCompile(`\blogdelivery_[a-z_]+`)
	queried := map[string]bool{}
	for _, e := range append(ruleExprs(t), dashboardQueries(t)...) {
		for _, n := range name.FindAllString(e, -1) {
			queried[n] = true
		}
	}
	for n := range queried {
		family := n
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if f, ok := strings.CutSuffix(n, suffix); ok && served[f] {
				family = f
			}
		}
		assert.True(t, served[family], "%s is queried but not served", n)
	}
	var unqueried []string
	for f := range served {
		if strings.HasPrefix(f, "logdelivery_") && !queried[f] && !queried[f+"_bucket"] {
			unqueried = append(unqueried, f)
		}
	}
	slices.Sort(unqueried)
	assert.Empty(t, unqueried, "every logdelivery series is on the dashboard or in a rule")
}
