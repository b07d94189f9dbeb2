package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Accounts, roles and names of the deployment.
const (
	centralAccount = "123456789012" // moto's default account
	accountB       = "222222222222"
	accountC       = "333333333333"
	centralRole    = "arn:aws:iam::" + centralAccount + ":role/log-distribution"
	centralBucket  = "central-cluster-logs"
	configTable    = "tenant-delivery-configs"
	contentType    = "application/x-ndjson"
)

// Expected outcomes of an (object, destination) pair.
const (
	delivered       = "delivered"
	filtered        = "filtered"
	disabled        = "disabled"
	noConfig        = "no config"
	failedPermanent = "failed permanently"
	failedRetryable = "failed retryably"
)

// format is how a pod writes its log lines.
type format int

const (
	jsonApp       format = iota // JSON messages; every event has a timestamp, one array line
	logfmt                      // time="…" messages; every fourth event has no timestamp field
	plainText                   // text with quotes, tabs and non-ASCII
	kubeAPIServer               // klog lines, and audit events without a timestamp field
	etcdJSON                    // JSON messages with "ts", no timestamp field
	goLog                       // Go log headers
)

// object is one log object of the scenario and what must become of it.
type object struct {
	cluster, namespace, app, pod string
	format                       format
	// cw and s3 are the expected outcomes at the tenant's cloudwatch and s3
	// configs; for a tenant without configs, cw holds noConfig.
	cw, s3 string

	// Set by generate.
	key    string
	body   []byte
	events []event // in the order of the object
	start  time.Time
}

// event is a log event as CloudWatch Logs must hold it.
type event struct {
	ms      int64
	message string
}

// cwDest is a tenant's CloudWatch Logs group, in the tenant's account.
type cwDest struct {
	tenant, account, region, group, role, externalID string
}

// s3Dest is a tenant's bucket; a bucket that does not exist is not created.
type s3Dest struct {
	tenant, account, bucket, prefix string
	exists                          bool
}

// scenario is a deployment: what the configuration table says, which
// tenant resources exist, and the objects the collectors write.
type scenario struct {
	items     []map[string]types.AttributeValue
	cw        []cwDest
	s3        []s3Dest
	objects   []*object
	throttled []string // tenant roles whose AssumeRole is throttled
}

func (sc *scenario) cwDest(tenantID string) (cwDest, bool) {
	for _, d := range sc.cw {
		if d.tenant == tenantID {
			return d, true
		}
	}
	return cwDest{}, false
}

func (sc *scenario) s3Dest(tenantID string) (s3Dest, bool) {
	for _, d := range sc.s3 {
		if d.tenant == tenantID {
			return d, true
		}
	}
	return s3Dest{}, false
}

// Seed-schema attribute values, written as the seed's PutItem calls do.
func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func boolean(v bool) types.AttributeValue {
	return &types.AttributeValueMemberBOOL{Value: v}
}
func list(vs ...string) types.AttributeValue {
	l := &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	for _, v := range vs {
		l.Value = append(l.Value, str(v))
	}
	return l
}

func role(account, name string) string { return "arn:aws:iam::" + account + ":role/" + name }

