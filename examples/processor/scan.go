package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/awsdispatch"
)

// Scan mode lists the central bucket and delivers what is new, as the
// reference's scan mode does (container/cmd/log-processor/main.go,
// scanMode), but remembers what it delivered in a checkpoint, so that a
// restart delivers nothing twice, and in bounded memory:
//
//   - The checkpoint holds a watermark: every object last modified at or
//     before it has been handled. A pass lists the whole bucket (every
//     page; the reference reads the first 1,000 keys only) and dispatches
//     the objects with the suffix, newer than the watermark and not in
//     the checkpoint's Done set, a batch at a time.
//   - When a pass ends, the watermark moves to the pass's start less
//     SCAN_GRACE (objects can show up in a listing with a LastModified
//     somewhat in the past: a multipart upload's is its start), but never
//     past an object still to be retried. Done only keeps the objects
//     newer than the watermark: those that arrived within the grace
//     period, so memory follows the arrival rate, not the bucket's size.
//   - A pass in progress is part of the checkpoint too (its start, and the
//     last key of the last batch handled, saved after every batch): a
//     restart continues the listing after that key.
//   - An object whose delivery failed retryably is retried in the next
//     passes, up to RETRY_ATTEMPTS, then logged and given up, as a queue
//     would send it to its dead-letter queue. Permanent failures are
//     logged and not retried.
//
// If the checkpoint cannot be written, the scanner goes on with the state
// in memory (nothing is delivered twice while it runs, as in the
// reference) and logs an error at every pass.

// Scan defaults.
const (
	defaultScanInterval = 10 * time.Second // the reference's SCAN_INTERVAL
	defaultScanSuffix   = ".json.gz"       // the reference's filter
	defaultScanGrace    = 15 * time.Minute
)

// scanBatch is how many objects are dispatched together.
var scanBatch = 100

// checkpoint is the state of a scanner.
type checkpoint struct {
	// Watermark: every object last modified at or before it was handled.
	Watermark time.Time `json:"watermark"`
	// Done holds the objects newer than Watermark that were handled, with
	// their LastModified.
	Done map[string]time.Time `json:"done"`
	// Attempts counts the failed passes of objects to be retried.
	Attempts map[string]int `json:"attempts,omitempty"`
	// Pass is the pass in progress, if any.
	Pass *scanPass `json:"pass,omitempty"`
}

// scanPass is a pass in progress.
type scanPass struct {
	Started time.Time `json:"started"`
	// After is the last key of the last batch handled: the listing goes
	// on after it.
	After string `json:"after,omitempty"`
	// Held is the oldest LastModified of the objects to be retried.
	Held time.Time `json:"held,omitzero"`
}

// checkpointStore loads and saves a checkpoint.
type checkpointStore interface {
	// Load returns the checkpoint saved, or an empty one if none was.
	Load(ctx context.Context) (checkpoint, error)
	Save(ctx context.Context, cp checkpoint) error
	String() string
}

// fileCheckpoint is a checkpoint in a local file, replaced atomically.
type fileCheckpoint struct{ path string }

func (f fileCheckpoint) String() string { return f.path }

func (f fileCheckpoint) Load(context.Context) (checkpoint, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return checkpoint{}, nil
	}
	if err != nil {
		return checkpoint{}, err
	}
	return decodeCheckpoint(b, f.path)
}

func (f fileCheckpoint) Save(_ context.Context, cp checkpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), filepath.Base(f.path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.path)
}

// s3API is the part of the S3 API scan mode uses.
type s3API interface {
	awss3.ListObjectsV2APIClient
	GetObject(ctx context.Context, in *awss3.GetObjectInput, optFns ...func(*awss3.Options)) (*awss3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *awss3.PutObjectInput, optFns ...func(*awss3.Options)) (*awss3.PutObjectOutput, error)
}

// s3Checkpoint is a checkpoint in an S3 object, for scanners whose local
// disk does not outlive them. Only one scanner may use it at a time.
type s3Checkpoint struct {
	client      s3API
	bucket, key string
}

func (s s3Checkpoint) String() string { return "s3://" + s.bucket + "/" + s.key }

func (s s3Checkpoint) Load(ctx context.Context) (checkpoint, error) {
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &s.bucket, Key: &s.key})
	if _, ok := errors.AsType[*types.NoSuchKey](err); ok {
		return checkpoint{}, nil
	}
	if err != nil {
		return checkpoint{}, err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 256<<20))
	if err != nil {
		return checkpoint{}, err
	}
	return decodeCheckpoint(b, s.String())
}

