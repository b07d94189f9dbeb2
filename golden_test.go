package logdelivery_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch/cloudwatchtest"
	"github.com/logdelivery/logdelivery/deliver/loki"
	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
	"github.com/logdelivery/logdelivery/tenant/storetest"
)

// goldenBase is the time of the golden object's first event.
var goldenBase = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

// goldenObject returns a fixed gzip NDJSON object that exercises what the
// decode and request-body paths must get right: messages with every JSON
// escape (quotes, backslashes, control characters, \u escapes of BMP
// characters and surrogate pairs, an unpaired surrogate), raw multi-byte
// UTF-8 and invalid UTF-8, HTML-sensitive characters and U+2028, messages
// that are JSON objects or missing, arrays of events, plain-text and CRLF
// lines, blank and over-long lines, events with and without timestamps in
// several formats, a message over CloudWatch's 1 MB event limit, and four
// pods interleaved.
func goldenObject() []byte {
	r := rand.New(rand.NewPCG(17, 4))
	var raw bytes.Buffer
	msgs := []string{
		`plain text with \"quotes\" and \\backslashes\\ and a tab\there`,
		`multi\nline\nstack trace\r\n\tat main.go:42`,
		`control \u0001\u001f bell \u0007 and nul-free`,
		`accents \u00e9\u00e8 and an emoji \ud83d\ude00 and CJK \u65e5\u672c`,
		`unpaired surrogate \ud800 here`,
		"raw UTF-8 é ü 日本 😀 — and U+2028 \u2028 and U+2029 \u2029",
		`html <script>alert("x")</script> & ampersand`,
		`slash \/ escaped solidus`,
		`2026-11-30T10:00:01.123456789Z leading ISO time`,
		`I1130 10:00:02.500000       1 controller.go:12] klog line`,
		`time="2026-11-30T10:00:03.25Z" level=info msg="logfmt"`,
	}
	for i := range 4000 {
		pod := fmt.Sprintf("api-%d", i%4)
		ts := goldenBase.Add(time.Duration(i) * 7 * time.Millisecond)
		head := `{"application":"api","cluster_id":"prod-1","kubernetes":{"container_name":"api","pod_labels":{"app":"api","tier":"web"},"pod_name":"` +
			pod + `","pod_namespace":"acme","pod_node_name":"ip-10-0-0-1"},`
		tsField := `,"timestamp":"` + ts.Format(time.RFC3339Nano) + `"`
		switch k := r.IntN(20); {
		case k < 11:
			fmt.Fprintf(&raw, `%s"message":"%s %d"%s}`+"\n", head, msgs[k], i, tsField)
		case k == 11: // a JSON object message with its own time
			fmt.Fprintf(&raw, `%s"message":{"ts":%d,"msg":"obj \u00e9 %d","n":[1, 2.5e3, true, null]}}`+"\n", head, ts.UnixMilli(), i)
		case k == 12: // no message: the event minus metadata
			fmt.Fprintf(&raw, `%s"level":"warn","detail":"no message %d"%s}`+"\n", head, i, tsField)
		case k == 13: // an array of two events
			fmt.Fprintf(&raw, `[%s"message":"first of array %d"%s}, %s"message":"second \"of\" array"}]`+"\n", head, i, tsField, head)
		case k == 14: // plain text with CRLF
			fmt.Fprintf(&raw, "2026-11-30T10:00:%02d.5Z plain text line %d\r\n", i%60, i)
		case k == 15: // invalid UTF-8 inside a JSON string
			fmt.Fprintf(&raw, "%s\"message\":\"bad \xff\xfe bytes %d\"%s}\n", head, i, tsField)
		case k == 16: // a blank line and a text line that looks like JSON
			fmt.Fprintf(&raw, "\n{not json %d\n", i)
		case k == 17: // a long message
			fmt.Fprintf(&raw, `%s"message":"%s"%s}`+"\n", head, strings.Repeat("long ", 400+r.IntN(4000)), tsField)
		case k == 18: // a message without a record timestamp, time in the message
			fmt.Fprintf(&raw, `%s"message":"%s"}`+"\n", head, ts.Format("2006/01/02 15:04:05.000000")+" go log line")
		default: // a message of escaped JSON, as container JSON logs are
			fmt.Fprintf(&raw, `%s"message":"{\"level\":\"info\",\"time\":\"%s\",\"msg\":\"nested \\\"q\\\"\"}"}`+"\n", head, ts.Format(time.RFC3339Nano))
		}
	}
	// Over CloudWatch's event limit (truncated) and over the line limit
	// (skipped).
	fmt.Fprintf(&raw, `{"message":"%s","timestamp":"%s"}`+"\n", strings.Repeat("é", 600_000), goldenBase.Format(time.RFC3339Nano))
	fmt.Fprintf(&raw, `{"message":"%s"}`+"\n", strings.Repeat("x", 3<<20))
	raw.WriteString(`{"message":"last line without newline","timestamp":"2026-11-30T10:59:00Z"}`)

	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(raw.Bytes())
	zw.Close()
	return buf.Bytes()
}

