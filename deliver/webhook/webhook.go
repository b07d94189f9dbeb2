// Package webhook delivers log records to an HTTPS endpoint of the
// tenant's, in batches, signed so that the receiver can tell they come
// from the processor and are fresh.
//
// # Configuration
//
// A destination of kind webhook keeps its settings (Settings) under
// "settings" in the item:
//
//	tenant_id: acme
//	type: webhook
//	settings:
//	  url: https://hooks.acme.example.com/logs
//	  format: ndjson                  # or json, a JSON array
//	  gzip: true
//	  headers:
//	    X-Team: payments
//	  bearer_token: arn:aws:secretsmanager:eu-west-1:222222222222:secret:logdelivery/acme/hook-token-AbCdEf
//	  signing_key: arn:aws:ssm:eu-west-1:222222222222:parameter/logdelivery/acme/hook-signing-key
//
// # Requests
//
// Each request is a POST of a batch of events, the documents of
// internal/httpsend.Document (@timestamp, message, stream, cluster,
// application and kubernetes.*), as NDJSON (Content-Type
// application/x-ndjson, every event followed by a newline) or as a JSON
// array (application/json), gzipped when the settings say so
// (Content-Encoding: gzip). A batch holds at most Options.MaxRequestBytes
// before compression (1 MiB by default, lowered by the settings'
// max_request_bytes) and Options.MaxRequestEvents; a record whose event
// alone is larger is not sent (Receipt.Dropped). Batches of one delivery
// are sent one after the other, in the order of the object, while the next
// is built. Every request carries an Idempotency-Key naming its batch,
// the same when the batch is sent again, so that the receiver can drop
// duplicates. With a ledger, every batch the receiver took saves the
// delivery's checkpoint; a retry resumes after it and numbers its batches
// on from it, so that a batch sent again after a crash keeps its key:
// exactly once for a receiver that drops repeated keys. Static headers of the settings are sent too; they cannot
// replace those the deliverer sets, nor hop-by-hop headers.
//
// # Authentication
//
// With bearer_token, requests carry Authorization: Bearer and the token.
// With signing_key, they carry SignatureHeader:
//
//	X-LogDelivery-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, t + "." + body)>
//
// where body is the request body as received (compressed, with gzip).
// Tokens and keys are secret references resolved through Options.Secrets,
// each tenant confined to its own secrets; the key is the secret's value as
// bytes. A receiver verifies a request by recomputing the HMAC over the t
// of the header, a '.', and the raw body, comparing it with v1 in
// constant time, and refusing a t more than a few minutes from its clock
// (Verify does it; the package example does it with the standard library
// alone). A worked vector: with the key whsec_2f9c1a7e4b6d8e0f, t
// 1796032800 and the body
//
//	{"@timestamp":"2026-11-30T10:00:00.000000000Z","message":"payment accepted"}\n
//
// (one line, ending with a newline), v1 is
// 2676433879f3e08ab240cfaef89f4d77301f4acb07947531ead8d74a05ecf245.
//
// # Retries
//
// A 2xx answer delivers the batch. 408, 429 and 5xx answers, and requests
// left unanswered, are retried with jittered exponential backoff or after
// the answer's Retry-After, at most Options.MaxAttempts times per batch,
// never past the context's deadline, each attempt signed afresh. Other
// answers (4xx, a redirect, which is never followed) fail the delivery
// permanently. After a final failure no further batch is sent; the error is
// a *DeliveryError saying how many events were delivered and how many were
// not.
//
// A delivery cancelled while a request is in flight lets the request be
// answered for up to half a second (internal/httpsend.DefaultCancelGrace),
// so that what the destination took is counted, and not sent again.
//
// Every request goes through a client from egress.NewClient with
// Options.Policy: TLS verified, no redirects, timeouts, response bodies
// read up to 64 KiB. Receipts and errors name the URL's scheme and host
// only, since its path or query may hold a secret.
package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/httpsend"
)

// Defaults of Options.
const (
	DefaultMaxRequestBytes  = 1 << 20
	DefaultMaxRequestEvents = 10000
)

