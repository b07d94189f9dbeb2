package lokitest_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/logdelivery/logdelivery/deliver/loki/lokitest"
)

// pbEntry and pbStream build PushRequests by hand, independently of the
// loki package's encoder.
type pbEntry struct {
	ts   time.Time
	line string
	meta [][2]string
}

type pbStream struct {
	labels  string
	entries []pbEntry
}

func msg(fields ...[]byte) []byte { return bytes.Join(fields, nil) }

func bytesField(num protowire.Number, v []byte) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func varintField(num protowire.Number, v uint64) []byte {
	b := protowire.AppendTag(nil, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func pushRequest(streams ...pbStream) []byte {
	var req []byte
	for _, st := range streams {
		s := bytesField(1, []byte(st.labels))
		for _, e := range st.entries {
			ts := msg(varintField(1, uint64(e.ts.Unix())), varintField(2, uint64(e.ts.Nanosecond())))
			en := msg(bytesField(1, ts), bytesField(2, []byte(e.line)))
			for _, p := range e.meta {
				en = append(en, bytesField(3, msg(bytesField(1, []byte(p[0])), bytesField(2, []byte(p[1]))))...)
			}
			s = append(s, bytesField(2, en)...)
		}
		req = append(req, bytesField(1, s)...)
	}
	return req
}

func snappyBody(raw []byte) []byte { return s2.EncodeSnappy(nil, raw) }

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 123456789, time.UTC)

type request struct {
	method, path, orgID, contentType, encoding, auth string
	body                                             []byte
}

func (r request) do(t *testing.T, srv *lokitest.Server) (int, string, http.Header) {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = lokitest.PushPath
	}
	req, err := http.NewRequest(r.method, srv.URL+r.path, bytes.NewReader(r.body))
	require.NoError(t, err)
	if r.orgID != "" {
		req.Header.Set("X-Scope-OrgID", r.orgID)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.encoding != "" {
		req.Header.Set("Content-Encoding", r.encoding)
	}
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func pb(orgID string, streams ...pbStream) request {
	return request{orgID: orgID, contentType: "application/x-protobuf", body: snappyBody(pushRequest(streams...))}
}

func one(labels, line string) pbStream {
	return pbStream{labels: labels, entries: []pbEntry{{ts: t0, line: line}}}
}

// Every answer of the server, one push each on a new server.
func TestAnswers(t *testing.T) {
	good := pb("acme", one(`{app="api"}`, "hello"))
	jsonBody := fmt.Sprintf(`{"streams":[{"stream":{"app":"api"},"values":[["%d","hello"],["%d","again",{"pod":"api-0"}]]}]}`, t0.UnixNano(), t0.UnixNano()+1)
	for _, tc := range []struct {
		name   string
		opts   lokitest.Options
		req    request
		status int
		body   string // a part of the answer
		stored int    // entries stored for acme
	}{
		{name: "Protobuf", req: good, status: 204, stored: 1},
		{name: "ProtobufWithoutContentType", req: request{orgID: "acme", body: good.body}, status: 204, stored: 1},
		{name: "JSON", req: request{orgID: "acme", contentType: "application/json", body: []byte(jsonBody)}, status: 204, stored: 2},
		{name: "JSONGzip", req: request{orgID: "acme", contentType: "application/json; charset=utf-8", encoding: "gzip", body: gzipped([]byte(jsonBody))}, status: 204, stored: 2},
		{name: "NoOrgID", req: request{contentType: "application/x-protobuf", body: good.body}, status: 401, body: "no org id"},
		{name: "InvalidOrgID", req: pb("acme|globex", one(`{app="api"}`, "x")), status: 400, body: "unsupported character '|'"},
		{name: "DotOrgID", req: pb("..", one(`{app="api"}`, "x")), status: 400, body: `"." or ".."`},
		{name: "LongOrgID", req: pb(strings.Repeat("a", 151), one(`{app="api"}`, "x")), status: 400, body: "too long"},
		{name: "Unauthorized", opts: lokitest.Options{Authorize: func(org, auth string) bool { return auth == "Bearer t" }},
			req: good, status: 401, body: "unauthorized"},
		{name: "Authorized", opts: lokitest.Options{Authorize: func(org, auth string) bool { return auth == "Bearer t" }},
			req: request{orgID: "acme", auth: "Bearer t", body: good.body}, status: 204, stored: 1},
		{name: "GetMethod", req: request{method: http.MethodGet, orgID: "acme"}, status: 405},
		{name: "OtherPath", req: request{path: "/api/prom/push", orgID: "acme", body: good.body}, status: 404},
		{name: "UnknownContentType", req: request{orgID: "acme", contentType: "text/plain", body: good.body}, status: 415},
		{name: "UnknownEncoding", req: request{orgID: "acme", encoding: "br", body: good.body}, status: 415},
		{name: "CorruptSnappy", req: request{orgID: "acme", contentType: "application/x-protobuf", body: []byte{0xff, 0xff, 0xff, 0x01, 0x00}}, status: 400, body: "snappy"},
		{name: "ProtobufNotSnappy", req: request{orgID: "acme", contentType: "application/x-protobuf", body: pushRequest(one(`{app="api"}`, "x"))}, status: 400},
		{name: "TruncatedProtobuf", req: request{orgID: "acme", body: snappyBody(pushRequest(one(`{app="api"}`, "hello"))[:10])}, status: 400, body: "error parsing push request"},
		{name: "UnknownProtobufField", req: request{orgID: "acme", body: snappyBody(append(pushRequest(one(`{app="api"}`, "x")), varintField(7, 1)...))}, status: 400, body: "unexpected field 7"},
		{name: "InvalidUTF8Line", req: pb("acme", one(`{app="api"}`, "\xff")), status: 400, body: "invalid UTF-8"},
		{name: "CorruptGzip", req: request{orgID: "acme", contentType: "application/json", encoding: "gzip", body: []byte("not gzip")}, status: 400, body: "gzip"},
		{name: "JSONUnknownField", req: request{orgID: "acme", contentType: "application/json", body: []byte(`{"streams":[],"extra":1}`)}, status: 400, body: "unknown field"},
		{name: "JSONNumericTimestamp", req: request{orgID: "acme", contentType: "application/json", body: []byte(`{"streams":[{"stream":{"a":"b"},"values":[[1,"x"]]}]}`)}, status: 400, body: "timestamp"},
		{name: "JSONShortValue", req: request{orgID: "acme", contentType: "application/json", body: []byte(`{"streams":[{"stream":{"a":"b"},"values":[["1"]]}]}`)}, status: 400, body: "want 2 or 3"},
		{name: "JSONTrailingData", req: request{orgID: "acme", contentType: "application/json", body: []byte(`{"streams":[]} {}`)}, status: 400},
		{name: "BadLabels", req: pb("acme", one(`{app=api}`, "x")), status: 400, body: "error parsing labels"},
		{name: "NoLabels", req: pb("acme", one(`{}`, "x")), status: 400, body: "at least one label pair"},
		{name: "DuplicateLabel", req: pb("acme", one(`{a="1", a="2"}`, "x")), status: 400, body: "duplicate label name"},
		{name: "TooManyLabels", opts: lokitest.Options{Limits: lokitest.Limits{MaxLabelNamesPerSeries: 2}},
			req: pb("acme", one(`{a="1", b="2", c="3"}`, "x")), status: 400, body: "has 3 label names; limit 2"},
		{name: "LabelValueTooLong", req: pb("acme", one(`{a="`+strings.Repeat("v", 2049)+`"}`, "x")), status: 400, body: "label value too long"},
		// Loki stores the valid entries of a push and reports the others.
		{name: "LineTooLong", opts: lokitest.Options{Limits: lokitest.Limits{MaxLineSize: 10}},
			req:    pb("acme", pbStream{labels: `{app="api"}`, entries: []pbEntry{{ts: t0, line: "short"}, {ts: t0, line: "much too long a line"}}}),
			status: 400, body: "Max entry size '10' bytes exceeded", stored: 1},
		{name: "RateLimited", opts: lokitest.Options{Limits: lokitest.Limits{IngestionRateMB: 1.0 / (1 << 20), IngestionBurstSizeMB: 4.0 / (1 << 20)}},
			req: pb("acme", one(`{app="api"}`, "hello")), status: 429, body: "Ingestion rate limit exceeded for user acme"},
		{name: "HookFault", opts: lokitest.Options{Hook: func(lokitest.Call) *lokitest.Fault { return lokitest.Unavailable() }},
			req: good, status: 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := lokitest.NewServer(tc.opts)
			defer srv.Close()
			status, body, _ := tc.req.do(t, srv)
			assert.Equal(t, tc.status, status, "answer %q", body)
			assert.Contains(t, body, tc.body)
			assert.Len(t, srv.Entries("acme"), tc.stored)
			assert.Equal(t, 1, srv.Answers()[tc.status])
		})
	}
}

// What is stored: the labels sorted, the time to the nanosecond, the line
// unchanged, the structured metadata; tenants apart.
func TestStoresPerTenant(t *testing.T) {
	srv := lokitest.NewServer(lokitest.Options{})
	defer srv.Close()
	line := "  tabs\tand \"quotes\" ünïcödé  "
	st := pbStream{labels: `{namespace="shop", app="api"}`, entries: []pbEntry{
		{ts: t0, line: line, meta: [][2]string{{"pod", "api-0"}}},
		{ts: t0.Add(time.Nanosecond), line: "second"},
	}}
	status, body, _ := pb("acme", st).do(t, srv)
	require.Equal(t, 204, status, body)
	status, body, _ = pb("globex", one(`{app="web"}`, "globex's")).do(t, srv)
	require.Equal(t, 204, status, body)

	got := srv.Entries("acme")
	require.Len(t, got, 2)
	assert.Equal(t, lokitest.Entry{Labels: `{app="api", namespace="shop"}`, Time: t0, Line: line, Metadata: map[string]string{"pod": "api-0"}}, got[0])
	assert.Equal(t, t0.Add(time.Nanosecond), got[1].Time)
	assert.Equal(t, []string{`{app="api", namespace="shop"}`}, srv.Streams("acme"))
	assert.Equal(t, []string{"acme", "globex"}, srv.Tenants())
	assert.Equal(t, "globex's", srv.Entries("globex")[0].Line)
	assert.Equal(t, int64(3), srv.Total())
	assert.Equal(t, 1, srv.Pushes("globex"))
	assert.Equal(t, 2, srv.Pushes(""))
}

// The rate limiter refills at the tenant's rate, the burst bounds what
// one push may carry, and limits are per tenant.
func TestIngestionRate(t *testing.T) {
	now := t0
	srv := lokitest.NewServer(lokitest.Options{
		Now:          func() time.Time { return now },
		Limits:       lokitest.Limits{IngestionRateMB: 100.0 / (1 << 20), IngestionBurstSizeMB: 200.0 / (1 << 20)}, // 100 B/s, 200 B burst
		TenantLimits: map[string]lokitest.Limits{"big": {}},
	})
	defer srv.Close()
	line := strings.Repeat("x", 100)
	push := func(org string) int {
		status, _, _ := pb(org, one(`{app="api"}`, line)).do(t, srv)
		return status
	}
	assert.Equal(t, 204, push("acme"))
	assert.Equal(t, 204, push("acme"), "the burst holds two lines")
	assert.Equal(t, 429, push("acme"))
	assert.Equal(t, 204, push("globex"), "another tenant has its own bucket")
	now = now.Add(time.Second)
	assert.Equal(t, 204, push("acme"), "a second refills one line")
	assert.Equal(t, 429, push("acme"))
	for range 5 {
		assert.Equal(t, 204, push("big"), "a tenant without a rate limit")
	}
	assert.Equal(t, int64(3), srv.Count("acme"))

	status, body, _ := pb("globex", one(`{app="api"}`, strings.Repeat("y", 300))).do(t, srv)
	assert.Equal(t, 429, status, "a push larger than the burst is always refused: %s", body)
}

// A hook sees each push decoded, and a hung push ends when the client
// gives up.
func TestHook(t *testing.T) {
	var calls []lokitest.Call
	srv := lokitest.NewServer(lokitest.Options{})
	defer srv.Close()
	srv.SetHook(func(c lokitest.Call) *lokitest.Fault {
		calls = append(calls, c)
		if c.N == 1 {
			return lokitest.TooManyRequests(3 * time.Second)
		}
		return nil
	})
	st := pbStream{labels: `{app="api"}`, entries: []pbEntry{{ts: t0, line: "abc", meta: [][2]string{{"k", "vv"}}}, {ts: t0, line: "de"}}}
	status, _, h := pb("acme", st).do(t, srv)
	assert.Equal(t, 429, status)
	assert.Equal(t, "3", h.Get("Retry-After"))
	status, _, _ = pb("acme", st).do(t, srv)
	assert.Equal(t, 204, status)
	require.Len(t, calls, 2)
	assert.Equal(t, lokitest.Call{N: 1, OrgID: "acme", Format: "protobuf", Streams: 1, Entries: 2, Bytes: 8}, calls[0])

	srv.SetHook(func(lokitest.Call) *lokitest.Fault { return lokitest.Hang() })
	client := &http.Client{Timeout: 100 * time.Millisecond}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+lokitest.PushPath, bytes.NewReader(snappyBody(pushRequest(st))))
	req.Header.Set("X-Scope-OrgID", "acme")
	_, err := client.Do(req)
	assert.Error(t, err, "a hung push is not answered")
}

