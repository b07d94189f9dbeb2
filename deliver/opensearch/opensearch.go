// Package opensearch delivers log records to OpenSearch and Elasticsearch
// through the _bulk API: Amazon OpenSearch Service and Serverless,
// self-managed OpenSearch and Elasticsearch, and what speaks the API
// (VictoriaLogs' /insert/elasticsearch).
//
// # Configuration
//
// A destination of kind opensearch keeps its settings (Settings) under
// "settings" in the item:
//
//	tenant_id: acme
//	type: opensearch
//	settings:
//	  url: https://search.acme.example.com
//	  index: logs-{tenant_id}-%Y.%m.%d      # the default
//	  pipeline: k8s-logs                    # optional
//	  username: logdelivery
//	  password: arn:aws:secretsmanager:eu-west-1:222222222222:secret:logdelivery/acme/opensearch-AbCdEf
//	  include_labels: true
//
// For Amazon OpenSearch Service and Serverless, requests are signed with
// SigV4 as a role of the tenant's, assumed through the central role like
// the CloudWatch Logs role, in target_region:
//
//	tenant_id: acme
//	type: opensearch
//	target_region: eu-west-1
//	settings:
//	  url: https://search-acme-3kq7x.eu-west-1.es.amazonaws.com
//	  aws_role_arn: arn:aws:iam::222222222222:role/logdelivery-opensearch
//	  aws_service: es                       # aoss for Serverless
//
// # Documents
//
// Each record is one document (see internal/httpsend.Document):
//
//	{"create":{"_index":"logs-acme-2026.11.30"}}
//	{"@timestamp":"2026-11-30T10:00:00.000000000Z","message":"payment accepted","stream":"stdout",
//	 "cluster":"prod-east-1","application":"payments",
//	 "kubernetes":{"namespace":"acme","pod":"payments-0","container":"app","labels":{"app":"payments"}}}
//
// @timestamp is the record's time in UTC with nanoseconds; kubernetes.host,
// kubernetes.labels and kubernetes.namespace_labels are added when the
// settings ask for them (include_host, include_labels,
// include_namespace_labels), label names with '.' written '_' so that
// app and app.kubernetes.io/name do not clash as fields. The action is
// create, which data streams require and plain indexes accept; ids are
// the cluster's.
//
// # Indexes
//
// The index of each document comes from the index template and the
// document's time. The template's grammar (IndexTemplate) confines
// tenants on a shared cluster: no template of another tenant renders one
// of tenant acme's index names, and the IndexTemplate documentation gives
// the index permission that grants acme its own indexes only.
//
// # Authentication
//
// None; HTTP basic authentication with a password resolved through
// Options.Secrets from a secret reference (each tenant confined to its own
// secrets); or SigV4 (service es or aoss) with the credentials of the
// tenant's role (aws_role_arn), assumed through Options.Chain with the
// tenant's ExternalId. With tenant identities the role must be in one of
// the tenant's accounts (Settings.CheckIdentity, checked again when
// delivering). SigV4 is signed with github.com/aws/aws-sdk-go-v2's signer.
//
// # Requests
//
// Documents are packed into _bulk requests of at most
// Options.MaxRequestBytes (5 MiB by default, lowered by the settings'
// max_request_bytes) and Options.MaxRequestDocuments, sent one after the
// other while the next is built. A record whose document alone is larger
// is not sent (Receipt.Dropped). Every request goes through a client from
// egress.NewClient with Options.Policy: TLS verified, no redirects,
// timeouts, and responses read up to Options.MaxResponseBytes.
//
// # Retries
//
// A request answered 408, 429 or 5xx, or not answered, is sent again; so
// are the documents the response answers 429 or 5xx one by one, and only
// they. Documents answered another 4xx (a mapping error, a closed index)
// are counted in Receipt.Rejected, logged, and never sent again; the
// delivery succeeds without them. Other 4xx answers of a request (401,
// 403, 413) fail it permanently. Attempts of one request and its retried
// documents are bounded together by Options.MaxAttempts, waiting with
// jittered exponential backoff or the answer's Retry-After, never past the
// context's deadline. A request left unanswered may have been stored,
// and sending it again may store its documents twice, since ids are the
// cluster's; with a ledger, every request answered for good saves the
// delivery's checkpoint and a retry resumes after it, so only that one
// request can be sent twice. After a final failure no
// further request of the delivery is sent; the error is a *DeliveryError saying how many
// documents were delivered and how many were not.
//
// A delivery cancelled while a request is in flight lets the request be
// answered for up to half a second (internal/httpsend.DefaultCancelGrace),
// so that what the destination took is counted, and not sent again.
package opensearch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/awserr"
	"github.com/logdelivery/logdelivery/internal/httpsend"
)