// newScenario returns the tenants every test shares:
//
//   - acme (222222222222): CloudWatch and S3 (prefix "archive/"), every
//     application;
//   - hcp-globex (333333333333): CloudWatch in us-west-2 with the API group
//     and etcd, its own ExternalId (extension); S3 with the default prefix,
//     kube-apiserver only; its oauth-server logs go nowhere;
//   - initech (333333333333): CloudWatch works, its bucket does not exist;
//   - umbrella (222222222222): both configs disabled, resources exist;
//   - hooli: no configuration at all.
//
// With stark, it adds stark (222222222222), whose CloudWatch role is
// throttled by STS: a retryable failure.
func newScenario(stark bool) *scenario {
	sc := &scenario{
		items: []map[string]types.AttributeValue{
			{"tenant_id": str("acme"), "type": str("cloudwatch"), "log_distribution_role_arn": str(role(accountB, "acme-log-delivery")),
				"log_group_name": str("/tenants/acme/cluster-logs"), "target_region": str("us-east-1"),
				"desired_logs": list(), "groups": list(), "enabled": boolean(true)},
			{"tenant_id": str("acme"), "type": str("s3"), "bucket_name": str("acme-cluster-logs"), "bucket_prefix": str("archive/"),
				"target_region": str("us-east-1"), "desired_logs": list(), "groups": list(), "enabled": boolean(true)},

			{"tenant_id": str("hcp-globex"), "type": str("cloudwatch"), "log_distribution_role_arn": str(role(accountC, "globex-logs")),
				"log_group_name": str("/globex/hcp"), "target_region": str("us-west-2"),
				"desired_logs": list("etcd"), "groups": list("api"), "enabled": boolean(true), "external_id": str("globex-7f3a")},
			{"tenant_id": str("hcp-globex"), "type": str("s3"), "bucket_name": str("globex-cluster-logs"),
				"target_region": str("us-east-1"), "desired_logs": list("kube-apiserver"), "groups": list()},

			{"tenant_id": str("initech"), "type": str("cloudwatch"), "log_distribution_role_arn": str(role(accountC, "initech-logs")),
				"log_group_name": str("/initech/logs"), "target_region": str("us-east-1"), "enabled": boolean(true)},
			{"tenant_id": str("initech"), "type": str("s3"), "bucket_name": str("initech-logs-never-created"),
				"bucket_prefix": str("logs/"), "target_region": str("us-east-1"), "enabled": boolean(true)},

			{"tenant_id": str("umbrella"), "type": str("cloudwatch"), "log_distribution_role_arn": str(role(accountB, "umbrella-logs")),
				"log_group_name": str("/umbrella/logs"), "target_region": str("us-east-1"), "enabled": boolean(false)},
			{"tenant_id": str("umbrella"), "type": str("s3"), "bucket_name": str("umbrella-cluster-logs"),
				"target_region": str("us-east-1"), "enabled": boolean(false)},
		},
		cw: []cwDest{
			{tenant: "acme", account: accountB, region: "us-east-1", group: "/tenants/acme/cluster-logs", role: role(accountB, "acme-log-delivery"), externalID: centralAccount},
			{tenant: "hcp-globex", account: accountC, region: "us-west-2", group: "/globex/hcp", role: role(accountC, "globex-logs"), externalID: "globex-7f3a"},
			{tenant: "initech", account: accountC, region: "us-east-1", group: "/initech/logs", role: role(accountC, "initech-logs"), externalID: centralAccount},
			{tenant: "umbrella", account: accountB, region: "us-east-1", group: "/umbrella/logs", role: role(accountB, "umbrella-logs")},
		},
		s3: []s3Dest{
			{tenant: "acme", account: accountB, bucket: "acme-cluster-logs", prefix: "archive/", exists: true},
			{tenant: "hcp-globex", account: accountC, bucket: "globex-cluster-logs", prefix: "ROSA/cluster-logs/", exists: true},
			{tenant: "initech", account: accountC, bucket: "initech-logs-never-created", prefix: "logs/"},
			{tenant: "umbrella", account: accountB, bucket: "umbrella-cluster-logs", prefix: "ROSA/cluster-logs/", exists: true},
		},
		objects: []*object{
			{cluster: "prod-east-1", namespace: "acme", app: "payments-api", pod: "payments-api-7d9f8b6c4-x2kqp", format: jsonApp, cw: delivered, s3: delivered},
			{cluster: "prod-east-1", namespace: "acme", app: "payments-api", pod: "payments-api-7d9f8b6c4-x2kqp", format: jsonApp, cw: delivered, s3: delivered},
			{cluster: "prod-east-1", namespace: "acme", app: "payments-api", pod: "payments-api-7d9f8b6c4-q8wzn", format: jsonApp, cw: delivered, s3: delivered},
			{cluster: "prod-east-1", namespace: "acme", app: "checkout-worker", pod: "checkout-worker-5c8d7f9b8-mtz4w", format: logfmt, cw: delivered, s3: delivered},
			{cluster: "prod-east-1", namespace: "acme", app: "legacy-batch", pod: "legacy-batch-28391-qz7rx", format: plainText, cw: delivered, s3: delivered},
			{cluster: "hcp-prod-2", namespace: "hcp-globex", app: "kube-apiserver", pod: "kube-apiserver-6f7c9d8b5-4lmnq", format: kubeAPIServer, cw: delivered, s3: delivered},
			{cluster: "hcp-prod-2", namespace: "hcp-globex", app: "etcd", pod: "etcd-0", format: etcdJSON, cw: delivered, s3: filtered},
			{cluster: "hcp-prod-2", namespace: "hcp-globex", app: "oauth-server", pod: "oauth-openshift-7b9c8d6f5-abcde", format: goLog, cw: filtered, s3: filtered},
			{cluster: "prod-east-1", namespace: "initech", app: "tps-reports", pod: "tps-reports-0", format: jsonApp, cw: delivered, s3: failedPermanent},
			{cluster: "prod-east-1", namespace: "umbrella", app: "vault", pod: "vault-0", format: plainText, cw: disabled, s3: disabled},
			{cluster: "prod-east-1", namespace: "hooli", app: "search", pod: "search-0", format: plainText, cw: noConfig},
		},
	}
	if stark {
		sc.items = append(sc.items, map[string]types.AttributeValue{
			"tenant_id": str("stark"), "type": str("cloudwatch"), "log_distribution_role_arn": str(role(accountB, "stark-logs")),
			"log_group_name": str("/stark/logs"), "target_region": str("us-east-1"), "enabled": boolean(true),
		})
		sc.cw = append(sc.cw, cwDest{tenant: "stark", account: accountB, region: "us-east-1", group: "/stark/logs", role: role(accountB, "stark-logs"), externalID: centralAccount})
		sc.objects = append(sc.objects, &object{cluster: "prod-east-1", namespace: "stark", app: "jarvis", pod: "jarvis-0", format: logfmt, cw: failedRetryable})
		sc.throttled = append(sc.throttled, role(accountB, "stark-logs"))
	}
	return sc
}