// Options configure a Deliverer.
type Options struct {
	// Policy says which URLs destinations may reach; settings are checked
	// against it (Deliverer.Kind) and every connection is made through
	// it. Default: the zero Policy, egress's strict default (https, public
	// addresses, ports 443, 8443, 80 and 8080).
	Policy egress.Policy
	// Client tunes the HTTP client (egress.NewClient). Default: egress's
	// defaults.
	Client func(*egress.Options)
	// Secrets resolves the settings' bearer_token and signing_key.
	// Default: none; a destination with either then fails permanently.
	Secrets credentials.Secrets
	// MaxRequestBytes bounds each request body before compression; a
	// destination's max_request_bytes may lower it. From 1 KiB to 100 MiB.
	// Default: DefaultMaxRequestBytes.
	MaxRequestBytes int
	// MaxRequestEvents bounds the events of each request. Default:
	// DefaultMaxRequestEvents.
	MaxRequestEvents int
	// MaxAttempts bounds the attempts of one request. Default: 6.
	MaxAttempts int
	// RetryBase and RetryMax bound the backoff between attempts (see
	// internal/httpsend.Retry). Defaults: 200ms and 10s.
	RetryBase, RetryMax time.Duration
	// Now is the clock of signatures. Default: time.Now.
	Now func() time.Time
	// Logger receives a debug message for every retry. Default: none.
	Logger *slog.Logger
}

// Deliverer delivers records to webhooks. It is safe for concurrent use.
type Deliverer struct {
	opts   Options
	client *http.Client
	sender *httpsend.Sender
}

