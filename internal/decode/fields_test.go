package decode

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/logdelivery/logdelivery/deliver"
)

// vectorEvent returns a line as Vector's kubernetes_logs source and the
// collector's remap write it, with the given kubernetes members spliced in
// after the usual ones.
func vectorEvent(msg, k8sExtra string) string {
	k8s := `"container_id":"cri-o://4f2c","container_image":"quay.io/shop/checkout:v1","container_name":"checkout","pod_ip":"10.128.2.7","pod_name":"checkout-7f9c6b5d4-x0001","pod_namespace":"shop-prod","pod_uid":"0b6a-4000"`
	if k8sExtra != "" {
		k8s += "," + k8sExtra
	}
	return `{"message":"` + msg + `","timestamp":"2024-03-01T12:00:00Z","kubernetes":{` + k8s + `},"cluster_id":"c1","namespace":"shop-prod","application":"checkout","pod_name":"checkout-7f9c6b5d4-x0001","stream":"stdout","source_type":"kubernetes_logs"}`
}

const allFields = deliver.FieldHost | deliver.FieldLabels | deliver.FieldNamespaceLabels

func TestFields(t *testing.T) {
	const (
		host     = `"pod_node_name":"ip-10-0-1-7.ec2.internal"`
		labels   = `"pod_labels":{"app":"checkout","app.kubernetes.io/name":"checkout","pod-template-hash":"7f9c6b5d4"}`
		nsLabels = `"namespace_labels":{"kubernetes.io/metadata.name":"shop-prod","tier":"prod"}`
	)
	full := vectorEvent("m", host+","+labels+","+nsLabels)
	wantLabels := map[string]string{"app": "checkout", "app.kubernetes.io/name": "checkout", "pod-template-hash": "7f9c6b5d4"}
	wantNS := map[string]string{"kubernetes.io/metadata.name": "shop-prod", "tier": "prod"}
	tests := []struct {
		name     string
		in       string
		fields   deliver.Fields
		host     string
		labels   map[string]string
		nsLabels map[string]string
	}{
		{name: "not asked", in: full},
		{name: "all", in: full, fields: allFields, host: "ip-10-0-1-7.ec2.internal", labels: wantLabels, nsLabels: wantNS},
		{name: "host only", in: full, fields: deliver.FieldHost, host: "ip-10-0-1-7.ec2.internal"},
		{name: "labels only", in: full, fields: deliver.FieldLabels, labels: wantLabels},
		{name: "namespace labels only", in: full, fields: deliver.FieldNamespaceLabels, nsLabels: wantNS},
		{
			name:   "members in another order, with whitespace",
			in:     `{ "kubernetes" : { "namespace_labels" : { "a" : "b" } , "pod_labels" : { "x" : "y" } , "pod_node_name" : "n1" } , "message" : "m" }`,
			fields: allFields, host: "n1", labels: map[string]string{"x": "y"}, nsLabels: map[string]string{"a": "b"},
		},
		{
			name:   "escaped keys and values",
			in:     vectorEvent("m", `"pod_labels":{"app\u002ekubernetes.io/name":"caf\u00e9","q":"a\"b\\c","\ud83d\ude00":"\ud800"},"pod_node_name":"node\u002d1"`),
			fields: allFields, host: "node-1", labels: map[string]string{"app.kubernetes.io/name": "café", "q": `a"b\c`, "😀": "\uFFFD"},
		},
		{
			name:   "non-string values",
			in:     vectorEvent("m", `"pod_labels":{"n":1.5e3,"t":true,"f":false,"z":null,"o":{ "a" : [1, "x y"] },"l":[ ],"s":""}`),
			fields: deliver.FieldLabels,
			labels: map[string]string{"n": "1.5e3", "t": "true", "f": "false", "z": "null", "o": `{"a":[1,"x y"]}`, "l": "[]", "s": ""},
		},
		{
			name:   "invalid UTF-8 repaired",
			in:     vectorEvent("m", "\"pod_labels\":{\"k\xff\xfe\":\"v\xc3\"},\"pod_node_name\":\"h\xff\""),
			fields: allFields, host: "h\uFFFD", labels: map[string]string{"k\uFFFD": "v\uFFFD"},
		},
		{
			name:   "a key given twice takes its last value",
			in:     vectorEvent("m", `"pod_labels":{"app":"a","app":"b"}`),
			fields: deliver.FieldLabels, labels: map[string]string{"app": "b"},
		},
		{
			name:   "nested labels are not flattened",
			in:     vectorEvent("m", `"pod_labels":{"app":{"kubernetes":{"io/name":"x"}}}`),
			fields: deliver.FieldLabels, labels: map[string]string{"app": `{"kubernetes":{"io/name":"x"}}`},
		},
		{name: "labels a string", in: vectorEvent("m", `"pod_labels":"app=x","namespace_labels":"y"`), fields: allFields},
		{name: "labels an array", in: vectorEvent("m", `"pod_labels":[{"app":"x"}],"namespace_labels":["y"]`), fields: allFields},
		{name: "labels null", in: vectorEvent("m", `"pod_labels":null,"namespace_labels":null,"pod_node_name":null`), fields: allFields},
		{name: "labels empty", in: vectorEvent("m", `"pod_labels":{},"namespace_labels":{ }`), fields: allFields},
		{name: "host not a string", in: vectorEvent("m", `"pod_node_name":7`), fields: allFields},
		{name: "no kubernetes object", in: `{"message":"m","namespace":"ns","pod_labels":{"app":"x"},"pod_node_name":"h"}`, fields: allFields},
		{name: "kubernetes not an object", in: `{"message":"m","kubernetes":"pod_labels"}`, fields: allFields},
		{name: "plain text", in: "pod_labels: {app: x}", fields: allFields},
		{
			name:   "array line",
			in:     "[" + vectorEvent("m", labels) + "]",
			fields: deliver.FieldLabels, labels: wantLabels,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, _ := decodeString(t, tt.in+"\n", func(o *Options) { o.Fields = tt.fields })
			if len(recs) != 1 {
				t.Fatalf("got %d records, want 1", len(recs))
			}
			got := recs[0]
			if got.Host != tt.host {
				t.Errorf("Host = %q, want %q", got.Host, tt.host)
			}
			if !reflect.DeepEqual(got.Labels, tt.labels) {
				t.Errorf("Labels = %#v, want %#v", got.Labels, tt.labels)
			}
			if !reflect.DeepEqual(got.NamespaceLabels, tt.nsLabels) {
				t.Errorf("NamespaceLabels = %#v, want %#v", got.NamespaceLabels, tt.nsLabels)
			}
		})
	}
}

