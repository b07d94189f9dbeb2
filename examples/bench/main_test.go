package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary act as the delivery child, as the command
// does, so that TestRunInChild runs the real two-process path.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		os.Exit(childMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// field returns the number that follows name at the start of a line of the
// report.
func field(t *testing.T, report, name string) int64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+(\d+)`).FindStringSubmatch(report)
	require.NotNil(t, m, "no %q in the report:\n%s", name, report)
	n, err := strconv.ParseInt(m[1], 10, 64)
	require.NoError(t, err)
	return n
}

func TestRunInProcess(t *testing.T) {
	var out bytes.Buffer
	o := options{spec: spec{Size: 300_000, Objects: 3, Tenants: 2, Streams: 2, Format: formatMixed}, inProcess: true, runs: 1}
	code, err := run(context.Background(), o, &out, io.Discard)
	require.NoError(t, err)
	report := out.String()
	require.Equal(t, 0, code, report)
	assert.Greater(t, field(t, report, "events"), int64(3*300_000/1500), "~1.1 KB events")
	assert.Equal(t, int64(3), field(t, report, "STS AssumeRole"), "the central role once, each tenant's role once")
	assert.Regexp(t, `CreateLogStream\s+6 calls for 6 streams`, report, "2 streams in each of 3 objects")
	assert.Equal(t, int64(0), field(t, report, "failures"))
}

func TestRunInChild(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	o := options{spec: spec{Size: 100_000, Objects: 2, Tenants: 1, Streams: 1, Format: formatMixed}, dir: dir, runs: 1}
	o.CPU = prof
	code, err := run(context.Background(), o, &out, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 0, code, out.String())
	assert.Contains(t, out.String(), "VmHWM of the delivery child")
	assert.Equal(t, int64(2), field(t, out.String(), "STS AssumeRole"))
	fi, err := os.Stat(prof)
	require.NoError(t, err, "the child wrote the CPU profile")
	assert.NotZero(t, fi.Size())

	// A second run reuses the objects of the same spec.
	out.Reset()
	code, err = run(context.Background(), o, &out, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 0, code, out.String())
	assert.Contains(t, out.String(), "reused from "+dir)
}

// Short events fill batches by count: every accepted batch but the last
// carries 10,000 events, the fewest calls possible.
func TestRunShortEventsMakesMinimalCalls(t *testing.T) {
	var out bytes.Buffer
	o := options{spec: spec{Size: 20_000_000, Objects: 1, Tenants: 1, Streams: 1, Format: formatShort}, inProcess: true, runs: 1}
	code, err := run(context.Background(), o, &out, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 0, code, out.String())
	events := field(t, out.String(), "events")
	require.Greater(t, events, int64(10_000), "more than one batch")
	m := regexp.MustCompile(`PutLogEvents\s+(\d+) calls: (\d+) accepted.*minimum (\d+) `).FindStringSubmatch(out.String())
	require.NotNil(t, m, out.String())
	assert.Equal(t, m[3], m[2], "accepted calls are the minimum")
	assert.Equal(t, strconv.FormatInt((events+9_999)/10_000, 10), m[3])
}

func TestCheckReportsMissingEvents(t *testing.T) {
	m := manifest{Objects: []object{{Key: "a", Events: 10}, {Key: "b", Events: 5}}}
	ok := result{Objects: 2, Receipt: deliver.Receipt{Events: 15}}
	assert.Empty(t, check(m, ok, endpointStats{Events: 15}))

	bad := result{Objects: 2, Receipt: deliver.Receipt{Events: 14, Dropped: 1}, Failures: []string{"b cloudwatch: Failed boom"}}
	problems := check(m, bad, endpointStats{Events: 13})
	assert.Equal(t, []string{
		"b cloudwatch: Failed boom",
		"delivered 14 events of 15 generated",
		"the endpoint accepted 13 events, the receipts say 14",
		"events dropped 1, rejected 0 (endpoint: 0), truncated 0, lines skipped 0",
	}, problems)
}

func TestRunRejectsBadSpecs(t *testing.T) {
	for _, s := range []spec{
		{Size: 0, Objects: 1, Tenants: 1, Streams: 1, Format: formatMixed},
		{Size: 1000, Objects: 1, Tenants: 2, Streams: 1, Format: formatMixed},
		{Size: 1000, Objects: 1, Tenants: 1, Streams: 0, Format: formatMixed},
		{Size: 1000, Objects: 1, Tenants: 1, Streams: 1, Format: "long"},
		{Size: 1000, Objects: 4, Tenants: 2, Streams: 1, Pods: 3, Format: formatMixed},
	} {
		_, err := run(context.Background(), options{spec: s, runs: 1}, io.Discard, io.Discard)
		assert.Error(t, err, "%+v", s)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	good := spec{Size: 1000, Objects: 1, Tenants: 1, Streams: 1, Format: formatMixed}
	for _, o := range []options{
		{spec: good, runs: 0},
		{spec: good, runs: 1, workloads: []string{"2GB"}},
		{spec: good, runs: 1, before: "HEAD", inProcess: true},
	} {
		_, err := run(context.Background(), o, io.Discard, io.Discard)
		assert.Error(t, err, "%+v", o)
	}
}

// Small objects of shared pods: the summary compares with the floor, the
// minimum counts each object's streams, and repeated runs deliver the same
// events.
func TestRunSharedPodsSummary(t *testing.T) {
	var out bytes.Buffer
	o := options{spec: spec{Size: 50_000, Objects: 8, Tenants: 2, Streams: 1, Pods: 4, Format: formatMixed}, runs: 2}
	code, err := run(context.Background(), o, &out, io.Discard)
	require.NoError(t, err)
	report := out.String()
	require.Equal(t, 0, code, report)
	assert.Regexp(t, `CreateLogStream\s+4 calls for 4 streams`, report, "objects of one pod share its stream")
	assert.Regexp(t, `PutLogEvents accepted ÷ minimum\s+1\.000 \(8 ÷ 8\)`, report, "one call per small object")
	assert.Regexp(t, `CPU ratio \(floor ÷ processor\)\s+\d+\.\d\d`, report)
	assert.Regexp(t, `floor \(compress/gzip, count lines, one reader\): [0-9.]+ s CPU, [0-9.]+ s wall, \d+ lines`, report)
	assert.Regexp(t, `digest\s+[0-9a-f]{64} `, report)
	assert.NotContains(t, report, "FAILED")
}

// -before builds the delivery child of a git revision and measures it
// beside this build: both deliver the same events.
func TestRunBeforeRevision(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command at HEAD; skipped with -short")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	if err := exec.Command("git", "rev-parse", "HEAD").Run(); err != nil {
		t.Skip("not in a git repository")
	}
	var out bytes.Buffer
	o := options{spec: spec{Size: 100_000, Objects: 2, Tenants: 1, Streams: 1, Format: formatMixed}, runs: 1, before: "HEAD"}
	code, err := run(context.Background(), o, &out, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 0, code, out.String())
	assert.Contains(t, out.String(), "before (HEAD)")
	assert.Regexp(t, `digest of delivered events\s+[0-9a-f]{16}… \(same\)`, out.String())
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"10MB": 10_000_000, "1GB": 1_000_000_000, "1.5 GiB": 3 << 29, "512KiB": 512 << 10,
		"4096": 4096, "100mb": 100_000_000, "2k": 2000, "7B": 7,
	} {
		got, err := parseSize(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for _, in := range []string{"", "MB", "-1MB", "0", "ten MB", "1TB"} {
		_, err := parseSize(in)
		assert.Error(t, err, in)
	}
}
