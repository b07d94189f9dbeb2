package loki

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/cwbatch"
	"github.com/logdelivery/logdelivery/internal/reqbody"
)

// Options configure a Deliverer.
type Options struct {
	// Egress is the policy every push URL is checked against, when
	// settings are validated by (*Deliverer).Kind and when the client
	// dials. Default: the strict default policy (https to public
	// addresses on egress.DefaultPorts); Loki's own port 3100 must be
	// listed in Ports.
	Egress egress.Policy
	// EgressOptions tune the HTTP client (egress.NewClient): timeouts,
	// connection limits, root CAs.
	EgressOptions []func(*egress.Options)
	// Secrets resolves the secret references of settings (auth). Nil:
	// a delivery whose settings reference a secret fails permanently,
	// saying so.
	Secrets credentials.Secrets

	// BatchBytes, BatchEntries, MaxLineSize and Timeout are the defaults
	// of settings that set none. Defaults: DefaultBatchBytes,
	// DefaultBatchEntries, DefaultMaxLineSize and DefaultTimeoutSeconds.
	BatchBytes, BatchEntries, MaxLineSize int
	Timeout                               time.Duration

	// MaxStreams bounds the streams (distinct label sets) of one
	// delivery: an object whose records would make more fails
	// permanently, naming the label whose values vary most, before any
	// record of the stream beyond the limit is pushed. Default: 1000.
	MaxStreams int
	// MaxStreamsPerPush bounds the streams of one push; a batch is sent
	// when a record of a new stream would exceed it. Default: 250.
	MaxStreamsPerPush int

	// MaxAttempts bounds the attempts of one push on retryable answers
	// (429, 5xx, timeouts, connection failures). Default: 8.
	MaxAttempts int
	// RetryBase and RetryMax bound the backoff between attempts: with
	// c = min(RetryMax, RetryBase*2^(attempt-1)), a random duration
	// between c/2 and c ("equal jitter"), or the answer's Retry-After
	// when that is longer. Defaults: 250ms and 10s.
	RetryBase, RetryMax time.Duration

	// Now is the clock Retry-After dates are read against. Default:
	// time.Now.
	Now func() time.Time
	// Logger receives debug and warning messages; never secrets or log
	// lines. Default: none.
	Logger *slog.Logger
}

// Deliverer pushes records to Loki. It is safe for concurrent use.
type Deliverer struct {
	opts   Options
	client *http.Client
	log    *slog.Logger
	bodies reqbody.Pool // push bodies, shared by the deliveries
}