func TestFieldsLeaveTheRestAlone(t *testing.T) {
	in := vectorEvent("m", `"pod_node_name":"n","pod_labels":{"a":"b"}`) + "\n" +
		`{"kubernetes":{"pod_labels":{"a":"b"},"pod_name":"p"},"level":"info"}` + "\nplain\n"
	plain, _ := decodeString(t, in)
	with, _ := decodeString(t, in, func(o *Options) { o.Fields = allFields })
	if len(plain) != 3 || len(with) != 3 {
		t.Fatalf("got %d and %d records, want 3", len(plain), len(with))
	}
	for i := range plain {
		w := with[i]
		w.Host, w.Labels, w.NamespaceLabels = "", nil, nil
		if !reflect.DeepEqual(plain[i], w) {
			t.Errorf("record %d with Fields = %+v, without %+v", i, w, plain[i])
		}
	}
}

func mapID(m map[string]string) uintptr { return reflect.ValueOf(m).Pointer() }

func TestFieldsShared(t *testing.T) {
	event := func(pod int) string {
		return vectorEvent(fmt.Sprint("m", pod), fmt.Sprintf(`"pod_node_name":"node-%d","pod_labels":{"app":"a","pod":"%d"},"namespace_labels":{"ns":"shop"}`, pod, pod))
	}
	var lines []string
	for range 3 {
		lines = append(lines, event(1))
	}
	lines = append(lines, event(2), event(1), event(3), event(4), event(5), event(1))
	recs, _ := decodeString(t, strings.Join(lines, "\n"), func(o *Options) { o.Fields = allFields })
	if len(recs) != len(lines) {
		t.Fatalf("got %d records, want %d", len(recs), len(lines))
	}
	same := func(i, j int) bool {
		a, b := recs[i], recs[j]
		if a.Labels["pod"] != b.Labels["pod"] {
			t.Fatalf("records %d and %d: labels %v and %v", i, j, a.Labels, b.Labels)
		}
		return mapID(a.Labels) == mapID(b.Labels) && unsafe.StringData(a.Host) == unsafe.StringData(b.Host)
	}
	for _, pair := range [][2]int{{0, 1}, {1, 2}, {2, 4}} {
		if !same(pair[0], pair[1]) {
			t.Errorf("records %d and %d of one pod do not share their labels and host", pair[0], pair[1])
		}
	}
	// Four other pods in between: the first pod's map is forgotten.
	if mapID(recs[4].Labels) == mapID(recs[8].Labels) {
		t.Errorf("record 8 shares a map remembered across four other pods")
	}
	if !reflect.DeepEqual(recs[8].Labels, recs[0].Labels) {
		t.Errorf("record 8 labels = %v, want %v", recs[8].Labels, recs[0].Labels)
	}
	if mapID(recs[3].Labels) == mapID(recs[0].Labels) {
		t.Errorf("different pods share a labels map")
	}
	for i := range recs {
		if mapID(recs[i].NamespaceLabels) != mapID(recs[0].NamespaceLabels) {
			t.Errorf("record %d does not share the namespace labels of record 0", i)
		}
	}

	// Objects over the cache limit are decoded anew for every record.
	big := vectorEvent("m", `"pod_labels":{"a":"`+strings.Repeat("x", maxCachedLabels)+`"}`)
	recs, _ = decodeString(t, big+"\n"+big, func(o *Options) { o.Fields = deliver.FieldLabels })
	if len(recs) != 2 || mapID(recs[0].Labels) == mapID(recs[1].Labels) || len(recs[1].Labels["a"]) != maxCachedLabels {
		t.Errorf("big labels: %d records, shared %v", len(recs), len(recs) == 2 && mapID(recs[0].Labels) == mapID(recs[1].Labels))
	}
}

