package delivertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

// KindHarness describes a destination kind to RunKind.
type KindHarness struct {
	// Kind is the kind under test. Its Deliverer is not used: each test
	// gets its own from NewDestination.
	Kind deliver.Kind
	// NewDestination returns a new, empty destination for one test and a
	// deliverer of the kind writing to it. It releases what it starts
	// with t.Cleanup.
	NewDestination func(t *testing.T) *Destination
	// WriteSize is the most one write of the deliverer carries (records
	// for a records kind, bytes for a copy kind) when a delivery needs
	// several writes; RunKind delivers at least 2.5 times as much to test
	// partial deliveries. Zero means that every delivery is one write:
	// partial deliveries are not tested.
	WriteSize int
}

// Destination is one test's destination, as RunKind drives and observes it.
type Destination struct {
	// Deliverer delivers to the destination.
	Deliverer deliver.Deliverer
	// Config returns a valid config of the kind, of the given tenant, that
	// Deliverer delivers to this destination.
	Config func(tenantID string) tenant.DeliveryConfig
	// Source, when set, stores an object where the deliverer reads it
	// from (the central bucket of a server-side copy) and returns it. When
	// nil, objects are served only through Delivery.Open and
	// Delivery.Records.
	Source func(key string, body []byte) deliver.Object
	// Received returns what the destination holds so far: events for a
	// records kind, objects for a copy kind.
	Received func() int64
	// Fail makes the destination accept after more writes and then answer
	// every later write with f, until the test ends. A write is one
	// request that stores data: a PutLogEvents call, a copied part, a
	// file written. Fail reports false when the destination cannot produce
	// f; the checks that need it are skipped. Nil: no fault can be
	// produced.
	Fail func(f Fault, after int) bool
}

// Fault is a failure Destination.Fail makes a destination produce.
type Fault int

// Faults of a destination.
const (
	// FaultRetryable is a failure that may pass: throttling, a 5xx, a full
	// disk.
	FaultRetryable Fault = iota + 1
	// FaultPermanent is a failure that will not: access denied, a missing
	// destination.
	FaultPermanent
	// FaultHang is no answer at all: writes block until their context is
	// done.
	FaultHang
)

