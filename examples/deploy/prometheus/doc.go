// Package prometheus holds what operating the SQS worker with Prometheus
// takes: alert rules (rules.yaml) with their unit tests (rules_test.yaml)
// and a Grafana dashboard (dashboard.json), over the series of package
// metrics (the Prometheus observer and Worker).
//
// Its tests run promtool: check metrics on a real scrape of those series,
// check rules and test rules on the rules, and check rules on the
// dashboard's queries. They skip when promtool is not installed, unless
// LOGDELIVERY_REQUIRE_PROMTOOL=1 (as .ci/run sets it); on Debian,
// promtool is in the package prometheus.
package prometheus