func (s s3Checkpoint) Save(ctx context.Context, cp checkpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	_, err = s.client.PutObject(ctx, &awss3.PutObjectInput{Bucket: &s.bucket, Key: &s.key, Body: bytes.NewReader(b),
		ContentType: aws.String("application/json")})
	return err
}

func decodeCheckpoint(b []byte, where string) (checkpoint, error) {
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint %s: %w", where, err)
	}
	return cp, nil
}

// objectDispatcher is what scan mode needs of a Dispatcher.
type objectDispatcher interface {
	Dispatch(ctx context.Context, objs ...logdelivery.Object) logdelivery.Results
}

// scanner delivers the new objects of a bucket.
type scanner struct {
	client      awss3.ListObjectsV2APIClient
	bucket      string
	suffix      string
	grace       time.Duration
	maxAttempts int
	d           objectDispatcher
	store       checkpointStore
	now         func() time.Time
	logger      *slog.Logger

	cp checkpoint
}

// load reads the checkpoint.
func (s *scanner) load(ctx context.Context) error {
	cp, err := s.store.Load(ctx)
	if err != nil {
		return fmt.Errorf("loading the scan checkpoint %s: %w", s.store, err)
	}
	if cp.Done == nil {
		cp.Done = map[string]time.Time{}
	}
	if cp.Attempts == nil {
		cp.Attempts = map[string]int{}
	}
	s.cp = cp
	return nil
}

// save writes the checkpoint; a failure is logged, and the scanner goes
// on with its state in memory.
func (s *scanner) save(ctx context.Context) {
	// Saved even during a shutdown, so that the work done is not redone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.store.Save(ctx, s.cp); err != nil {
		s.logger.Error("saving the scan checkpoint failed; a restart may deliver objects again", "checkpoint", s.store.String(), "error", err)
	}
}

// pass lists the bucket once and delivers what is new. It returns the
// number of objects dispatched.
func (s *scanner) pass(ctx context.Context) (int, error) {
	if s.cp.Pass == nil {
		s.cp.Pass = &scanPass{Started: s.now()}
	}
	in := &awss3.ListObjectsV2Input{Bucket: &s.bucket}
	if s.cp.Pass.After != "" {
		in.StartAfter = aws.String(s.cp.Pass.After)
	}
	pages := awss3.NewListObjectsV2Paginator(s.client, in)
	var batch []logdelivery.Object
	dispatched := 0
	for pages.HasMorePages() && ctx.Err() == nil {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return dispatched, fmt.Errorf("listing bucket %s: %w", s.bucket, err)
		}
		for _, o := range page.Contents {
			if ctx.Err() != nil {
				break
			}
			key, lm := aws.ToString(o.Key), aws.ToTime(o.LastModified)
			if !strings.HasSuffix(key, s.suffix) || !lm.After(s.cp.Watermark) {
				continue
			}
			if _, done := s.cp.Done[key]; done {
				continue
			}
			batch = append(batch, logdelivery.Object{ID: "scan-" + key, Bucket: s.bucket, Key: key, Size: aws.ToInt64(o.Size), Time: lm})
			if len(batch) == scanBatch {
				s.handle(ctx, batch)
				dispatched += len(batch)
				batch = batch[:0]
			}
		}
	}
	if len(batch) > 0 && ctx.Err() == nil {
		s.handle(ctx, batch)
		dispatched += len(batch)
	}
	if ctx.Err() != nil {
		return dispatched, ctx.Err()
	}
	s.finish()
	s.save(ctx)
	return dispatched, nil
}

// handle dispatches a batch and records the outcome of each object.
func (s *scanner) handle(ctx context.Context, batch []logdelivery.Object) {
	retry := map[string]bool{}
	started := time.Now()
	results := s.d.Dispatch(ctx, batch...)
	byObject := map[string]logdelivery.Results{}
	for _, r := range results {
		byObject[r.Object.Key] = append(byObject[r.Object.Key], r)
	}
	for _, o := range batch { // one summary line per object, as per message elsewhere
		logdelivery.MessageResult{ID: o.Key, Results: byObject[o.Key]}.LogSummary(ctx, s.logger, time.Since(started))
	}
	for _, r := range results {
		switch {
		case r.Retryable():
			retry[r.Object.Key] = true
			s.logger.Warn("delivery failed; retried in a later pass", "key", r.Object.Key, "destination", r.Destination, "error", r.Err)
		case r.Outcome == logdelivery.Failed:
			s.logger.Error("delivery failed permanently; not retried", "key", r.Object.Key, "destination", r.Destination, "error", r.Err)
		default:
			s.logger.Debug("processed object", "key", r.Object.Key, "destination", r.Destination, "outcome", r.Outcome)
		}
	}
	// Results are recorded even when ctx ended meanwhile (a shutdown), so
	// that what was delivered is not delivered again; failures caused by
	// the shutdown are retried without counting as attempts.
	stopping := ctx.Err() != nil
	for _, o := range batch {
		if retry[o.Key] {
			if !stopping {
				s.cp.Attempts[o.Key]++
			}
			if s.cp.Attempts[o.Key] < s.maxAttempts {
				if p := s.cp.Pass; p.Held.IsZero() || o.Time.Before(p.Held) {
					p.Held = o.Time
				}
				continue
			}
			s.logger.Error("giving up on an object after RETRY_ATTEMPTS passes", "key", o.Key, "attempts", s.cp.Attempts[o.Key])
		}
		delete(s.cp.Attempts, o.Key)
		s.cp.Done[o.Key] = o.Time
	}
	s.cp.Pass.After = batch[len(batch)-1].Key
	s.save(ctx)
}