// generate writes every object's gzip NDJSON body the way Vector's
// kubernetes_logs source and aws_s3 sink do, with known timestamps an hour
// before now (CloudWatch Logs takes events up to 14 days old), each
// object's events in a range of its own.
func (sc *scenario) generate(t *testing.T, now time.Time, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	base := now.Add(-time.Hour).Truncate(time.Minute)
	for i, o := range sc.objects {
		o.start = base.Add(time.Duration(i) * 2 * time.Minute)
		o.key = fmt.Sprintf("%s/%s/%s/%s/%d-%08x-%04x-4%03x-8%03x-%012x.log.gz", o.cluster, o.namespace, o.app, o.pod,
			o.start.Unix(), r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
		o.body, o.events = o.write(t, r)
	}
}

const eventsPerObject = 40

func (o *object) write(t *testing.T, r *rand.Rand) ([]byte, []event) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	var events []event
	var lines [][]byte
	for i := range eventsPerObject {
		// Distinct milliseconds, sub-millisecond digits that must be cut.
		ts := o.start.Add(time.Duration(i)*1500*time.Millisecond + time.Duration(i*379%1000)*time.Microsecond + 417*time.Nanosecond)
		msg, stamped := o.message(r, ts, i)
		ev := map[string]any{
			"cluster_id":  o.cluster,
			"namespace":   o.namespace,
			"application": o.app,
			"pod_name":    o.pod,
			"file":        fmt.Sprintf("/var/log/pods/%s_%s_0d1c/%s/0.log", o.namespace, o.pod, o.app),
			"kubernetes": map[string]any{
				"container_name": o.app, "container_image": "quay.io/" + o.namespace + "/" + o.app + ":1.4.2",
				"pod_name": o.pod, "pod_namespace": o.namespace, "pod_node_name": "ip-10-0-1-23.ec2.internal",
				"pod_labels": map[string]string{"app": o.app},
			},
			"message":          msg,
			"source_type":      "kubernetes_logs",
			"stream":           []string{"stdout", "stderr"}[i%2],
			"ingest_timestamp": ts.Add(40 * time.Millisecond).Format(time.RFC3339Nano),
		}
		if stamped {
			ev["timestamp"] = ts.Format(time.RFC3339Nano)
		}
		line, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if o.format == jsonApp && i == 11 {
			// Vector may write a batch of events as one JSON array line.
			lines[len(lines)-1] = fmt.Appendf(nil, "[%s,%s]", lines[len(lines)-1], line)
		} else {
			lines = append(lines, line)
		}
		events = append(events, event{ms: ts.UnixMilli(), message: msg})
	}
	for _, l := range lines {
		zw.Write(append(l, '\n'))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), events
}

// message returns the container's line at ts, and whether the event
// carries a timestamp field; when it does not, the line itself holds ts
// with at least millisecond precision.
func (o *object) message(r *rand.Rand, ts time.Time, i int) (string, bool) {
	switch o.format {
	case jsonApp:
		b, _ := json.Marshal(map[string]any{"level": []string{"info", "debug", "warn", "error"}[i%4], "time": ts.Format(time.RFC3339Nano),
			"msg": "handled request ✓ café", "method": "POST", "path": "/v1/payments", "status": 200 + (i%3)*100, "duration_ms": r.IntN(300)})
		return string(b), true
	case logfmt:
		return fmt.Sprintf(`time="%s" level=info msg="processed order" order_id=%d items=%d`, ts.Format(time.RFC3339Nano), 100000+i, 1+r.IntN(5)), i%4 != 0
	case plainText:
		return fmt.Sprintf("batch step %d of %d done:\t%d records, \"quoted\" naïve — ok", i+1, eventsPerObject, r.IntN(10000)), true
	case kubeAPIServer:
		if i%2 == 0 {
			return fmt.Sprintf(`I%s      17 httplog.go:132] "HTTP" verb="GET" URI="/api/v1/namespaces/default/pods" latency="%dms"`,
				ts.Format("0102 15:04:05.000000"), r.IntN(50)), true
		}
		b, _ := json.Marshal(map[string]any{"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
			"auditID": fmt.Sprintf("%08x-0000-4000-8000-%012x", r.Uint32(), i), "stage": "ResponseComplete", "verb": "list",
			"requestURI": "/api/v1/namespaces/default/configmaps", "user": map[string]any{"username": "system:serviceaccount:openshift-monitoring:prometheus-k8s"},
			"requestReceivedTimestamp": ts.Add(-3 * time.Millisecond).Format("2006-01-02T15:04:05.000000Z"),
			"stageTimestamp":           ts.Format("2006-01-02T15:04:05.000000Z")})
		return string(b), false
	case etcdJSON:
		b, _ := json.Marshal(map[string]any{"level": "info", "ts": ts.Format("2006-01-02T15:04:05.000000Z07:00"),
			"caller": "etcdserver/server.go:1395", "msg": "triggering snapshot", "applied-index": 100000 + i})
		return string(b), false
	case goLog:
		return fmt.Sprintf("%s oauth: login succeeded for user%d", ts.Format("2006/01/02 15:04:05"), r.IntN(20)), true
	}
	panic("unknown format")
}
