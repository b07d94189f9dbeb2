package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"
)

// Formats of generated messages.
const (
	// formatMixed: ~1.1 KB events (Kubernetes metadata plus a message of
	// 100 to 900 bytes) in eight formats: plain text, etcd JSON, audit
	// events, klog, Go log, logfmt; one event in ten without a record
	// timestamp, one line in fifty a JSON array of two events. The 1 MB
	// size limit binds PutLogEvents batches.
	formatMixed = "mixed"
	// formatShort: terse 20 to 60 byte access-log messages with the same
	// metadata. The 10,000-event limit binds.
	formatShort = "short"
)

// spec says what to generate. It is stored in the manifest so that a kept
// directory is reused only for the same spec.
type spec struct {
	Size    int64  `json:"size"`    // uncompressed bytes per object (at least)
	Objects int    `json:"objects"` // objects to generate
	Tenants int    `json:"tenants"` // objects are spread round-robin over tenants
	Streams int    `json:"streams"` // pods (log streams) per object
	Format  string `json:"format"`  // formatMixed or formatShort
}

func (s spec) validate() error {
	switch {
	case s.Size <= 0:
		return errors.New("-size must be positive")
	case s.Objects <= 0, s.Tenants <= 0, s.Streams <= 0:
		return errors.New("-objects, -tenants and -streams must be positive")
	case s.Tenants > s.Objects:
		return fmt.Errorf("-tenants %d exceeds -objects %d: every tenant needs an object", s.Tenants, s.Objects)
	case s.Format != formatMixed && s.Format != formatShort:
		return fmt.Errorf("-format %q: want %q or %q", s.Format, formatMixed, formatShort)
	}
	return nil
}

// object describes one generated object.
type object struct {
	Key        string    `json:"key"`
	Tenant     string    `json:"tenant"`
	Events     int64     `json:"events"`     // log events, counting both of an array line
	Raw        int64     `json:"raw"`        // uncompressed bytes
	Compressed int64     `json:"compressed"` // gzip bytes
	Time       time.Time `json:"time"`       // LastModified: a second after the last event
}

// manifest lists what a directory holds.
type manifest struct {
	Spec    spec     `json:"spec"`
	Objects []object `json:"objects"`
}

const manifestName = "manifest.json"

// Time of the generated events and the clock of the deliverer and the
// fake: events start at epoch and the clock stands 13 days later, so that
// every event of even a very large object is younger than the 14 days
// CloudWatch Logs accepts and none is in the future.
var (
	epoch = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	clock = epoch.Add(13 * 24 * time.Hour)
)

// eventInterval spaces events: ~580 per second and stream, so a 1 GB object
// spans about 20 minutes.
const eventInterval = 1731 * time.Microsecond

const cluster = "c-2f9a7e"

var apps = []struct{ app, container, image string }{
	{"kube-apiserver", "kube-apiserver", "quay.io/openshift/kube-apiserver:v4.16"},
	{"etcd", "etcd", "quay.io/openshift/etcd:v4.16"},
	{"checkout", "checkout", "quay.io/acme/checkout:2.3.1"},
	{"oauth-server", "oauth-openshift", "quay.io/openshift/oauth-server:v4.16"},
}

// readManifest returns the manifest of dir, or ok false when there is none
// or it was written for another spec.
func readManifest(dir string, s spec) (manifest, bool) {
	m, err := loadManifest(dir)
	if err != nil || m.Spec != s || len(m.Objects) != s.Objects {
		return manifest{}, false
	}
	for _, o := range m.Objects {
		if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(o.Key))); err != nil || fi.Size() != o.Compressed {
			return manifest{}, false
		}
	}
	return m, true
}