func TestFieldsNotDecodedForFilteredRecords(t *testing.T) {
	in := vectorEvent("m", `"pod_labels":{"a":"b"}`)
	recs, st := decodeString(t, in, func(o *Options) {
		o.Fields = allFields
		o.Accept = func(string) bool { return false }
	})
	if len(recs) != 0 || st.Filtered != 1 {
		t.Fatalf("got %d records, %d filtered", len(recs), st.Filtered)
	}
}

func TestFieldsAllocations(t *testing.T) {
	// Records of one pod share their labels: after the first, decoding a
	// record allocates only its message.
	one := vectorEvent("hello", `"pod_node_name":"n","pod_labels":{"app":"a","tier":"web"},"namespace_labels":{"ns":"shop"}`) + "\n"
	in := []byte(strings.Repeat(one, 200))
	count := func(fields deliver.Fields) float64 {
		return testing.AllocsPerRun(10, func() {
			r, err := NewReader(body(in), deliver.Object{Key: "k", Time: objTime}, func(o *Options) { o.Fields = fields })
			if err != nil {
				t.Fatal(err)
			}
			for {
				if _, err := r.Next(); err != nil {
					break
				}
			}
			r.Close()
		})
	}
	without, with := count(0), count(allFields)
	// The first record's host and two maps (each a header and buckets, plus
	// their strings) are the only difference.
	if with-without > 20 {
		t.Errorf("200 records of one pod: %v allocations with Fields, %v without", with, without)
	}
}