// Defaults of Options.
const (
	DefaultMaxRequestBytes     = 5 << 20
	DefaultMaxRequestDocuments = 10000
	DefaultMaxResponseBytes    = 16 << 20
)

// Options configure a Deliverer.
type Options struct {
	// Policy says which URLs destinations may reach; settings are checked
	// against it (Deliverer.Kind) and every connection is made through
	// it. Default: the zero Policy, egress's strict default (https, public
	// addresses, ports 443, 8443, 80 and 8080): list 9200 in Ports for
	// clusters on OpenSearch's own port.
	Policy egress.Policy
	// Client tunes the HTTP client (egress.NewClient): certificate
	// authorities, timeouts, connection limits. Default: egress's
	// defaults.
	Client func(*egress.Options)
	// Secrets resolves the settings' password references. Default: none;
	// a destination with a password then fails permanently.
	Secrets credentials.Secrets
	// Chain provides the credentials SigV4 signs with: the central
	// identity followed by the tenant's role. Default: none; a
	// destination with aws_role_arn then fails permanently.
	Chain credentials.CredentialChain
	// Region is the SigV4 region of configs without a target_region.
	// Default: none; such a SigV4 destination fails permanently.
	Region string
	// SessionName names the tenant's role session. Default:
	// "logdelivery-" + the tenant id.
	SessionName func(d *deliver.Delivery) string
	// Header, when set, returns headers of the operator's for a
	// delivery, sent after (and overriding) the settings' headers: for
	// example the AccountID of a VictoriaLogs shared by tenants, which
	// the tenant must not choose.
	Header func(d *deliver.Delivery) http.Header
	// MaxRequestBytes bounds each _bulk body; a destination's
	// max_request_bytes may lower it. From 1 KiB to 100 MiB. Default:
	// DefaultMaxRequestBytes.
	MaxRequestBytes int
	// MaxRequestDocuments bounds the documents of each _bulk request.
	// Default: DefaultMaxRequestDocuments.
	MaxRequestDocuments int
	// MaxResponseBytes bounds the _bulk responses read; a larger one
	// fails its request permanently, since what it says cannot be known.
	// Default: DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// MaxAttempts bounds the attempts of one request and its retried
	// documents. Default: 6.
	MaxAttempts int
	// RetryBase and RetryMax bound the backoff between attempts (see
	// internal/httpsend.Retry). Defaults: 200ms and 10s.
	RetryBase, RetryMax time.Duration
	// Now is the clock of SigV4 signatures. Default: time.Now.
	Now func() time.Time
	// Logger receives debug and warning messages. Default: none.
	Logger *slog.Logger
}

// Deliverer delivers records to OpenSearch and Elasticsearch. It is safe
// for concurrent use.
type Deliverer struct {
	opts   Options
	client *http.Client
	sender *httpsend.Sender
	signer *v4.Signer
	log    *slog.Logger
}