// generate writes the objects of s under dir, several at once, and their
// manifest. Memory stays bounded: events are formatted into a small buffer
// and streamed through gzip at its fastest level (Vector's sink uses the
// default level; decompression speed hardly depends on it).
func generate(dir string, s spec) (manifest, error) {
	m := manifest{Spec: s, Objects: make([]object, s.Objects)}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range s.Objects {
		g.Go(func() error {
			o, err := writeObject(dir, s, i)
			m.Objects[i] = o
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return manifest{}, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return manifest{}, err
	}
	return m, os.WriteFile(filepath.Join(dir, manifestName), b, 0o644)
}

// writeObject writes object i of s.
func writeObject(dir string, s spec, i int) (object, error) {
	a := apps[i%len(apps)]
	tenantID := tenantName(i % s.Tenants)
	g := &eventGen{rng: rand.New(rand.NewPCG(uint64(i), 7)), short: s.Format == formatShort}
	for p := range s.Streams {
		g.pods = append(g.pods, newPod(g.rng, tenantID, a.app, a.container, a.image, i*s.Streams+p))
	}
	lastEvent := func() time.Time { return epoch.Add(time.Duration(g.n) * eventInterval) }
	o := object{
		// Vector's key layout: cluster/namespace/application/pod/file.
		Key:    path.Join(cluster, tenantID, a.app, g.pods[0].name, fmt.Sprintf("%d-%06d.log.gz", epoch.Unix(), i)),
		Tenant: tenantID,
	}
	name := filepath.Join(dir, filepath.FromSlash(o.Key))
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return o, err
	}
	f, err := os.Create(name)
	if err != nil {
		return o, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 256<<10)
	cw := &countingWriter{w: bw}
	zw, err := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	if err != nil {
		return o, err
	}
	buf := make([]byte, 0, 512<<10)
	for o.Raw+int64(len(buf)) < s.Size {
		buf = g.appendLine(buf)
		if len(buf) >= 256<<10 {
			if _, err := zw.Write(buf); err != nil {
				return o, fmt.Errorf("writing %s: %w", name, err)
			}
			o.Raw += int64(len(buf))
			buf = buf[:0]
		}
	}
	if _, err := zw.Write(buf); err != nil {
		return o, fmt.Errorf("writing %s: %w", name, err)
	}
	o.Raw += int64(len(buf))
	if err := zw.Close(); err != nil {
		return o, err
	}
	if err := bw.Flush(); err != nil {
		return o, err
	}
	if err := f.Close(); err != nil {
		return o, err
	}
	o.Events, o.Compressed = int64(g.n), cw.n
	o.Time = lastEvent().Add(time.Second)
	return o, os.Chtimes(name, o.Time, o.Time)
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// pod holds the fields of one pod's events that do not change from event
// to event, pre-encoded. Fields are in the alphabetical order of Vector's
// JSON encoder.
type pod struct {
	name   string
	head   []byte // `{"application":…,"file":…,"ingest_timestamp":"`
	middle []byte // `","kubernetes":{…},"message":`
	tail   []byte // `,"namespace":…,"pod_name":…,"source_type":"kubernetes_logs","stream":"`
}

func newPod(rng *rand.Rand, namespace, app, container, image string, n int) pod {
	name := fmt.Sprintf("%s-7f9c6b5d4-%05x", app, n)
	uid := fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Uint64()&0xffffffffffff)
	return pod{
		name: name,
		head: fmt.Appendf(nil, `{"application":%q,"cluster_id":%q,"file":"/var/log/pods/%s_%s_%s/%s/0.log","ingest_timestamp":"`,
			app, cluster, namespace, name, uid, container),
		middle: fmt.Appendf(nil, `","kubernetes":{"container_id":"cri-o://%016x%016x","container_image":%q,"container_name":%q,`+
			`"pod_ip":"10.128.%d.%d","pod_labels":{"app":%q,"pod-template-hash":"7f9c6b5d4"},`+
			`"pod_name":%q,"pod_namespace":%q,"pod_node_name":"ip-10-0-1-%d.ec2.internal","pod_uid":%q},"message":`,
			rng.Uint64(), rng.Uint64(), image, container, n%250, n%200, app, name, namespace, n%200, uid),
		tail: fmt.Appendf(nil, `,"namespace":%q,"pod_name":%q,"source_type":"kubernetes_logs","stream":"`, namespace, name),
	}
}

// eventGen formats the events of one object.
type eventGen struct {
	rng   *rand.Rand
	short bool
	pods  []pod
	n     int // events formatted so far
	msg   []byte
}

// appendLine appends one NDJSON line: an event, or now and then (mixed
// format) a JSON array of two.
func (g *eventGen) appendLine(dst []byte) []byte {
	if !g.short && g.n%50 == 49 {
		dst = append(dst, '[')
		dst = g.appendEvent(dst)
		dst = append(dst, ',', ' ')
		dst = g.appendEvent(dst)
		return append(dst, ']', '\n')
	}
	return append(g.appendEvent(dst), '\n')
}

var words = []string{"the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "while", "reconciling",
	"deployment", "replicas", "in", "namespace", "with", "status", "code", "latency", "bytes", "request", "handler"}

func (g *eventGen) appendEvent(dst []byte) []byte {
	n := g.n
	g.n++
	p := &g.pods[n%len(g.pods)]
	t := epoch.Add(time.Duration(n) * eventInterval)
	g.msg = g.message(g.msg[:0], t)

	dst = append(dst, p.head...)
	dst = t.Add(40*time.Millisecond).AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, p.middle...)
	dst = appendJSONString(dst, g.msg)
	dst = append(dst, p.tail...)
	if n%9 == 4 {
		dst = append(dst, "stderr\""...)
	} else {
		dst = append(dst, "stdout\""...)
	}
	if g.short || n%10 != 9 { // one mixed event in ten has no record timestamp
		dst = append(dst, `,"timestamp":"`...)
		dst = t.AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// message formats a container log line written at t.
func (g *eventGen) message(msg []byte, t time.Time) []byte {
	r := g.rng
	if g.short {
		msg = append(msg, []string{"GET", "GET", "POST", "PUT"}[r.IntN(4)]...)
		msg = append(msg, []string{" /healthz", " /readyz", " /api/v1/orders", " /metrics"}[r.IntN(4)]...)
		msg = append(msg, []string{" 200 ", " 200 ", " 201 ", " 404 "}[r.IntN(4)]...)
		msg = strconv.AppendInt(msg, int64(r.IntN(900)), 10)
		return append(msg, "ms"...)
	}
	switch r.IntN(10) {
	case 0, 1, 2: // application text, timestamp only in the record
		msg = append(msg, "INFO handled request id="...)
		msg = strconv.AppendUint(msg, uint64(r.Uint32()), 16)
		msg = g.words(msg, 25+r.IntN(40), " ")
	case 3, 4: // etcd JSON
		msg = fmt.Appendf(msg, `{"level":"info","ts":"%s","caller":"mvcc/index.go:214","msg":"compact tree index","revision":%d,"took":"%dms","detail":"`,
			t.Format(time.RFC3339Nano), r.IntN(1e7), r.IntN(900))
		msg = append(g.words(msg, 5+r.IntN(20), " "), `"}`...)
	case 5: // apiserver audit event
		msg = fmt.Appendf(msg, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%08x-1c2b-4a5e-9f00-%012x","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/shop-%d/deployments?limit=500","verb":"list","user":{"username":"system:serviceaccount:shop:default","groups":["system:serviceaccounts","system:authenticated"]},"sourceIPs":["10.128.0.%d"],"userAgent":"kube-controller-manager/v1.29.0","objectRef":{"resource":"deployments","namespace":"shop","apiGroup":"apps","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"%s","stageTimestamp":"%s","annotations":{"authorization.k8s.io/decision":"allow"}}`,
			r.Uint32(), r.Uint64()&0xffffffffffff, r.IntN(20), r.IntN(255), t.Add(-3*time.Millisecond).Format(time.RFC3339Nano), t.Format(time.RFC3339Nano))
	case 6: // klog
		msg = fmt.Appendf(msg, `I%s       1 controller.go:%d] "Observed a change" deployment="shop/checkout" replicas=%d `,
			t.Format("0102 15:04:05.000000"), r.IntN(900), r.IntN(9))
		msg = g.words(msg, 10+r.IntN(40), " ")
	case 7: // Go log
		msg = fmt.Appendf(msg, "%s http: TLS handshake error from 10.0.%d.%d:%d: remote error: tls: bad certificate; ",
			t.Format("2006/01/02 15:04:05.000000"), r.IntN(255), r.IntN(255), 1024+r.IntN(60000))
		msg = g.words(msg, 5+r.IntN(30), " ")
	default: // logfmt
		msg = fmt.Appendf(msg, `time="%s" level=info msg="reconciled object" name=checkout-%d`, t.Format(time.RFC3339Nano), r.IntN(100))
		for range 5 + r.IntN(20) {
			msg = append(msg, ' ')
			msg = append(msg, words[r.IntN(len(words))]...)
			msg = append(msg, '=')
			msg = strconv.AppendInt(msg, int64(r.IntN(10000)), 10)
		}
	}
	return msg
}

// words appends n random words, each after sep.
func (g *eventGen) words(msg []byte, n int, sep string) []byte {
	for range n {
		msg = append(msg, sep...)
		msg = append(msg, words[g.rng.IntN(len(words))]...)
	}
	return msg
}

// appendJSONString appends s (ASCII) as a JSON string.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = fmt.Appendf(dst, `\u%04x`, c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
