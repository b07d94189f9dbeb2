package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/fault"
)

// fakeBucket lists objects in key order, two to a page.
type fakeBucket struct {
	mu   sync.Mutex
	objs map[string]time.Time
}

func (b *fakeBucket) put(key string, lm time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.objs[key] = lm
}

func (b *fakeBucket) ListObjectsV2(_ context.Context, in *awss3.ListObjectsV2Input, _ ...func(*awss3.Options)) (*awss3.ListObjectsV2Output, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var keys []string
	for k := range b.objs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	after := aws.ToString(in.StartAfter)
	if in.ContinuationToken != nil {
		after = *in.ContinuationToken
	}
	out := &awss3.ListObjectsV2Output{}
	for _, k := range keys {
		if k <= after {
			continue
		}
		if len(out.Contents) == 2 {
			out.IsTruncated = aws.Bool(true)
			out.NextContinuationToken = out.Contents[1].Key
			break
		}
		out.Contents = append(out.Contents, types.Object{Key: aws.String(k), LastModified: aws.Time(b.objs[k]), Size: aws.Int64(1)})
	}
	return out, nil
}

// countingDispatcher counts the dispatches of each key; keys in fail
// fail retryably, and ctx is cancelled after cancelAfter objects.
type countingDispatcher struct {
	mu          sync.Mutex
	seen        map[string]int
	fail        map[string]bool
	cancelAfter int
	cancel      context.CancelFunc
}

func (d *countingDispatcher) Dispatch(ctx context.Context, objs ...logdelivery.Object) logdelivery.Results {
	d.mu.Lock()
	defer d.mu.Unlock()
	var rs logdelivery.Results
	for _, o := range objs {
		d.seen[o.Key]++
		r := logdelivery.Result{Object: o, Destination: "s3", Outcome: logdelivery.Delivered}
		if d.fail[o.Key] {
			r.Outcome, r.Err = logdelivery.Failed, fault.Retryable(errors.New("SlowDown"))
		}
		rs = append(rs, r)
		if d.cancelAfter > 0 {
			if d.cancelAfter--; d.cancelAfter == 0 {
				d.cancel()
			}
		}
	}
	return rs
}

func TestScanCheckpoint(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	bucket := &fakeBucket{objs: map[string]time.Time{}}
	for _, k := range []string{"c/acme/app/pod/1.json.gz", "c/acme/app/pod/2.json.gz", "c/acme/app/pod/3.json.gz", "c/globex/app/pod/1.json.gz"} {
		bucket.put(k, now.Add(-time.Hour))
	}
	bucket.put("c/acme/app/pod/0.log.gz", now.Add(-time.Hour)) // not the suffix
	d := &countingDispatcher{seen: map[string]int{}, fail: map[string]bool{}}
	store := fileCheckpoint{path: filepath.Join(t.TempDir(), "cp.json")}
	newScanner := func() *scanner {
		s := &scanner{client: bucket, bucket: "central", suffix: ".json.gz", grace: 10 * time.Minute, maxAttempts: 3,
			d: d, store: store, now: func() time.Time { return now }, logger: slog.New(slog.DiscardHandler)}
		require.NoError(t, s.load(context.Background()))
		return s
	}

	// A pass interrupted after two objects resumes after them: nothing is
	// dispatched twice.
	ctx, cancel := context.WithCancel(context.Background())
	d.cancelAfter, d.cancel = 2, cancel
	s := newScanner()
	oldBatch := scanBatchForTest(t, 2)
	_, err := s.pass(ctx)
	require.ErrorIs(t, err, context.Canceled)
	oldBatch()
	s = newScanner()
	require.NotNil(t, s.cp.Pass, "the pass in progress is in the checkpoint")
	n, err := s.pass(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the rest of the pass")
	assert.Equal(t, map[string]int{"c/acme/app/pod/1.json.gz": 1, "c/acme/app/pod/2.json.gz": 1, "c/acme/app/pod/3.json.gz": 1, "c/globex/app/pod/1.json.gz": 1}, d.seen)
	assert.Empty(t, s.cp.Done, "objects older than the watermark are not remembered one by one")
	assert.Equal(t, now.Add(-10*time.Minute), s.cp.Watermark)

	// New objects, one failing: the next passes deliver the new ones once
	// and retry the failing one RETRY_ATTEMPTS times.
	now = now.Add(time.Minute)
	bucket.put("c/acme/app/pod/4.json.gz", now)
	bucket.put("c/acme/app/pod/5.json.gz", now)
	d.fail["c/acme/app/pod/5.json.gz"] = true
	for range 4 {
		s = newScanner() // a restart before every pass
		_, err := s.pass(context.Background())
		require.NoError(t, err)
		now = now.Add(time.Minute)
	}
	assert.Equal(t, 1, d.seen["c/acme/app/pod/4.json.gz"])
	assert.Equal(t, 3, d.seen["c/acme/app/pod/5.json.gz"], "retried up to RETRY_ATTEMPTS, then given up")
	assert.Equal(t, 1, d.seen["c/acme/app/pod/1.json.gz"])
	assert.Len(t, s.cp.Done, 2, "objects within the grace period are remembered")
	assert.Empty(t, s.cp.Attempts)

	// Once the grace period is over, they are covered by the watermark.
	now = now.Add(time.Hour)
	_, err = s.pass(context.Background())
	require.NoError(t, err)
	assert.Empty(t, s.cp.Done, "memory follows the arrival rate")
	assert.Equal(t, 1, d.seen["c/acme/app/pod/4.json.gz"])
}

// A held object keeps the watermark below it.
func TestScanHeldObjectHoldsTheWatermark(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	bucket := &fakeBucket{objs: map[string]time.Time{"c/acme/a/p/1.json.gz": now.Add(-time.Hour)}}
	d := &countingDispatcher{seen: map[string]int{}, fail: map[string]bool{"c/acme/a/p/1.json.gz": true}}
	s := &scanner{client: bucket, bucket: "central", suffix: ".json.gz", grace: time.Minute, maxAttempts: 5, d: d,
		store: fileCheckpoint{path: filepath.Join(t.TempDir(), "cp.json")}, now: func() time.Time { return now }, logger: slog.New(slog.DiscardHandler)}
	require.NoError(t, s.load(context.Background()))
	_, err := s.pass(context.Background())
	require.NoError(t, err)
	assert.True(t, s.cp.Watermark.Before(now.Add(-time.Hour)))
	delete(d.fail, "c/acme/a/p/1.json.gz")
	_, err = s.pass(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, d.seen["c/acme/a/p/1.json.gz"])
	_, err = s.pass(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, d.seen["c/acme/a/p/1.json.gz"], "delivered, then never again")
}

func TestOpenCheckpoint(t *testing.T) {
	cp, err := openCheckpoint("", "central", nil)
	require.NoError(t, err)
	assert.Contains(t, cp.String(), "logdelivery-scan-central.json")
	cp, err = openCheckpoint("s3://state/scan/central.json", "central", nil)
	require.NoError(t, err)
	assert.Equal(t, "s3://state/scan/central.json", cp.String())
	_, err = openCheckpoint("s3://state", "central", nil)
	assert.Error(t, err)
}

// scanBatchForTest sets the batch size and returns a function restoring it.
func scanBatchForTest(t *testing.T, n int) func() {
	t.Helper()
	old := scanBatch
	scanBatch = n
	return func() { scanBatch = old }
}