// New returns a Deliverer. It fails only on invalid options.
func New(optFns ...func(*Options)) (*Deliverer, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	switch {
	case o.MaxRequestBytes < 0 || o.MaxRequestBytes > httpsend.MaxRequestBytes || (o.MaxRequestBytes > 0 && o.MaxRequestBytes < 1<<10):
		return nil, fmt.Errorf("opensearch: MaxRequestBytes %d is not from 1 KiB to 100 MiB", o.MaxRequestBytes)
	case o.MaxRequestDocuments < 0, o.MaxResponseBytes < 0, o.MaxAttempts < 0, o.RetryBase < 0, o.RetryMax < 0:
		return nil, errors.New("opensearch: negative limits in options")
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.MaxRequestDocuments == 0 {
		o.MaxRequestDocuments = DefaultMaxRequestDocuments
	}
	if o.MaxResponseBytes == 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.SessionName == nil {
		o.SessionName = func(d *deliver.Delivery) string { return "logdelivery-" + d.Config.TenantID }
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
		return nil, fmt.Errorf("opensearch: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	retry := httpsend.Retry{MaxAttempts: o.MaxAttempts, Base: o.RetryBase, Max: o.RetryMax}.WithDefaults()
	o.MaxAttempts, o.RetryBase, o.RetryMax = retry.MaxAttempts, retry.Base, retry.Max
	return &Deliverer{
		opts:   o,
		client: client,
		sender: &httpsend.Sender{Client: client, Retry: retry, MaxResponseBytes: o.MaxResponseBytes},
		signer: v4.NewSigner(),
		log:    log,
	}, nil
}

// Close releases the deliverer's idle connections.
func (dv *Deliverer) Close() error {
	dv.client.CloseIdleConnections()
	return nil
}

// DeliveryError reports a delivery that stopped on a failed _bulk request.
// It wraps the failure and has its class (package fault).
type DeliveryError struct {
	// URL is the cluster's URL, without query.
	URL string
	// Delivered documents were accepted by the cluster; NotDelivered
	// documents were read from the object and not accepted. Rejected
	// documents and records of the object not read yet are in neither
	// count.
	Delivered, NotDelivered int64
	// Err is the failure, which gives the error its class.
	Err error
}

// Error says where the delivery stopped, why, and how many documents were
// delivered.
func (e *DeliveryError) Error() string {
	return fmt.Sprintf("opensearch: %s: %v (%d documents delivered, %d not delivered)", e.URL, e.Err, e.Delivered, e.NotDelivered)
}

// Unwrap returns the underlying failure.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Deliver sends the records of d to the config's cluster. It implements
// deliver.Deliverer.
func (dv *Deliverer) Deliver(ctx context.Context, d *deliver.Delivery) (deliver.Receipt, error) {
	st, err := deliver.SettingsOf[Settings](d, dv.Kind())
	if err != nil {
		return deliver.Receipt{}, err
	}
	if d.Records == nil {
		return deliver.Receipt{}, fault.Permanent(errors.New("opensearch: delivery has no record reader"))
	}
	if err := ctx.Err(); err != nil {
		return deliver.Receipt{}, err
	}
	t, err := dv.target(ctx, d, st)
	if err != nil {
		return deliver.Receipt{}, err
	}
	rr, err := d.Records(ctx)
	if err != nil {
		return deliver.Receipt{}, fmt.Errorf("opensearch: open records of %s: %w", d.Object.Key, err)
	}
	defer rr.Close()

	ix := newIndexer(st.template(), d.Config.TenantID)
	doc := &httpsend.Document{Key: d.Key, Fields: st.RecordFields(), ReplaceDots: true}
	var first string
	resume, progress := httpsend.Checkpoints(d)
	res := httpsend.Run(ctx, rr, httpsend.Plan{
		Framing: httpsend.NDJSON,
		Limits:  httpsend.Limits{MaxBytes: t.maxBytes, MaxItems: dv.opts.MaxRequestDocuments},
		Encode: func(dst []byte, rec *deliver.Record) []byte {
			index := ix.index(rec.Time)
			if first == "" {
				first = string(index)
			}
			dst = append(dst, `{"create":{"_index":"`...)
			dst = append(dst, index...)
			dst = append(dst, "\"}}\n"...)
			return doc.Append(dst, rec)
		},
		Send:     t.send,
		Resume:   resume,
		Progress: progress,
	})
	rcpt := res.Receipt
	rcpt.Location = t.base
	if first != "" {
		rcpt.Location = strings.TrimSuffix(t.base, "/") + "/" + first
	}
	if res.SendErr != nil {
		return rcpt, &DeliveryError{URL: t.base, Delivered: rcpt.Events, NotDelivered: res.NotDelivered, Err: res.SendErr}
	}
	if res.ReadErr != nil {
		return rcpt, fmt.Errorf("opensearch: reading %s (records before the error were delivered): %w", d.Object.Key, res.ReadErr)
	}
	return rcpt, nil
}

// target is where one delivery goes and how it authenticates.
type target struct {
	dv       *Deliverer
	url      *url.URL // of _bulk, with its query
	base     string   // the settings' URL without query, for receipts and errors
	header   http.Header
	maxBytes int
	// SigV4, when creds is set.
	creds           aws.CredentialsProvider
	service, region string
	tenant, typ     string
}

// target resolves the destination of d: its URL, headers, password or
// SigV4 credentials.
func (dv *Deliverer) target(ctx context.Context, d *deliver.Delivery, st *Settings) (*target, error) {
	cfg := d.Config
	u, err := url.Parse(st.URL)
	if err != nil {
		return nil, fault.Permanent(fmt.Errorf("opensearch: %s/%s: url: %w", cfg.TenantID, cfg.Type, err)) // Validate parsed it
	}
	base := *u
	u.Path = strings.TrimSuffix(u.Path, "/") + "/_bulk"
	u.RawPath = ""
	q := url.Values{"filter_path": {"errors,items.*.status,items.*.error.type,items.*.error.reason"}}
	if st.Pipeline != "" {
		q.Set("pipeline", st.Pipeline)
	}
	u.RawQuery = q.Encode()
	t := &target{dv: dv, url: u, base: base.String(), maxBytes: dv.opts.MaxRequestBytes, tenant: cfg.TenantID, typ: cfg.Type}
	if st.MaxRequestBytes > 0 {
		t.maxBytes = min(t.maxBytes, st.MaxRequestBytes)
	}

	h := httpsend.Header(st.Headers)
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Accept", "application/json")
	h.Set("User-Agent", "logdelivery")
	if dv.opts.Header != nil {
		for k, vs := range dv.opts.Header(d) {
			h[http.CanonicalHeaderKey(k)] = vs
		}
	}
	t.header = h

	switch {
	case !st.Password.IsZero():
		if dv.opts.Secrets == nil {
			return nil, fault.Permanent(fmt.Errorf("opensearch: %s/%s has a password, and the deliverer has no Secrets to resolve it", cfg.TenantID, cfg.Type))
		}
		pw, err := dv.opts.Secrets.Secret(ctx, cfg.TenantID, st.Password)
		if err != nil {
			return nil, fmt.Errorf("opensearch: password of %s/%s: %w", cfg.TenantID, cfg.Type, err)
		}
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(st.Username+":"+pw.Reveal())))
	case st.AWSRoleARN != "":
		if dv.opts.Chain == nil {
			return nil, fault.Permanent(fmt.Errorf("opensearch: %s/%s signs with SigV4, and the deliverer has no credential chain", cfg.TenantID, cfg.Type))
		}
		t.region = cfg.TargetRegion
		if t.region == "" {
			t.region = dv.opts.Region
		}
		if t.region == "" {
			return nil, fault.Permanent(fmt.Errorf("opensearch: %s/%s signs with SigV4 and has no target_region, and no default region is set", cfg.TenantID, cfg.Type))
		}
		t.service = orDefault(st.AWSService, ServiceManaged)
		hop := credentials.Hop{RoleARN: st.AWSRoleARN, SessionName: dv.opts.SessionName(d)}
		if d.Identity != nil {
			role, _ := credentials.ParseRoleARN(st.AWSRoleARN)
			if msg := d.Identity.AccountProblem(role.Account); msg != "" {
				return nil, fault.Permanent(fmt.Errorf("opensearch: %s/%s: aws_role_arn: %s", cfg.TenantID, cfg.Type, msg))
			}
			hop.ExternalID = d.Identity.ExternalID
		}
		creds, err := dv.opts.Chain.Provider(ctx, t.region, hop)
		if err != nil {
			return nil, awserr.Classify(fmt.Errorf("opensearch: credentials for %s/%s: %w", cfg.TenantID, cfg.Type, err))
		}
		t.creds = creds
	}
	return t, nil
}

// request returns the _bulk request of body.
func (t *target) request(body []byte) *httpsend.Request {
	r := &httpsend.Request{URL: t.url, Header: t.header, Body: body}
	if t.creds != nil {
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])
		r.Sign = func(ctx context.Context, req *http.Request) error {
			creds, err := t.creds.Retrieve(ctx)
			if err != nil {
				return awserr.Classify(fmt.Errorf("SigV4 credentials: %w", err))
			}
			req.Header.Set("X-Amz-Content-Sha256", hash)
			return t.dv.signer.SignHTTP(ctx, creds, req, hash, t.service, t.region, t.dv.opts.Now())
		}
	}
	return r
}