// String returns "retryable", "permanent" or "hang".
func (f Fault) String() string {
	switch f {
	case FaultRetryable:
		return "retryable"
	case FaultPermanent:
		return "permanent"
	case FaultHang:
		return "hang"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Sizes of the deliveries RunKind makes.
const (
	smallRecords = 100
	smallBody    = 512
	largeRecords = 1000     // at least, see KindHarness.WriteSize
	largeBody    = 64 << 10 // at least
	// deadline is the context deadline of the deadline checks, and grace
	// how much later a delivery may return.
	deadline = 300 * time.Millisecond
	grace    = 2 * time.Second
)

// RunKind runs the conformance suite of destination kinds against the
// destinations of h. Every kind of this module runs it; run it against
// your own kind too:
//
//	func TestConformance(t *testing.T) {
//		delivertest.RunKind(t, delivertest.KindHarness{
//			Kind:      loki.Kind(),
//			WriteSize: 1000, // records per push
//			NewDestination: func(t *testing.T) *delivertest.Destination {
//				srv := newFakeLoki(t)
//				return &delivertest.Destination{
//					Deliverer: loki.New(srv.URL),
//					Config:    func(id string) tenant.DeliveryConfig { … },
//					Received:  srv.Lines,
//					Fail:      srv.Fail,
//				}
//			},
//		})
//	}
//
// Every check also requires that every body and record reader the
// deliverer opens is closed by the time Deliver returns. The checks:
//
//   - DeliversAndCounts: a delivery succeeds and its Receipt counts what
//     the destination received; a Delivery without decoded Settings (built
//     by hand) is delivered too.
//   - FailuresAreClassified: a destination failing retryably or
//     permanently gives an error of that class and a Receipt counting
//     what the destination holds.
//   - ReceiptOnPartialFailure: a destination that accepts a write and then
//     fails gives an error of the failure's class and a Receipt counting
//     exactly what was accepted (KindHarness.WriteSize).
//   - ContextErrorsAreRetryable: a context cancelled before the delivery,
//     while the object is read, or while the destination does not answer
//     gives a retryable error wrapping context.Canceled. When the object's
//     stream goes on after the cancellation (buffered data), the delivery
//     either fails that way or is complete.
//   - DeadlineIsHonoured: with a destination that does not answer, or an
//     object that stalls, Deliver returns soon after the context's
//     deadline with a retryable error wrapping context.DeadlineExceeded.
//   - ClosesWhatItOpens: a source that fails mid-way gives an error
//     wrapping the source's, and its readers are closed.
//   - ConcurrentDeliveries: deliveries of several tenants, some to the
//     same place, run in parallel (run the suite with -race) and each
//     Receipt counts its own.
//   - SettingsRoundTrip: the harness's config validates in a Registry of
//     the kind; Registry.Settings returns the kind's settings type;
//     deliver.SettingsObject of those settings decodes and validates to
//     equal settings; an unknown setting is refused, naming it.
//
// Checks that need a fault the destination cannot produce are skipped,
// saying so.
func RunKind(t *testing.T, h KindHarness) {
	t.Helper()
	require.NotNil(t, h.NewDestination, "KindHarness.NewDestination")
	reg, err := deliver.NewRegistry([]deliver.Kind{h.Kind})
	require.NoError(t, err, "a registry of the kind")
	k := &kindSuite{h: h, reg: reg}
	t.Run("DeliversAndCounts", k.testDelivers)
	t.Run("FailuresAreClassified", k.testFailures)
	t.Run("ReceiptOnPartialFailure", k.testPartial)
	t.Run("ContextErrorsAreRetryable", k.testContext)
	t.Run("DeadlineIsHonoured", k.testDeadline)
	t.Run("ClosesWhatItOpens", k.testSourceFailure)
	t.Run("ConcurrentDeliveries", k.testConcurrent)
	t.Run("SettingsRoundTrip", k.testSettings)
}

type kindSuite struct {
	h   KindHarness
	reg *deliver.Registry
}

// env is one test's destination.
type env struct {
	*kindSuite
	dst *Destination
	n   int // objects made so far, for unique keys
	mu  sync.Mutex
}

func (k *kindSuite) open(t *testing.T) *env {
	t.Helper()
	d := k.h.NewDestination(t)
	require.NotNil(t, d, "NewDestination")
	require.NotNil(t, d.Deliverer, "Destination.Deliverer")
	require.NotNil(t, d.Config, "Destination.Config")
	require.NotNil(t, d.Received, "Destination.Received")
	return &env{kindSuite: k, dst: d}
}

// fail injects f, skipping the test when the destination cannot produce
// it.
func (e *env) fail(t *testing.T, f Fault, after int) {
	t.Helper()
	if e.dst.Fail == nil || !e.dst.Fail(f, after) {
		t.Skipf("the destination cannot produce a %s fault after %d writes", f, after)
	}
}

// units returns what a receipt says reached the destination, in the unit
// of Destination.Received.
func (e *env) units(r deliver.Receipt) int64 {
	if e.h.Kind.Records {
		return r.Events
	}
	return int64(r.Objects)
}

// size returns the content of a small or a large delivery.
func (e *env) size(large bool) int {
	switch {
	case !large && e.h.Kind.Records:
		return smallRecords
	case !large:
		return smallBody
	case e.h.Kind.Records:
		return max(e.h.WriteSize*5/2, largeRecords)
	}
	return max(e.h.WriteSize*5/2, largeBody)
}

// want returns what a complete delivery of src adds to the destination.
func (e *env) want(src *source) int64 {
	if e.h.Kind.Records {
		return int64(len(src.records))
	}
	return 1
}

// delivery returns a delivery of a new object of tenantID, with its
// settings decoded as the Dispatcher decodes them.
func (e *env) delivery(t *testing.T, tenantID string, size int) (*deliver.Delivery, *source) {
	t.Helper()
	e.mu.Lock()
	e.n++
	n := e.n
	e.mu.Unlock()
	now := time.Now()
	k := keyparse.Key{Cluster: "c1", Namespace: tenantID, Tenant: tenantID, Application: "app", Pod: "app-0",
		File: fmt.Sprintf("%d-%04d.json", now.Unix(), n)}
	key, err := keyparse.Default().Format(k)
	require.NoError(t, err)
	src := &source{stopAt: -1}
	if e.h.Kind.Records {
		src.records = make([]deliver.Record, size)
		for i := range src.records {
			src.records[i] = deliver.Record{
				Time:        now.Add(-time.Hour + time.Duration(i)*time.Millisecond),
				TimeSource:  deliver.TimeFromRecord,
				Message:     fmt.Sprintf(`{"msg":"event %d of object %d","tenant":%q}`, i, n, tenantID),
				Application: k.Application,
			}
		}
	}
	var body strings.Builder
	for i := 0; body.Len() < size; i++ {
		fmt.Fprintf(&body, `{"message":"line %d of object %d"}`+"\n", i, n)
	}
	src.body = []byte(body.String()[:size])
	if e.h.Kind.Records {
		src.body = []byte(body.String()) // whole lines: the records' source
	}

	cfg := e.dst.Config(tenantID)
	settings, err := e.reg.Settings(cfg)
	require.NoError(t, err, "Destination.Config must return a valid config")
	obj := deliver.Object{Bucket: "central-logs", Key: key, Size: int64(len(src.body)), Time: now}
	if e.dst.Source != nil {
		obj = e.dst.Source(key, src.body)
	}
	return &deliver.Delivery{
		Object:   obj,
		Key:      k,
		Config:   cfg,
		Settings: settings,
		Open:     src.open,
		Records:  src.openRecords,
	}, src
}

// deliver delivers dl and checks that every reader opened was closed.
func (e *env) deliver(t *testing.T, ctx context.Context, dl *deliver.Delivery, src *source) (deliver.Receipt, error) {
	t.Helper()
	rcpt, err := e.dst.Deliverer.Deliver(ctx, dl)
	src.checkClosed(t)
	return rcpt, err
}

// deliverBy delivers dl like deliver, failing the test when Deliver has
// not returned by limit (the test does not wait for it then: the
// destination's cleanup releases it).
func (e *env) deliverBy(t *testing.T, ctx context.Context, dl *deliver.Delivery, src *source, limit time.Duration) (deliver.Receipt, error) {
	t.Helper()
	type result struct {
		rcpt deliver.Receipt
		err  error
	}
	done := make(chan result, 1)
	go func() {
		rcpt, err := e.dst.Deliverer.Deliver(ctx, dl)
		done <- result{rcpt, err}
	}()
	select {
	case r := <-done:
		src.checkClosed(t)
		return r.rcpt, r.err
	case <-time.After(limit):
		t.Fatalf("Deliver has not returned %v after its context ended", limit-deadline)
		return deliver.Receipt{}, nil
	}
}

// checkReceipt checks that the receipt counts what the destination holds
// beyond before.
func (e *env) checkReceipt(t *testing.T, rcpt deliver.Receipt, before int64) {
	t.Helper()
	assert.Equal(t, e.dst.Received()-before, e.units(rcpt),
		"the receipt counts what reached the destination (receipt %+v)", rcpt)
}

func checkClass(t *testing.T, f Fault, err error) {
	t.Helper()
	require.Error(t, err)
	switch f {
	case FaultPermanent:
		assert.True(t, fault.IsPermanent(err), "a permanent failure of the destination is permanent: %v", err)
	default:
		assert.True(t, fault.IsRetryable(err), "a %s failure of the destination is retryable: %v", f, err)
	}
}

func (k *kindSuite) testDelivers(t *testing.T) {
	e := k.open(t)
	dl, src := e.delivery(t, "acme", e.size(false))
	rcpt, err := e.deliver(t, context.Background(), dl, src)
	require.NoError(t, err)
	assert.Equal(t, e.want(src), e.units(rcpt), "receipt %+v", rcpt)
	assert.Equal(t, e.want(src), e.dst.Received(), "what the destination holds")
	assert.NotEmpty(t, rcpt.Location, "the receipt names where the data went")
	if k.h.Kind.Records {
		var bytes int64
		for _, r := range src.records {
			bytes += int64(len(r.Message))
		}
		assert.Equal(t, bytes, rcpt.Bytes, "Bytes counts the messages delivered")
	} else {
		assert.Equal(t, int64(len(src.body)), rcpt.Bytes, "Bytes counts the object's bytes")
	}

	// A delivery built by hand, without decoded settings, is delivered too
	// (deliver.SettingsOf).
	before := e.dst.Received()
	dl, src = e.delivery(t, "acme", e.size(false))
	dl.Settings = nil
	rcpt, err = e.deliver(t, context.Background(), dl, src)
	require.NoError(t, err, "a delivery without decoded settings")
	assert.Equal(t, e.want(src), e.units(rcpt))
	e.checkReceipt(t, rcpt, before)
}

func (k *kindSuite) testFailures(t *testing.T) {
	for _, f := range []Fault{FaultRetryable, FaultPermanent} {
		t.Run(f.String(), func(t *testing.T) {
			e := k.open(t)
			e.fail(t, f, 0)
			dl, src := e.delivery(t, "acme", e.size(false))
			rcpt, err := e.deliver(t, context.Background(), dl, src)
			checkClass(t, f, err)
			e.checkReceipt(t, rcpt, 0)
		})
	}
}

func (k *kindSuite) testPartial(t *testing.T) {
	if k.h.WriteSize <= 0 {
		t.Skip("KindHarness.WriteSize is 0: every delivery is one write")
	}
	for _, f := range []Fault{FaultRetryable, FaultPermanent} {
		t.Run(f.String(), func(t *testing.T) {
			e := k.open(t)
			dl, src := e.delivery(t, "acme", e.size(true))
			e.fail(t, f, 1)
			rcpt, err := e.deliver(t, context.Background(), dl, src)
			checkClass(t, f, err)
			e.checkReceipt(t, rcpt, 0)
			if k.h.Kind.Records {
				got := e.dst.Received()
				assert.Positive(t, got, "the destination accepted a write before failing")
				assert.Less(t, got, e.want(src), "the destination failed before the end")
			}
		})
	}
}

func (k *kindSuite) testContext(t *testing.T) {
	t.Run("CancelledBefore", func(t *testing.T) {
		e := k.open(t)
		dl, src := e.delivery(t, "acme", e.size(false))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rcpt, err := e.deliver(t, ctx, dl, src)
		checkContextError(t, err, context.Canceled)
		assert.Zero(t, e.dst.Received(), "nothing is delivered with a cancelled context")
		e.checkReceipt(t, rcpt, 0)
	})
	// The object's stream fails once the context is cancelled, as an
	// HTTP body does.
	t.Run("CancelledWhileReading", func(t *testing.T) {
		e := k.open(t)
		dl, src := e.delivery(t, "acme", e.size(true))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		src.stopAt, src.stop, src.wait = src.len()/2, cancel, true
		rcpt, err := e.deliver(t, ctx, dl, src)
		if src.opens() == 0 {
			t.Skipf("the deliverer does not read the object (err %v)", err)
		}
		checkContextError(t, err, context.Canceled)
		e.checkReceipt(t, rcpt, 0)
	})
	// The object's stream goes on after the cancellation (what was
	// downloaded is still decoded): the deliverer notices by itself, or
	// completes the delivery.
	t.Run("CancelledWhileReadingBuffered", func(t *testing.T) {
		e := k.open(t)
		dl, src := e.delivery(t, "acme", e.size(true))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		src.stopAt, src.stop = src.len()/2, cancel
		rcpt, err := e.deliver(t, ctx, dl, src)
		if src.opens() == 0 {
			t.Skipf("the deliverer does not read the object (err %v)", err)
		}
		if err == nil {
			assert.Equal(t, e.want(src), e.units(rcpt), "a delivery that succeeds is complete")
		} else {
			checkContextError(t, err, context.Canceled)
		}
		e.checkReceipt(t, rcpt, 0)
	})
	t.Run("CancelledWhileWriting", func(t *testing.T) {
		e := k.open(t)
		dl, src := e.delivery(t, "acme", e.size(false))
		e.fail(t, FaultHang, 0)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stop := time.AfterFunc(deadline, cancel)
		defer stop.Stop()
		rcpt, err := e.deliverBy(t, ctx, dl, src, deadline+grace)
		checkContextError(t, err, context.Canceled)
		e.checkReceipt(t, rcpt, 0)
	})
}

func checkContextError(t *testing.T, err error, want error) {
	t.Helper()
	require.Error(t, err)
	assert.True(t, fault.IsRetryable(err), "a context error is retryable: %v", err)
	assert.ErrorIs(t, err, want)
}

func (k *kindSuite) testDeadline(t *testing.T) {
	t.Run("HungDestination", func(t *testing.T) {
		e := k.open(t)
		dl, src := e.delivery(t, "acme", e.size(false))
		e.fail(t, FaultHang, 0)
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		rcpt, err := e.deliverBy(t, ctx, dl, src, deadline+grace)
		checkContextError(t, err, context.DeadlineExceeded)
		e.checkReceipt(t, rcpt, 0)
	})
	t.Run("StalledObject", func(t *testing.T) {
		e := k.open(t)
		dl, src := e.delivery(t, "acme", e.size(true))
		src.stopAt, src.wait = src.len()/2, true
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		rcpt, err := e.deliverBy(t, ctx, dl, src, deadline+grace)
		if src.opens() == 0 {
			t.Skipf("the deliverer does not read the object (err %v)", err)
		}
		checkContextError(t, err, context.DeadlineExceeded)
		e.checkReceipt(t, rcpt, 0)
	})
}

// errCorrupt is the failure of a source that breaks mid-way.
var errCorrupt = fault.Permanent(errors.New("delivertest: corrupt object"))

func (k *kindSuite) testSourceFailure(t *testing.T) {
	e := k.open(t)
	dl, src := e.delivery(t, "acme", e.size(true))
	src.stopAt, src.err = src.len()/2, errCorrupt
	rcpt, err := e.deliver(t, context.Background(), dl, src)
	if src.opens() == 0 {
		t.Skipf("the deliverer does not read the object (err %v)", err)
	}
	require.Error(t, err, "a source failing mid-way fails the delivery")
	assert.ErrorIs(t, err, errCorrupt, "the source's error is kept")
	assert.True(t, fault.IsPermanent(err), "and its class: %v", err)
	e.checkReceipt(t, rcpt, 0)
}

func (k *kindSuite) testConcurrent(t *testing.T) {
	e := k.open(t)
	tenants := []string{"acme", "globex", "initech", "umbrella"}
	const perTenant = 4
	type job struct {
		dl  *deliver.Delivery
		src *source
	}
	var jobs []job
	for _, id := range tenants {
		for range perTenant {
			dl, src := e.delivery(t, id, e.size(false))
			jobs = append(jobs, job{dl, src})
		}
	}
	rcpts := make([]deliver.Receipt, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			rcpts[i], errs[i] = e.dst.Deliverer.Deliver(context.Background(), j.dl)
		})
	}
	wg.Wait()
	var sum, want int64
	for i, j := range jobs {
		j.src.checkClosed(t)
		require.NoError(t, errs[i], "delivery %d", i)
		assert.Equal(t, e.want(j.src), e.units(rcpts[i]), "delivery %d counts its own", i)
		sum += e.units(rcpts[i])
		want += e.want(j.src)
	}
	assert.Equal(t, want, sum)
	assert.Equal(t, want, e.dst.Received(), "every concurrent delivery reached the destination")
}

func (k *kindSuite) testSettings(t *testing.T) {
	e := k.open(t)
	cfg := e.dst.Config("acme")
	require.NoError(t, k.reg.Validate(cfg), "Destination.Config must return a valid config")

	s, err := k.reg.Settings(cfg)
	require.NoError(t, err)
	assert.Equal(t, reflect.TypeOf(k.h.Kind.NewSettings()), reflect.TypeOf(s), "Registry.Settings returns the kind's settings type")

	again := cfg.Clone()
	again.Settings = deliver.SettingsObject(s)
	s2, err := k.reg.Settings(again)
	require.NoError(t, err, "SettingsObject of the decoded settings validates")
	assert.Equal(t, s, s2, "and decodes to the same settings")

	const unknown = "delivertest_no_such_setting"
	bad := cfg.Clone()
	if bad.Settings == nil {
		bad.Settings = map[string]any{}
	}
	bad.Settings[unknown] = "x"
	err = k.reg.Validate(bad)
	require.Error(t, err, "an unknown setting is refused")
	assert.True(t, fault.IsPermanent(err))
	var ve *tenant.ValidationError
	require.ErrorAs(t, err, &ve)
	var fields []string
	for _, p := range ve.Problems {
		fields = append(fields, p.Field)
	}
	assert.Contains(t, fields, deliver.SettingsField(k.h.Kind.Name, unknown), "the problem names the setting")
}

// source serves the object of one delivery, raw and as records, counting
// the readers the deliverer opens and closes. With stopAt >= 0, a reader
// that reaches record or byte stopAt calls stop (once) and then fails with
// err when it is set; or, with wait, waits for its context to end and
// fails with the context's error, as a stream bound to its context does;
// or else goes on.
type source struct {
	records []deliver.Record
	body    []byte
	stopAt  int
	stop    func()
	err     error
	wait    bool

	once    sync.Once
	mu      sync.Mutex
	readers []*readerState
}

type readerState struct{ closed bool }

func (s *source) len() int {
	if s.records != nil {
		return len(s.records)
	}
	return len(s.body)
}

func (s *source) opens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.readers)
}

func (s *source) track() *readerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &readerState{}
	s.readers = append(s.readers, r)
	return r
}

func (s *source) close(r *readerState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.closed = true
}

func (s *source) checkClosed(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	open := 0
	for _, r := range s.readers {
		if !r.closed {
			open++
		}
	}
	assert.Zero(t, open, "of %d readers opened, %d are not closed when Deliver returns", len(s.readers), open)
}

// interrupt is what a reader does from stopAt on: it returns the error to
// fail with, or nil to go on.
func (s *source) interrupt(ctx context.Context) error {
	s.once.Do(func() {
		if s.stop != nil {
			s.stop()
		}
	})
	switch {
	case s.err != nil:
		return s.err
	case s.wait:
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (s *source) open(ctx context.Context) (*deliver.Body, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &deliver.Body{
		ReadCloser:  &bodyReader{src: s, ctx: ctx, state: s.track()},
		ContentType: "application/x-ndjson",
		Size:        int64(len(s.body)),
	}, nil
}

func (s *source) openRecords(ctx context.Context) (deliver.RecordReader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &recordReader{src: s, ctx: ctx, state: s.track()}, nil
}

type bodyReader struct {
	src   *source
	ctx   context.Context
	state *readerState
	pos   int
}

func (r *bodyReader) Read(p []byte) (int, error) {
	end := len(r.src.body)
	if at := r.src.stopAt; at >= 0 {
		if r.pos >= at {
			if err := r.src.interrupt(r.ctx); err != nil {
				return 0, err
			}
		} else {
			end = at // stop there
		}
	}
	if r.pos >= end {
		return 0, io.EOF
	}
	n := copy(p, r.src.body[r.pos:end])
	r.pos += n
	return n, nil
}

func (r *bodyReader) Close() error {
	r.src.close(r.state)
	return nil
}

type recordReader struct {
	src   *source
	ctx   context.Context
	state *readerState
	i     int
}

func (r *recordReader) Next() (deliver.Record, error) {
	if r.src.stopAt >= 0 && r.i >= r.src.stopAt {
		if err := r.src.interrupt(r.ctx); err != nil {
			return deliver.Record{}, err
		}
	}
	if r.i >= len(r.src.records) {
		return deliver.Record{}, io.EOF
	}
	r.i++
	return r.src.records[r.i-1], nil
}

func (r *recordReader) Stats() deliver.DecodeStats {
	return deliver.DecodeStats{Lines: int64(r.i), Records: int64(r.i)}
}

func (r *recordReader) Close() error {
	r.src.close(r.state)
	return nil
}