// New returns a Deliverer. It fails only on invalid options.
func New(optFns ...func(*Options)) (*Deliverer, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	switch {
	case o.MaxRequestBytes < 0 || o.MaxRequestBytes > httpsend.MaxRequestBytes || (o.MaxRequestBytes > 0 && o.MaxRequestBytes < 1<<10):
		return nil, fmt.Errorf("webhook: MaxRequestBytes %d is not from 1 KiB to 100 MiB", o.MaxRequestBytes)
	case o.MaxRequestEvents < 0, o.MaxAttempts < 0, o.RetryBase < 0, o.RetryMax < 0:
		return nil, errors.New("webhook: negative limits in options")
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.MaxRequestEvents == 0 {
		o.MaxRequestEvents = DefaultMaxRequestEvents
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var clientFns []func(*egress.Options)
	if o.Client != nil {
		clientFns = append(clientFns, o.Client)
	}
	client, err := egress.NewClient(o.Policy, clientFns...)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	retry := httpsend.Retry{MaxAttempts: o.MaxAttempts, Base: o.RetryBase, Max: o.RetryMax}.WithDefaults()
	o.MaxAttempts, o.RetryBase, o.RetryMax = retry.MaxAttempts, retry.Base, retry.Max
	return &Deliverer{opts: o, client: client, sender: &httpsend.Sender{Client: client, Retry: retry, Logger: o.Logger}}, nil
}

// Close releases the deliverer's idle connections.
func (dv *Deliverer) Close() error {
	dv.client.CloseIdleConnections()
	return nil
}

// DeliveryError reports a delivery that stopped on a failed request. It
// wraps the failure and has its class (package fault).
type DeliveryError struct {
	// Endpoint is the URL's scheme and host; never its path or query.
	Endpoint string
	// Delivered events were accepted by the receiver; NotDelivered events
	// were read from the object and not accepted. Records of the object
	// not read yet are in neither count.
	Delivered, NotDelivered int64
	// Err is the failure, which gives the error its class.
	Err error
}

// Error says where the delivery stopped, why, and how many events were
// delivered.
func (e *DeliveryError) Error() string {
	return fmt.Sprintf("webhook: %s: %v (%d events delivered, %d not delivered)", e.Endpoint, e.Err, e.Delivered, e.NotDelivered)
}

// Unwrap returns the underlying failure.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Deliver sends the records of d to the config's webhook. It implements
// deliver.Deliverer.
func (dv *Deliverer) Deliver(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
	st, err := deliver.SettingsOf[Settings](d, dv.Kind())
	if err != nil {
		return deliver.Receipt{}, err
	}
	if d.Records == nil {
		return deliver.Receipt{}, fault.Permanent(errors.New("webhook: delivery has no record reader"))
	}
	if err := ctx.Err(); err != nil {
		return deliver.Receipt{}, err
	}
	cfg := d.Config
	u, err := url.Parse(st.URL)
	if err != nil {
		return deliver.Receipt{}, fault.Permanent(fmt.Errorf("webhook: %s/%s: url: %w", cfg.TenantID, cfg.Type, err)) // Validate parsed it
	}
	h := &hook{dv: dv, url: u, endpoint: u.Scheme + "://" + u.Host, gzip: st.Gzip, header: httpsend.Header(st.Headers),
		batchID: batchPrefix(d)}
	framing := httpsend.NDJSON
	h.header.Set("Content-Type", "application/x-ndjson")
	if st.Format == FormatJSON {
		framing = httpsend.JSONArray
		h.header.Set("Content-Type", "application/json")
	}
	h.header.Set("User-Agent", "logdelivery")
	if st.Gzip {
		h.header.Set("Content-Encoding", "gzip")
	}
	if !st.BearerToken.IsZero() {
		token, err := dv.secret(ctx, cfg.TenantID, cfg.Type, "bearer_token", st.BearerToken)
		if err != nil {
			return deliver.Receipt{}, err
		}
		h.header.Set("Authorization", "Bearer "+token.Reveal())
	}
	if !st.SigningKey.IsZero() {
		key, err := dv.secret(ctx, cfg.TenantID, cfg.Type, "signing_key", st.SigningKey)
		if err != nil {
			return deliver.Receipt{}, err
		}
		h.key = key.Bytes()
	}
	maxBytes := dv.opts.MaxRequestBytes
	if st.MaxRequestBytes > 0 {
		maxBytes = min(maxBytes, st.MaxRequestBytes)
	}

	rr, err := d.Records(ctx)
	if err != nil {
		return deliver.Receipt{}, fmt.Errorf("webhook: open records of %s: %w", d.Object.Key, err)
	}
	defer rr.Close()
	doc := &httpsend.Document{Key: d.Key, Fields: st.RecordFields()}
	resume, progress := httpsend.Checkpoints(d)
	res := httpsend.Run(ctx, rr, httpsend.Plan{
		Framing:  framing,
		Limits:   httpsend.Limits{MaxBytes: maxBytes, MaxItems: dv.opts.MaxRequestEvents},
		Encode:   doc.Append,
		Send:     h.send,
		Resume:   resume,
		Progress: progress,
	})
	rcpt := res.Receipt
	rcpt.Location = h.endpoint
	if res.SendErr != nil {
		return rcpt, &DeliveryError{Endpoint: h.endpoint, Delivered: rcpt.Events, NotDelivered: res.NotDelivered, Err: res.SendErr}
	}
	if res.ReadErr != nil {
		return rcpt, fmt.Errorf("webhook: reading %s (records before the error were delivered): %w", d.Object.Key, res.ReadErr)
	}
	return rcpt, nil
}

func (dv *Deliverer) secret(ctx context.Context, tenantID, typ, field string, ref credentials.SecretRef) (credentials.Secret, error) {
	if dv.opts.Secrets == nil {
		return credentials.Secret{}, fault.Permanent(fmt.Errorf("webhook: %s/%s has a %s, and the deliverer has no Secrets to resolve it", tenantID, typ, field))
	}
	s, err := dv.opts.Secrets.Secret(ctx, tenantID, ref)
	if err != nil {
		return credentials.Secret{}, fmt.Errorf("webhook: %s of %s/%s: %w", field, tenantID, typ, err)
	}
	return s, nil
}

// batchPrefix returns what names the batches of d: its destination and
// object.
func batchPrefix(d *deliver.Delivery) []byte {
	var b []byte
	for _, s := range []string{d.Config.TenantID, d.Config.Type, d.Object.Bucket, d.Object.Key, d.Object.VersionID} {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	return slices.Clip(b) // each batch appends its number to a copy
}

// hook is one delivery's endpoint.
type hook struct {
	dv       *Deliverer
	url      *url.URL
	endpoint string
	header   http.Header
	gzip     bool
	key      []byte // signing key, when set
	batchID  []byte
	zw       *gzip.Writer
	zbuf     bytes.Buffer
}

// send sends one batch, compressed and signed as the settings say.
func (h *hook) send(ctx context.Context, b *httpsend.Batch) (httpsend.Sent, error) {
	body := b.Body()
	if h.gzip {
		h.zbuf.Reset()
		if h.zw == nil {
			h.zw = gzip.NewWriter(&h.zbuf)
		} else {
			h.zw.Reset(&h.zbuf)
		}
		_, _ = h.zw.Write(body) // a bytes.Buffer does not fail
		_ = h.zw.Close()
		body = h.zbuf.Bytes()
	}
	id := sha256.Sum256(strconv.AppendInt(append(h.batchID, '#'), int64(b.Seq), 10))
	header := h.header.Clone()
	header.Set(IdempotencyKeyHeader, hex.EncodeToString(id[:16]))
	req := &httpsend.Request{URL: h.url, Header: header, Body: body}
	if h.key != nil {
		req.Sign = func(_ context.Context, r *http.Request) error {
			r.Header.Set(SignatureHeader, Sign(h.key, h.dv.opts.Now(), body))
			return nil
		}
	}
	_, calls, err := h.dv.sender.Send(ctx, req)
	if err != nil {
		return httpsend.Sent{Calls: calls}, err
	}
	return httpsend.Sent{Events: int64(b.Len()), Bytes: b.PayloadBytes(), Calls: calls}, nil
}