// New returns a Deliverer. It fails on invalid options, an invalid egress
// policy among them.
func New(optFns ...func(*Options)) (*Deliverer, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	o.Egress = clonePolicy(o.Egress)
	switch {
	case o.BatchBytes < 0 || o.BatchBytes > 0 && (o.BatchBytes < MinBatchBytes || o.BatchBytes > MaxBatchBytes):
		return nil, fmt.Errorf("loki: BatchBytes %d: want %d to %d", o.BatchBytes, MinBatchBytes, MaxBatchBytes)
	case o.BatchEntries < 0 || o.BatchEntries > MaxBatchEntries:
		return nil, fmt.Errorf("loki: BatchEntries %d: want 1 to %d", o.BatchEntries, MaxBatchEntries)
	case o.MaxLineSize < 0:
		return nil, fmt.Errorf("loki: negative MaxLineSize")
	case o.Timeout < 0 || o.Timeout > MaxTimeoutSeconds*time.Second:
		return nil, fmt.Errorf("loki: Timeout %v: want at most %ds", o.Timeout, MaxTimeoutSeconds)
	case o.MaxStreams < 0 || o.MaxStreamsPerPush < 0 || o.MaxAttempts < 0:
		return nil, fmt.Errorf("loki: negative MaxStreams, MaxStreamsPerPush or MaxAttempts")
	case o.RetryBase < 0 || o.RetryMax < 0:
		return nil, fmt.Errorf("loki: negative RetryBase or RetryMax")
	}
	if o.BatchBytes == 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	if o.BatchEntries == 0 {
		o.BatchEntries = DefaultBatchEntries
	}
	if o.MaxLineSize == 0 {
		o.MaxLineSize = min(DefaultMaxLineSize, o.BatchBytes)
	}
	if o.MaxLineSize > o.BatchBytes {
		return nil, fmt.Errorf("loki: MaxLineSize %d is more than BatchBytes %d", o.MaxLineSize, o.BatchBytes)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeoutSeconds * time.Second
	}
	if o.MaxStreams == 0 {
		o.MaxStreams = 1000
	}
	if o.MaxStreamsPerPush == 0 {
		o.MaxStreamsPerPush = 250
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 8
	}
	if o.RetryBase == 0 {
		o.RetryBase = 250 * time.Millisecond
	}
	if o.RetryMax == 0 {
		o.RetryMax = 10 * time.Second
	}
	if o.RetryBase > o.RetryMax {
		return nil, fmt.Errorf("loki: RetryBase %v is more than RetryMax %v", o.RetryBase, o.RetryMax)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	client, err := egress.NewClient(o.Egress, o.EgressOptions...)
	if err != nil {
		return nil, fmt.Errorf("loki: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{opts: o, client: client, log: log}, nil
}

// Close closes the idle connections of the deliverer's client. Deliveries
// after Close open new ones.
func (dv *Deliverer) Close() error {
	dv.client.CloseIdleConnections()
	return nil
}

// StatusError is an answer of Loki other than 2xx. 429, 408 and 5xx
// answers are retryable; every other is permanent (errors.Is(err,
// fault.ErrPermanent)).
type StatusError struct {
	Status int
	// Message is the start of the answer's body, on one line.
	Message string
	// RetryAfter is the answer's Retry-After, 0 without one.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Is makes errors.Is(err, fault.ErrPermanent) true for the answers that
// are not retryable.
func (e *StatusError) Is(target error) bool {
	return target == fault.ErrPermanent && !retryableStatus(e.Status)
}

func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// DeliveryError reports a delivery that did not deliver every record it
// read: it stopped on a failed push, or Loki rejected some of its pushes
// (400), or its records would create too many streams. It wraps the
// failure and has its class (package fault): a retryable failure (429 or
// 5xx past the retries or the deadline) is retryable, with the last
// answer's Retry-After as its fault.RetryAfter; rejections and every other
// failure are permanent.
type DeliveryError struct {
	URL, OrgID string
	// Delivered events were accepted by Loki; Rejected events were in
	// pushes Loki answered 400 (Loki may have stored some of them: it
	// ingests the valid streams of a push it answers 400 for, without
	// saying which); NotDelivered events were read from the object and not
	// pushed, or pushed without an answer. Records of the object not read
	// yet are in no count.
	Delivered, Rejected, NotDelivered int64
	Err                               error
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("loki: push to %s as org %q: %v (%d events delivered, %d rejected, %d not delivered)",
		e.URL, e.OrgID, e.Err, e.Delivered, e.Rejected, e.NotDelivered)
}

// Unwrap returns the underlying failure.
func (e *DeliveryError) Unwrap() error { return e.Err }

// destination is what a delivery pushes to.
type destination struct {
	url, orgID, auth string
	batchBytes       int
	batchEntries     int
	maxLine          int
	drop             bool
	timeout          time.Duration
}

// Deliver pushes the records of d to the config's Loki. It implements
// deliver.Deliverer.
func (dv *Deliverer) Deliver(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return deliver.Receipt{}, fault.Retryable(fmt.Errorf("loki: %w", err))
	}
	st, err := deliver.SettingsOf[Settings](d, dv.Kind())
	if err != nil {
		return deliver.Receipt{}, err
	}
	if d.Records == nil {
		return deliver.Receipt{}, fault.Permanent(errors.New("loki: delivery has no record reader"))
	}
	dst, err := dv.destination(ctx, d, st)
	if err != nil {
		return deliver.Receipt{}, err
	}
	rr, err := d.Records(ctx)
	if err != nil {
		return deliver.Receipt{}, fmt.Errorf("loki: open records of %s: %w", d.Object.Key, err)
	}
	defer rr.Close()

	r := &run{dv: dv, ctx: ctx, dst: dst, labeler: newLabeler(st, d.Key), batch: newBatch(), enc: encoder{pool: &dv.bodies},
		streams: map[string]bool{}, values: map[string]map[string]bool{}, save: d.Progress}
	if len(d.Checkpoint) > 0 {
		var cp checkpoint
		if err := json.Unmarshal(d.Checkpoint, &cp); err != nil || cp.Records < 0 {
			dv.log.Warn("loki: unreadable checkpoint ignored; the delivery starts over", "object", d.Object.Key, "error", err)
		} else {
			r.resume = cp.Records
		}
	}
	readErr := r.read(rr)
	if r.err == nil && ctx.Err() == nil && r.batch.entries > 0 {
		r.push()
	}
	if r.err != nil || readErr != nil {
		r.notDelivered += int64(r.batch.entries) // abandoned
	}
	rcpt := r.rcpt
	rcpt.Undecoded = rr.Stats().Undecoded()
	rcpt.Location = "loki:" + dst.orgID + "@" + dst.url
	if err := r.result(); err != nil {
		return rcpt, err
	}
	if readErr != nil {
		return rcpt, fmt.Errorf("loki: reading %s (records before the error were pushed): %w", d.Object.Key, readErr)
	}
	return rcpt, nil
}

// destination resolves the push URL, org id, authentication and bounds of
// a delivery.
func (dv *Deliverer) destination(ctx context.Context, d *deliver.Delivery, st *Settings) (*destination, error) {
	cfg := d.Config
	u, err := pushURL(dv.opts.Egress, st.URL)
	if err != nil {
		return nil, fault.Permanent(fmt.Errorf("loki: %s/%s: url: %w", cfg.TenantID, cfg.Type, err))
	}
	dst := &destination{
		url:          u.String(),
		orgID:        orString(st.OrgID, cfg.TenantID),
		batchBytes:   orInt(st.BatchBytes, dv.opts.BatchBytes),
		batchEntries: orInt(st.BatchEntries, dv.opts.BatchEntries),
		maxLine:      orInt(st.MaxLineSize, dv.opts.MaxLineSize),
		drop:         st.OversizeLines == OversizeDrop,
		timeout:      dv.opts.Timeout,
	}
	dst.maxLine = min(dst.maxLine, dst.batchBytes)
	if st.TimeoutSeconds > 0 {
		dst.timeout = time.Duration(st.TimeoutSeconds) * time.Second
	}
	if msg := orgIDProblem(dst.orgID); msg != "" {
		return nil, fault.Permanent(fmt.Errorf("loki: %s/%s: org id %s", cfg.TenantID, cfg.Type, msg))
	}
	secret := func(field string, ref credentials.SecretRef) (string, error) {
		if dv.opts.Secrets == nil {
			return "", fault.Permanent(fmt.Errorf("loki: %s/%s: settings.auth.%s references a secret, and this processor resolves no secrets (loki.Options.Secrets)", cfg.TenantID, cfg.Type, field))
		}
		s, err := dv.opts.Secrets.Secret(ctx, cfg.TenantID, ref)
		if err != nil {
			return "", fmt.Errorf("loki: %s/%s: settings.auth.%s: %w", cfg.TenantID, cfg.Type, field, err)
		}
		v := s.Reveal()
		if v == "" || !printableASCII(v) {
			return "", fault.Permanent(fmt.Errorf("loki: %s/%s: settings.auth.%s: the secret %s is empty or holds characters a header cannot carry", cfg.TenantID, cfg.Type, field, ref))
		}
		return v, nil
	}
	switch a := st.Auth; {
	case !a.TokenRef.IsZero():
		token, err := secret("token_ref", a.TokenRef)
		if err != nil {
			return nil, err
		}
		dst.auth = "Bearer " + token
	case !a.PasswordRef.IsZero():
		password, err := secret("password_ref", a.PasswordRef)
		if err != nil {
			return nil, err
		}
		dst.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(a.Username+":"+password))
	}
	return dst, nil
}

func orString(v, fallback string) string {
	if v != "" {
		return v
	}
	return fallback
}

func orInt(v, fallback int) int {
	if v > 0 {
		return v
	}
	return fallback
}

// checkpoint is a Loki delivery's progress: how many of the delivery's
// records, in its deterministic record order, were pushed (or rejected, or
// dropped). Pushes are sequential, so one position covers every stream: a
// retry skips that many records.
type checkpoint struct {
	Records int64 `json:"records"`
}

// run is one delivery in progress. Pushes are made one at a time, in the
// order of the object, so that the entries of each stream reach Loki in
// record order.
type run struct {
	dv      *Deliverer
	ctx     context.Context
	dst     *destination
	labeler *labeler
	batch   *batch
	enc     encoder

	// streams are the label sets of the delivery; values the distinct
	// values of each label among them, for the cardinality error.
	streams map[string]bool
	values  map[string]map[string]bool

	// pos is how many records were read; resume, how many an earlier
	// attempt pushed (skipped); save, the delivery's checkpoint writer.
	pos, resume int64
	save        func(context.Context, []byte) error

	rcpt         deliver.Receipt
	err          error // the failure that stopped the delivery
	rejected     error // the first rejection (400)
	notDelivered int64
}

func (r *run) read(rr deliver.RecordReader) error {
	for n := 0; ; n++ {
		if r.err != nil {
			return nil
		}
		if n%1024 == 0 && r.ctx.Err() != nil {
			r.err = r.ctx.Err()
			return nil
		}
		rec, err := rr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if r.pos++; r.pos <= r.resume {
			r.rcpt.Resumed++
			deliver.SkipRecord(rr)
			continue
		}
		r.add(&rec)
	}
}

// add adds a record to the open batch, pushing the batch first when the
// record does not fit.
func (r *run) add(rec *deliver.Record) {
	line := rec.Message
	if len(line) > r.dst.maxLine {
		if r.dst.drop {
			r.rcpt.Dropped++
			return
		}
		line = cwbatch.TruncateUTF8(line, r.dst.maxLine)
		r.rcpt.Truncated++
	}
	labels, pairs, meta, changed := r.labeler.labels(rec)
	if changed && !r.streams[labels] {
		if len(r.streams) >= r.dv.opts.MaxStreams {
			r.notDelivered++
			r.err = fault.Permanent(r.cardinalityError(pairs))
			return
		}
		r.streams[labels] = true
		for _, p := range pairs {
			if r.values[p.Name] == nil {
				r.values[p.Name] = map[string]bool{}
			}
			r.values[p.Name][p.Value] = true
		}
	}
	e := entry{ts: rec.Time, line: line, meta: meta}
	size := len(line) + metaSize(meta)
	b := r.batch
	full := b.entries > 0 && (b.bytes+size > r.dst.batchBytes ||
		len(b.streams) >= r.dv.opts.MaxStreamsPerPush && !b.has(labels))
	if full {
		r.push()
		if r.err != nil {
			r.notDelivered++
			return
		}
	}
	r.batch.add(labels, e)
	r.batch.end = r.pos
	if r.batch.entries >= r.dst.batchEntries {
		r.push()
	}
}

// cardinalityError explains a delivery whose label sets would exceed
// MaxStreams.
func (r *run) cardinalityError(pairs []pair) error {
	for _, p := range pairs {
		if r.values[p.Name] == nil {
			r.values[p.Name] = map[string]bool{}
		}
		r.values[p.Name][p.Value] = true
	}
	worst, most := "", 0
	for name, vals := range r.values {
		if len(vals) > most || len(vals) == most && name < worst {
			worst, most = name, len(vals)
		}
	}
	return fmt.Errorf("the object's records would create more than %d streams (distinct label sets), refused to protect the Loki's index; label %q alone has %d distinct values: send it as structured metadata (metadata_fields) instead of a label",
		r.dv.opts.MaxStreams, worst, most)
}

// push sends the open batch and starts a new one. A batch Loki rejects
// (400) is counted and the delivery goes on; any other failure stops it.
func (r *run) push() {
	b := r.batch
	r.batch = newBatch()
	body := r.enc.encode(b)
	err := r.send(body)
	r.enc.pool.Put(body)
	var se *StatusError
	switch {
	case err == nil:
		r.rcpt.Events += int64(b.entries)
		r.rcpt.Bytes += b.lines
	case errors.As(err, &se) && se.Status == http.StatusBadRequest:
		r.rcpt.Rejected += int64(b.entries)
		if r.rejected == nil {
			r.rejected = err
		}
		r.dv.log.Warn("loki: push rejected", "url", r.dst.url, "org_id", r.dst.orgID,
			"entries", b.entries, "streams", len(b.streams), "error", err)
	default:
		r.err = err
		r.notDelivered += int64(b.entries)
		return
	}
	r.progress(b.end)
}

// progress saves the checkpoint after a push Loki answered for good. A
// failed save stops the delivery, retryably, so that a retry resumes from
// what was saved rather than duplicating more.
func (r *run) progress(end int64) {
	if r.save == nil {
		return
	}
	cp, _ := json.Marshal(checkpoint{Records: end})
	if err := r.save(r.ctx, cp); err != nil {
		r.err = fault.Retryable(fmt.Errorf("saving the delivery's checkpoint: %w", err))
	}
}

// result returns the run's classified error, or nil.
func (r *run) result() error {
	err := r.err
	if err == nil && r.rejected != nil {
		err = fmt.Errorf("%d events in pushes Loki rejected, the first with %w", r.rcpt.Rejected, r.rejected)
	}
	if err == nil {
		return nil
	}
	if r.err != nil && r.rejected != nil {
		err = fmt.Errorf("%w (and %d events in pushes Loki rejected before)", err, r.rcpt.Rejected)
	}
	de := &DeliveryError{URL: r.dst.url, OrgID: r.dst.orgID, Delivered: r.rcpt.Events, Rejected: r.rcpt.Rejected,
		NotDelivered: r.notDelivered, Err: err}
	if r.err == nil {
		return fault.Permanent(de) // only rejections: a retry would be rejected again
	}
	return fault.Retryable(de) // the class of r.err: a permanent failure stays permanent
}

// send pushes body with retries.
func (r *run) send(body *reqbody.Buffer) error {
	for attempt := 1; ; attempt++ {
		err := r.attempt(body)
		if err == nil {
			return nil
		}
		if fault.IsPermanent(err) {
			return err
		}
		if r.ctx.Err() != nil {
			return fmt.Errorf("%w (pushing: %v)", r.ctx.Err(), err)
		}
		var se *StatusError
		var retryAfter time.Duration
		if errors.As(err, &se) && se.RetryAfter > 0 {
			retryAfter = se.RetryAfter
			err = fault.WithRetryAfter(err, retryAfter)
		}
		if attempt >= r.dv.opts.MaxAttempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		wait := max(r.backoff(attempt), retryAfter)
		if dl, ok := r.ctx.Deadline(); ok && time.Until(dl) < wait {
			return fmt.Errorf("no time for attempt %d before the deadline (wait %v): %w", attempt+1, wait.Round(time.Millisecond), err)
		}
		r.dv.log.Debug("loki: retrying push", "url", r.dst.url, "org_id", r.dst.orgID, "attempt", attempt, "wait", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-r.ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (waiting to retry after: %v)", r.ctx.Err(), err)
		}
	}
}

func (r *run) backoff(attempt int) time.Duration {
	ceil := r.dv.opts.RetryBase << min(attempt-1, 30)
	if ceil <= 0 || ceil > r.dv.opts.RetryMax {
		ceil = r.dv.opts.RetryMax
	}
	half := ceil / 2
	return half + time.Duration(rand.Int64N(int64(ceil-half)+1))
}

// attempt makes one push request.
func (r *run) attempt(body *reqbody.Buffer) error {
	ctx, cancel := context.WithTimeout(r.ctx, r.dst.timeout)
	defer cancel()
	// The body's reader is detached when the buffer goes back to the pool
	// (or the next attempt takes a reader), so a transport still holding
	// it never reads another push.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.dst.url, body.Reader())
	if err != nil {
		return fault.Permanent(err)
	}
	req.ContentLength = int64(len(body.B))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Scope-OrgID", r.dst.orgID)
	req.Header.Set("User-Agent", "logdelivery")
	if r.dst.auth != "" {
		req.Header.Set("Authorization", r.dst.auth)
	}
	r.rcpt.Calls++
	resp, err := r.dv.client.Do(req)
	if err != nil {
		return err // a *url.Error: the URL has no credentials (they are headers)
	}
	defer resp.Body.Close()
	msg, _ := egress.ReadBody(resp.Body, 1024)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return &StatusError{Status: resp.StatusCode, Message: oneLine(msg),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), r.dv.opts.Now())}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(s)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// oneLine returns the start of a response body for an error message.
func oneLine(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	s = strings.Join(strings.Fields(s), " ")
	return cwbatch.TruncateUTF8(s, 512)
}