func TestParseLabels(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want [][2]string
		err  bool
	}{
		{in: `{a="1"}`, want: [][2]string{{"a", "1"}}},
		{in: `{ a = "1" ,b="2\n\"x\""}`, want: [][2]string{{"a", "1"}, {"b", "2\n\"x\""}}},
		{in: `{}`, want: nil},
		{in: `{_a9="\u00e9"}`, want: [][2]string{{"_a9", "é"}}},
		{in: `a="1"`, err: true},
		{in: `{9a="1"}`, err: true},
		{in: `{a="1",}`, err: true},
		{in: `{a='1'}`, err: true},
		{in: "{a=`1`}", err: true},
		{in: `{a="1"} x`, err: true},
		{in: `{a="1"`, err: true},
	} {
		got, err := lokitest.ParseLabels(tc.in)
		if tc.err {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

// FuzzDecodeProtobuf feeds arbitrary bodies to the decoder: it never
// panics, and what it accepts has valid UTF-8 strings only.
func FuzzDecodeProtobuf(f *testing.F) {
	f.Add(snappyBody(pushRequest(one(`{app="api"}`, "hello"))))
	f.Add(snappyBody(pushRequest(pbStream{labels: `{a="b"}`, entries: []pbEntry{{ts: t0, line: "x", meta: [][2]string{{"k", "v"}}}}})))
	f.Add(snappyBody(append(pushRequest(one(`{a="b"}`, "x")), varintField(3, 9)...)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := lokitest.DecodeProtobuf(body)
		if err != nil {
			return
		}
		for _, st := range req.Streams {
			if !utf8Valid(st.Labels) {
				t.Fatalf("accepted invalid UTF-8 labels %q", st.Labels)
			}
			for _, e := range st.Entries {
				if !utf8Valid(e.Line) {
					t.Fatalf("accepted an invalid UTF-8 line %q", e.Line)
				}
			}
		}
	})
}

// FuzzDecodeJSON: the JSON decoder never panics.
func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"streams":[{"stream":{"app":"api"},"values":[["1","hello"],["2","x",{"pod":"p"}]]}]}`))
	f.Add([]byte(`{"streams":[{"values":[["-1","x"]]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _ = lokitest.DecodeJSON(body)
	})
}

// FuzzParseLabels: what ParseLabels accepts, formatted again, parses to
// the same pairs.
func FuzzParseLabels(f *testing.F) {
	f.Add(`{a="1", b="2"}`)
	f.Add(`{a="\x00\u2028"}`)
	f.Fuzz(func(t *testing.T, s string) {
		pairs, err := lokitest.ParseLabels(s)
		if err != nil {
			return
		}
		var parts []string
		for _, p := range pairs {
			parts = append(parts, p[0]+"="+fmt.Sprintf("%q", p[1]))
		}
		again, err := lokitest.ParseLabels("{" + strings.Join(parts, ", ") + "}")
		require.NoError(t, err)
		assert.Equal(t, pairs, again)
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }
