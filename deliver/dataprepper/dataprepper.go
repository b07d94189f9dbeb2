// Package dataprepper delivers log records to an OpenSearch Data Prepper
// pipeline through its HTTP source (the http plugin, which Amazon
// OpenSearch Ingestion runs too).
//
// # Configuration
//
// A destination of kind dataprepper keeps its settings (Settings) under
// "settings" in the item:
//
//	tenant_id: acme
//	type: dataprepper
//	settings:
//	  url: https://ingest.acme.example.com:2021     # /log/ingest, the source's default path
//	  username: logdelivery
//	  password: file:acme/data-prepper
//	  include_labels: true
//
// A URL with a path posts there instead (a source configured with
// path: /acme/logs). Port 2021, the source's default, must be one of the
// operator's Options.Policy ports.
//
// # Requests
//
// Records are sent as JSON arrays of events, the documents of
// internal/httpsend.Document (@timestamp, message, stream, cluster,
// application and kubernetes.*, label names with '.' written '_' for the
// OpenSearch sinks they usually end in), each request at most
// Options.MaxRequestBytes (5 MiB by default, lowered by the settings'
// max_request_bytes; the source refuses requests over its
// max_request_length, 10 MB by default) and Options.MaxRequestEvents. A
// record whose event alone is larger is not sent (Receipt.Dropped).
// Requests of one delivery are sent one after the other while the next is
// built, through a client from egress.NewClient with Options.Policy.
//
// # Authentication
//
// None, or HTTP basic authentication (the source's http_basic) with a
// password resolved through Options.Secrets from a secret reference, each
// tenant confined to its own secrets.
//
// # Retries
//
// The source answers backpressure when its buffer is full (408 once its
// buffer write times out, 429 when too many requests are pending, 503):
// those answers, other 5xx and requests left unanswered are retried with
// jittered exponential backoff, or after the answer's Retry-After, at
// most Options.MaxAttempts times per request, never past the context's
// deadline. Other answers (400 for a body it cannot read, 401, 413) fail
// the delivery permanently. After a final failure no further request is
// sent; the error is a *DeliveryError saying how many events were
// delivered and how many were not.
//
// A delivery cancelled while a request is in flight lets the request be
// answered for up to half a second (internal/httpsend.DefaultCancelGrace),
// so that what the destination took is counted, and not sent again.
package dataprepper

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/httpsend"
)

// Defaults of Options.
const (
	DefaultMaxRequestBytes  = 5 << 20
	DefaultMaxRequestEvents = 10000
)

// Options configure a Deliverer.
type Options struct {
	// Policy says which URLs destinations may reach; settings are checked
	// against it (Deliverer.Kind) and every connection is made through
	// it. Default: the zero Policy, egress's strict default (https, public
	// addresses, ports 443, 8443, 80 and 8080): list 2021 in Ports for
	// sources on Data Prepper's default port.
	Policy egress.Policy
	// Client tunes the HTTP client (egress.NewClient). Default: egress's
	// defaults.
	Client func(*egress.Options)
	// Secrets resolves the settings' password references. Default: none;
	// a destination with a password then fails permanently.
	Secrets credentials.Secrets
	// MaxRequestBytes bounds each request body; a destination's
	// max_request_bytes may lower it. From 1 KiB to 100 MiB. Default:
	// DefaultMaxRequestBytes.
	MaxRequestBytes int
	// MaxRequestEvents bounds the events of each request. Default:
	// DefaultMaxRequestEvents.
	MaxRequestEvents int
	// MaxAttempts bounds the attempts of one request. Default: 6.
	MaxAttempts int
	// RetryBase and RetryMax bound the backoff between attempts (see
	// internal/httpsend.Retry). Defaults: 200ms and 10s.
	RetryBase, RetryMax time.Duration
	// Logger receives a debug message for every retry. Default: none.
	Logger *slog.Logger
}

