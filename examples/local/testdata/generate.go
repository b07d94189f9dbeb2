//go:build ignore

// generate writes the sample objects of the local example: gzip NDJSON in
// the shape Vector's kubernetes_logs source and aws_s3 sink produce, under
// keys of the default template. It is deterministic; run it from this
// directory with: go run generate.go
package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

type pod struct {
	cluster, namespace, app, pod, image string
	lines                               func(r *rand.Rand, t time.Time, i int) string
}

var base = time.Date(2025, 8, 30, 11, 27, 0, 0, time.UTC)

func main() {
	pods := []pod{
		{"prod-east-1", "acme", "payments-api", "payments-api-7d9f8b6c4-x2kqp", "quay.io/acme/payments:1.4.2", jsonApp},
		{"prod-east-1", "acme", "checkout-worker", "checkout-worker-5c8d7f9b8-mtz4w", "quay.io/acme/checkout:2.0.1", logfmt},
		{"prod-east-1", "acme", "legacy-batch", "legacy-batch-28391-qz7rx", "quay.io/acme/batch:0.9", plain},
		{"hcp-prod-2", "hcp-globex", "kube-apiserver", "kube-apiserver-6f7c9d8b5-4lmnq", "quay.io/openshift/kube-apiserver:4.16", klog},
		{"hcp-prod-2", "hcp-globex", "kube-apiserver", "kube-apiserver-6f7c9d8b5-4lmnq", "quay.io/openshift/kube-apiserver:4.16", audit},
		{"hcp-prod-2", "hcp-globex", "oauth-server", "oauth-openshift-7b9c8d6f5-abcde", "quay.io/openshift/oauth-server:4.16", golog},
		{"hcp-prod-2", "hcp-globex", "etcd", "etcd-0", "quay.io/openshift/etcd:4.16", etcd},
		{"prod-east-1", "initech", "tps-reports", "tps-reports-0", "quay.io/initech/tps:1.0", jsonApp},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i, p := range pods {
		for obj := range 2 {
			start := base.Add(time.Duration(obj)*time.Minute + time.Duration(i)*time.Second)
			key := fmt.Sprintf("%s/%s/%s/%s/%d-%08x.log.gz", p.cluster, p.namespace, p.app, p.pod, start.Unix(), r.Uint32())
			if err := write(filepath.Join("objects", key), p, r, start); err != nil {
				log.Fatal(err)
			}
		}
	}
}

func write(path string, p pod, r *rand.Rand, start time.Time) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	enc := json.NewEncoder(zw)
	enc.SetEscapeHTML(false)
	for i := range 40 {
		t := start.Add(time.Duration(i)*1500*time.Millisecond + time.Duration(r.IntN(1000))*time.Microsecond)
		stream := "stdout"
		if i%7 == 3 {
			stream = "stderr"
		}
		ev := map[string]any{
			"cluster_id":  p.cluster,
			"namespace":   p.namespace,
			"application": p.app,
			"pod_name":    p.pod,
			"file":        fmt.Sprintf("/var/log/pods/%s_%s_0d1c/%s/0.log", p.namespace, p.pod, p.app),
			"kubernetes": map[string]any{
				"container_name":  p.app,
				"container_image": p.image,
				"container_id":    fmt.Sprintf("cri-o://%016x", r.Uint64()),
				"pod_name":        p.pod,
				"pod_namespace":   p.namespace,
				"pod_node_name":   "ip-10-0-1-23.ec2.internal",
				"pod_ip":          "10.128.2.15",
				"pod_labels":      map[string]string{"app": p.app},
				"pod_owner":       "ReplicaSet/" + p.app,
			},
			"message":          p.lines(r, t, i),
			"source_type":      "kubernetes_logs",
			"stream":           stream,
			"timestamp":        t.Format(time.RFC3339Nano),
			"ingest_timestamp": t.Add(40 * time.Millisecond).Format(time.RFC3339Nano),
		}
		if err := enc.Encode(ev); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func jsonApp(r *rand.Rand, t time.Time, i int) string {
	b, _ := json.Marshal(map[string]any{
		"level": []string{"info", "info", "debug", "warn", "error"}[i%5], "time": t.Format(time.RFC3339Nano),
		"msg": "handled request", "method": "POST", "path": "/v1/payments", "status": 200 + (i%3)*100, "duration_ms": r.IntN(300),
	})
	return string(b)
}

func logfmt(r *rand.Rand, t time.Time, i int) string {
	return fmt.Sprintf(`time="%s" level=info msg="processed order" order_id=%d items=%d`, t.Format(time.RFC3339), 100000+i, 1+r.IntN(5))
}

func plain(r *rand.Rand, t time.Time, i int) string {
	return fmt.Sprintf("batch step %d of 40 done, %d records", i+1, r.IntN(10000))
}

func klog(r *rand.Rand, t time.Time, i int) string {
	return fmt.Sprintf("I%s %7d %s] %q", t.Format("0102 15:04:05.000000"), 17, "httplog.go:132", fmt.Sprintf("HTTP verb=GET URI=/api/v1/namespaces/default/pods latency=%dms", r.IntN(50)))
}

func audit(r *rand.Rand, t time.Time, i int) string {
	b, _ := json.Marshal(map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": fmt.Sprintf("%08x-0000-4000-8000-%012x", r.Uint32(), i),
		"stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/default/configmaps", "verb": "list",
		"user":                     map[string]any{"username": "system:serviceaccount:openshift-monitoring:prometheus-k8s"},
		"requestReceivedTimestamp": t.Add(-3 * time.Millisecond).Format("2006-01-02T15:04:05.000000Z"),
		"stageTimestamp":           t.Format("2006-01-02T15:04:05.000000Z"),
	})
	return string(b)
}

func golog(r *rand.Rand, t time.Time, i int) string {
	return fmt.Sprintf("%s oauth: login succeeded for user%d", t.Format("2006/01/02 15:04:05"), r.IntN(20))
}

func etcd(r *rand.Rand, t time.Time, i int) string {
	b, _ := json.Marshal(map[string]any{
		"level": "info", "ts": t.Format("2006-01-02T15:04:05.000000Z07:00"), "caller": "etcdserver/server.go:1395",
		"msg": "triggering snapshot", "local-member-id": "8e9e05c52164694d", "applied-index": 100000 + i*r.IntN(10),
	})
	return string(b)
}