// TestGoldenDelivery delivers the golden object to CloudWatch Logs and Loki
// (one tenant, two record destinations sharing one decode, through the
// real deliverers and the SDK to the protocol fakes) and compares digests
// of what each destination stored with the digests of the code before the
// performance work: any change to the bytes delivered, their times,
// streams, labels or order within a stream fails it. If a change of the
// delivered bytes is intended, say why in the commit and update the
// digests.
func TestGoldenDelivery(t *testing.T) {
	const key = "prod-1/acme/api/api-0/1764496800-golden.json.gz"
	objects := &memObjects{data: map[string][]byte{key: goldenObject()}, opens: map[string]int{}}
	now := func() time.Time { return goldenBase.Add(time.Hour) }

	cwSrv := cloudwatchtest.NewServer(cloudwatchtest.Options{Now: now})
	defer cwSrv.Close()
	cwCfg := storetest.CloudWatch("acme")
	group := cwCfg.Settings["log_group_name"].(string)
	cwSrv.CreateLogGroup(group)
	cw, err := cloudwatch.New(credentials.Static{Credentials: awscreds.NewStaticCredentialsProvider("AKID", "SECRET", "")},
		func(o *cloudwatch.Options) {
			o.AWSConfig = aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(cwSrv.URL)}
			o.Now = now
		})
	require.NoError(t, err)

	lokiSrv := lokitest.NewServer(lokitest.Options{})
	defer lokiSrv.Close()
	policy := egress.Policy{AllowHTTP: true, AllowLoopback: true}
	for port := 1024; port <= 65535; port++ {
		policy.Ports = append(policy.Ports, port)
	}
	lk, err := loki.New(func(o *loki.Options) { o.Egress = policy })
	require.NoError(t, err)
	defer lk.Close()

	store, err := memstore.New([]tenant.DeliveryConfig{cwCfg, {
		TenantID: "acme", Type: loki.KindName, Settings: map[string]any{"url": lokiSrv.URL},
	}})
	require.NoError(t, err)
	kinds, err := deliver.NewRegistry([]deliver.Kind{cw.Kind(), lk.Kind()})
	require.NoError(t, err)
	d, err := logdelivery.NewDispatcher(store, kinds, func(o *logdelivery.Options) {
		o.Opener = objects
		o.Now = now
	})
	require.NoError(t, err)
	results := d.Dispatch(context.Background(), logdelivery.Object{ID: "m", Bucket: "central", Key: key, Time: goldenBase.Add(time.Minute)})
	require.Len(t, results, 2)
	for _, r := range results {
		require.Equal(t, logdelivery.Delivered, r.Outcome, "%s: %v", r.Destination, r.Err)
	}

	// CloudWatch: every stream's events in the order stored.
	h := sha256.New()
	var events int
	for _, stream := range cwSrv.Streams(group) {
		for _, e := range cwSrv.Events(group, stream) {
			writeField(h, stream)
			writeInt(h, e.Timestamp)
			writeField(h, e.Message)
			events++
		}
	}
	cwDigest := hex.EncodeToString(h.Sum(nil))

	// Loki: entries sorted, as pushes of several streams may interleave.
	entries := lokiSrv.Entries("acme")
	sort.SliceStable(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.Labels != b.Labels {
			return a.Labels < b.Labels
		}
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		return a.Line < b.Line
	})
	h = sha256.New()
	for _, e := range entries {
		writeField(h, e.Labels)
		writeInt(h, e.Time.UnixNano())
		writeField(h, e.Line)
		metaKeys := make([]string, 0, len(e.Metadata))
		for k := range e.Metadata {
			metaKeys = append(metaKeys, k)
		}
		sort.Strings(metaKeys)
		for _, k := range metaKeys {
			writeField(h, k)
			writeField(h, e.Metadata[k])
		}
	}
	lokiDigest := hex.EncodeToString(h.Sum(nil))

	t.Logf("cloudwatch: %d streams, %d events, digest %s", len(cwSrv.Streams(group)), events, cwDigest)
	t.Logf("loki: %d entries, digest %s", len(entries), lokiDigest)
	assert.Equal(t, goldenEvents, events)
	assert.Len(t, entries, goldenEvents)
	assert.Equal(t, goldenCloudWatch, cwDigest, "the events delivered to CloudWatch Logs changed")
	assert.Equal(t, goldenLoki, lokiDigest, "the entries delivered to Loki changed")
}

// Digests of the golden delivery, computed by the code before the
// performance work (commit 3303e86).
const (
	goldenCloudWatch = "52df7340a310bc3484961a7a0e3d5c331998e20c1154dec41654c8ccebffc981"
	goldenLoki       = "0967d2999db76dc41babb482a00d79b694c7fabe37e2847d644deaedd273f0f7"
	goldenEvents     = 4213
)

func writeField(h hash.Hash, s string) {
	writeInt(h, int64(len(s)))
	io.WriteString(h, s)
}

func writeInt(h hash.Hash, n int64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	h.Write(b[:])
}