// finish ends a pass: the watermark moves up, and what it covers is
// forgotten.
func (s *scanner) finish() {
	p := s.cp.Pass
	wm := p.Started.Add(-s.grace)
	if !p.Held.IsZero() && !p.Held.After(wm) {
		wm = p.Held.Add(-time.Nanosecond)
	}
	if wm.After(s.cp.Watermark) {
		s.cp.Watermark = wm
	}
	for k, lm := range s.cp.Done {
		if !lm.After(s.cp.Watermark) {
			delete(s.cp.Done, k)
		}
	}
	s.cp.Pass = nil
}

// run scans every interval until ctx is done.
func (s *scanner) run(ctx context.Context, interval time.Duration) error {
	if err := s.load(ctx); err != nil {
		return err
	}
	s.logger.Info("scanning", "bucket", s.bucket, "interval", interval, "checkpoint", s.store.String(),
		"watermark", s.cp.Watermark, "resuming", s.cp.Pass != nil)
	for {
		n, err := s.pass(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			s.logger.Error("scan failed; retrying after the interval", "error", err)
		case n > 0:
			s.logger.Info("processed new objects in scan", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// runScan runs scan mode with the environment's settings.
func runScan(ctx context.Context, cfg aws.Config, opts func(*awsdispatch.Options), pathStyle bool, retryAttempts int, logger *slog.Logger) error {
	bucket := os.Getenv("SOURCE_BUCKET")
	if bucket == "" {
		return errors.New("scan mode needs SOURCE_BUCKET")
	}
	interval := defaultScanInterval
	if v := os.Getenv("SCAN_INTERVAL"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("SCAN_INTERVAL %q is not a positive number of seconds", v)
		}
		interval = time.Duration(n) * time.Second
	}
	grace := defaultScanGrace
	if v := os.Getenv("SCAN_GRACE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("SCAN_GRACE %q is not a duration", v)
		}
		grace = d
	}
	suffix := defaultScanSuffix
	if v, ok := os.LookupEnv("SCAN_SUFFIX"); ok {
		suffix = v
	}
	client := awss3.NewFromConfig(cfg, func(so *awss3.Options) {
		so.UsePathStyle = pathStyle
		so.DisableLogOutputChecksumValidationSkipped = true // Vector writes objects without checksums
	})
	store, err := openCheckpoint(os.Getenv("SCAN_CHECKPOINT"), bucket, client)
	if err != nil {
		return err
	}
	d, err := awsdispatch.New(cfg, opts)
	if err != nil {
		return err
	}
	defer d.Close()
	s := &scanner{client: client, bucket: bucket, suffix: suffix, grace: grace, maxAttempts: retryAttempts,
		d: d, store: store, now: time.Now, logger: logger}
	return s.run(ctx, interval)
}

// openCheckpoint returns the checkpoint store spec names: "s3://bucket/key",
// a file path, or (empty) a file in the temporary directory named after
// the bucket.
func openCheckpoint(spec, bucket string, client s3API) (checkpointStore, error) {
	if spec == "" {
		return fileCheckpoint{path: filepath.Join(os.TempDir(), "logdelivery-scan-"+bucket+".json")}, nil
	}
	if rest, ok := strings.CutPrefix(spec, "s3://"); ok {
		b, k, _ := strings.Cut(rest, "/")
		if b == "" || k == "" {
			return nil, fmt.Errorf("SCAN_CHECKPOINT %q: want s3://bucket/key", spec)
		}
		return s3Checkpoint{client: client, bucket: b, key: k}, nil
	}
	return fileCheckpoint{path: spec}, nil
}