// Deliverer delivers records to Data Prepper HTTP sources. It is safe for
// concurrent use.
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
		return nil, fmt.Errorf("dataprepper: MaxRequestBytes %d is not from 1 KiB to 100 MiB", o.MaxRequestBytes)
	case o.MaxRequestEvents < 0, o.MaxAttempts < 0, o.RetryBase < 0, o.RetryMax < 0:
		return nil, errors.New("dataprepper: negative limits in options")
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.MaxRequestEvents == 0 {
		o.MaxRequestEvents = DefaultMaxRequestEvents
	}
	var clientFns []func(*egress.Options)
	if o.Client != nil {
		clientFns = append(clientFns, o.Client)
	}
	client, err := egress.NewClient(o.Policy, clientFns...)
	if err != nil {
		return nil, fmt.Errorf("dataprepper: %w", err)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
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
	// URL is the source's URL.
	URL string
	// Delivered events were accepted by the source; NotDelivered events
	// were read from the object and not accepted. Records of the object
	// not read yet are in neither count.
	Delivered, NotDelivered int64
	// Err is the failure, which gives the error its class.
	Err error
}

// Error says where the delivery stopped, why, and how many events were
// delivered.
func (e *DeliveryError) Error() string {
	return fmt.Sprintf("dataprepper: %s: %v (%d events delivered, %d not delivered)", e.URL, e.Err, e.Delivered, e.NotDelivered)
}

// Unwrap returns the underlying failure.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Deliver sends the records of d to the config's HTTP source. It
// implements deliver.Deliverer.
func (dv *Deliverer) Deliver(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
	st, err := deliver.SettingsOf[Settings](d, dv.Kind())
	if err != nil {
		return deliver.Receipt{}, err
	}
	if d.Records == nil {
		return deliver.Receipt{}, fault.Permanent(errors.New("dataprepper: delivery has no record reader"))
	}
	if err := ctx.Err(); err != nil {
		return deliver.Receipt{}, err
	}
	cfg := d.Config
	u, err := url.Parse(st.URL)
	if err != nil {
		return deliver.Receipt{}, fault.Permanent(fmt.Errorf("dataprepper: %s/%s: url: %w", cfg.TenantID, cfg.Type, err)) // Validate parsed it
	}
	if u.Path == "" || u.Path == "/" {
		u.Path, u.RawPath = DefaultPath, ""
	}
	header := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"logdelivery"}}
	if !st.Password.IsZero() {
		if dv.opts.Secrets == nil {
			return deliver.Receipt{}, fault.Permanent(fmt.Errorf("dataprepper: %s/%s has a password, and the deliverer has no Secrets to resolve it", cfg.TenantID, cfg.Type))
		}
		pw, err := dv.opts.Secrets.Secret(ctx, cfg.TenantID, st.Password)
		if err != nil {
			return deliver.Receipt{}, fmt.Errorf("dataprepper: password of %s/%s: %w", cfg.TenantID, cfg.Type, err)
		}
		header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(st.Username+":"+pw.Reveal())))
	}
	maxBytes := dv.opts.MaxRequestBytes
	if st.MaxRequestBytes > 0 {
		maxBytes = min(maxBytes, st.MaxRequestBytes)
	}

	rr, err := d.Records(ctx)
	if err != nil {
		return deliver.Receipt{}, fmt.Errorf("dataprepper: open records of %s: %w", d.Object.Key, err)
	}
	defer rr.Close()
	doc := &httpsend.Document{Key: d.Key, Fields: st.RecordFields(), ReplaceDots: true}
	resume, progress := httpsend.Checkpoints(d)
	res := httpsend.Run(ctx, rr, httpsend.Plan{
		Framing:  httpsend.JSONArray,
		Limits:   httpsend.Limits{MaxBytes: maxBytes, MaxItems: dv.opts.MaxRequestEvents},
		Encode:   doc.Append,
		Resume:   resume,
		Progress: progress,
		Send: func(ctx context.Context, b *httpsend.Batch) (httpsend.Sent, error) {
			_, calls, err := dv.sender.Send(ctx, &httpsend.Request{URL: u, Header: header, Body: b.Body()})
			if err != nil {
				return httpsend.Sent{Calls: calls}, err
			}
			return httpsend.Sent{Events: int64(b.Len()), Bytes: b.PayloadBytes(), Calls: calls}, nil
		},
	})
	rcpt := res.Receipt
	rcpt.Location = u.String()
	if res.SendErr != nil {
		return rcpt, &DeliveryError{URL: rcpt.Location, Delivered: rcpt.Events, NotDelivered: res.NotDelivered, Err: res.SendErr}
	}
	if res.ReadErr != nil {
		return rcpt, fmt.Errorf("dataprepper: reading %s (records before the error were delivered): %w", d.Object.Key, res.ReadErr)
	}
	return rcpt, nil
}
