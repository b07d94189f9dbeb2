package main

import (
	"bytes"
	"context"
	"io"
	"os"
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
	o := options{spec: spec{Size: 300_000, Objects: 3, Tenants: 2, Streams: 2, Format: formatMixed}, inProcess: true}
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
	o := options{spec: spec{Size: 100_000, Objects: 2, Tenants: 1, Streams: 1, Format: formatMixed}, dir: dir}
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
	o := options{spec: spec{Size: 20_000_000, Objects: 1, Tenants: 1, Streams: 1, Format: formatShort}, inProcess: true}
	code, err := run(context.Background(), o, &out, io.Discard)
	require.NoError(t, err)
	require.Equal(t, 0, code, out.String())
	events := field(t, out.String(), "events")
	require.Greater(t, events, int64(10_000), "more than one batch")
	m := regexp.MustCompile(`PutLogEvents\s+(\d+) calls: (\d+) accepted.*minimum (\d+),`).FindStringSubmatch(out.String())
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
	} {
		_, err := run(context.Background(), options{spec: s}, io.Discard, io.Discard)
		assert.Error(t, err, "%+v", s)
	}
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