// send sends one batch, retrying the request and then the documents the
// cluster asks to be sent again, within MaxAttempts.
func (t *target) send(ctx context.Context, b *httpsend.Batch) (httpsend.Sent, error) {
	var sent httpsend.Sent
	pending := b
	for attempt := 1; ; attempt++ {
		req := t.request(pending.Body())
		resp, err := t.dv.sender.Do(ctx, req)
		sent.Calls++
		if err == nil {
			err = httpsend.Check(req, resp)
		}
		var retry []int
		if err == nil {
			retry, err = t.results(pending, resp, &sent)
			if err == nil {
				return sent, nil
			}
		}
		if fault.IsPermanent(err) || ctx.Err() != nil {
			return sent, err
		}
		if attempt >= t.dv.opts.MaxAttempts {
			return sent, fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		t.dv.log.Debug("opensearch: retrying", "url", t.base, "attempt", attempt, "documents", pending.Len()-len(retry), "err", err)
		if err := t.dv.sender.Retry.Wait(ctx, attempt, fault.RetryAfter(err), err); err != nil {
			return sent, err
		}
		if retry != nil {
			pending = pending.Subset(retry)
		}
	}
}

// results counts what a 2xx _bulk response says of the documents of b:
// accepted, rejected, or to be sent again (their indexes, with a
// retryable error saying why).
func (t *target) results(b *httpsend.Batch, resp *httpsend.Response, sent *httpsend.Sent) ([]int, error) {
	if resp.Truncated {
		return nil, fault.Permanent(fmt.Errorf("the _bulk response is over %d bytes (Options.MaxResponseBytes): which documents were stored is unknown", t.dv.opts.MaxResponseBytes))
	}
	items, err := parseBulk(resp.Body, b.Len())
	if err != nil {
		return nil, fault.Permanent(fmt.Errorf("reading the _bulk response: %w", err))
	}
	var retry []int
	var rejected int
	var retryStatus, reason string
	for i := range b.Len() {
		status := 200
		if items != nil {
			status = items[i].Status
		}
		switch {
		case status/100 == 2:
			sent.Events++
			sent.Bytes += b.Payload(i)
		case httpsend.RetryableStatus(status):
			retry = append(retry, i)
			if retryStatus == "" {
				retryStatus = fmt.Sprintf("%d %s", status, items[i].reason())
			}
		default:
			rejected++
			if reason == "" {
				reason = fmt.Sprintf("%d %s", status, items[i].reason())
			}
		}
	}
	sent.Rejected += int64(rejected)
	if rejected > 0 {
		t.dv.log.Warn("opensearch: documents rejected", "tenant", t.tenant, "type", t.typ, "url", t.base,
			"rejected", rejected, "first", reason)
	}
	if len(retry) > 0 {
		return retry, fmt.Errorf("%d of %d documents to be sent again, the first answered %s", len(retry), b.Len(), retryStatus)
	}
	return nil, nil
}

// bulkItem is the result of one document.
type bulkItem struct {
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// reason returns the item's error type and reason.
func (it bulkItem) reason() string {
	var e struct{ Type, Reason string }
	if json.Unmarshal(it.Error, &e) == nil && (e.Type != "" || e.Reason != "") {
		return strings.TrimSpace(e.Type + ": " + e.Reason)
	}
	var s string
	if json.Unmarshal(it.Error, &s) == nil {
		return s
	}
	return ""
}

// parseBulk reads a _bulk response of n documents. It returns nil items
// when the response says there were no errors, without reading them, and
// otherwise the result of each document, in order.
func parseBulk(body []byte, n int) ([]bulkItem, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var items []bulkItem
	var sawErrors, sawItems bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch tok {
		case "errors":
			var e bool
			if err := dec.Decode(&e); err != nil {
				return nil, fmt.Errorf("errors: %w", err)
			}
			if !e {
				return nil, nil
			}
			sawErrors = true
		case "items":
			var raw []map[string]bulkItem
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("items: %w", err)
			}
			sawItems = true
			items = make([]bulkItem, len(raw))
			for i, m := range raw {
				if len(m) != 1 {
					return nil, fmt.Errorf("item %d has %d actions, not 1", i, len(m))
				}
				for _, it := range m {
					items[i] = it
				}
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, err
			}
		}
	}
	switch {
	case !sawErrors:
		return nil, errors.New("no errors field")
	case !sawItems:
		return nil, errors.New("errors is true and there are no items")
	case len(items) != n:
		return nil, fmt.Errorf("%d items for %d documents", len(items), n)
	}
	return items, nil
}
