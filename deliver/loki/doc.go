// Package loki delivers log records to Grafana Loki through its push API
// (POST /loki/api/v1/push): to a tenant's own Loki, or to a Loki shared by
// tenants behind a gateway that routes each org id (X-Scope-OrgID) to its
// storage and limits.
//
// # Settings
//
// A Loki destination is an item of kind "loki", its settings under
// "settings" (see Settings for every attribute):
//
//	tenant_id: acme
//	type: loki
//	groups: [applications]
//	settings:
//	  url: https://logs.acme.com            # /loki/api/v1/push is appended
//	  labels:                               # static labels of every stream
//	    env: prod
//	    team: "team-{namespace}"            # {namespace} and {application} only
//	  label_fields:                         # label name: record field
//	    namespace: namespace
//	    app: pod_labels.app.kubernetes.io/name
//	  metadata_fields:                      # structured metadata, per entry
//	    pod: pod
//	    container: container
//	    node: host
//	  auth:
//	    username: acme
//	    password_ref: arn:aws:secretsmanager:eu-west-1:222222222222:secret:logdelivery/acme/loki-AbCdEf
//	  batch_bytes: 1048576
//	  max_line_size: 256000
//	  oversize_lines: truncate
//
// The org id of every push is the tenant id, unless the operator sets
// org_id (an operator-only setting: on a shared Loki a tenant choosing its
// org id could write into another tenant's). The URL is checked against
// the operator's egress policy (package egress) when the item is
// validated and again when the client dials: Kind validates with the
// strict default policy, KindWith and (*Deliverer).Kind with the
// operator's, which must list Loki's port 3100 when tenants use it.
// Secrets are references (credentials.SecretRef), resolved with
// Options.Secrets when a delivery starts; their values are sent in the
// Authorization header only, never logged or put in errors. Client
// certificates (mTLS) are not supported: egress.NewClient has no option
// for them yet.
//
// # Labels and cardinality
//
// Loki indexes labels, not lines: every distinct label set is a stream,
// with its own chunks and index entries, so labels must have few values.
// By default the labels are cluster, namespace and application (from the
// record, else from the object key). Keep pods, containers, hosts and any
// id out of the labels and send them as structured metadata
// (metadata_fields), which Loki stores with each entry and can filter on
// without indexing it. A stream may have at most MaxLabels labels;
// label names are Prometheus label names; values from records are cut to
// MaxLabelValueLength bytes, and a label whose value is empty is left out
// (a record left with no label at all gets service_name="unknown_service",
// as Loki names such streams). Templates are allowed in static label
// values only, and only {namespace} and {application}: values taken from
// the tenant's own records, which cannot name another org.
//
// As a guard against label explosions (a pod label holding a request id,
// say), one delivery creates at most Options.MaxStreams streams: the
// record that would create one more fails the delivery with a permanent
// error naming the label with the most distinct values, and the open
// batch is not pushed. Batches pushed before it stay delivered; with the
// defaults an exploding object crosses the limit long before its first
// batch is full.
//
// # Protocol
//
// Pushes are protobuf (Loki's logproto.PushRequest, hand-encoded with
// protowire) compressed in the snappy block format, Content-Type
// application/x-protobuf: about a sixth of the CPU of JSON with gzip for
// 30% more bytes (BenchmarkEncoding), and Loki's native format. Records
// are grouped into streams by label set; each entry carries the record's
// time to the nanosecond and its line unchanged (but for truncation).
//
// # Batches and limits
//
// A push holds at most batch_bytes of lines and structured metadata (as
// Loki's rate limiter counts them; 1 MiB by default, Promtail's size),
// batch_entries entries and Options.MaxStreamsPerPush streams; each is as
// full as the record order allows. Lines longer than max_line_size
// (Loki's default, 256 KB) are truncated on a UTF-8 boundary
// (Receipt.Truncated) or, with oversize_lines: drop, not sent
// (Receipt.Dropped). Set max_line_size to the Loki's own, so that Loki
// never refuses a line the deliverer let through.
//
// # Answers and retries
//
// 429, 408 and 5xx answers and network failures are retried with
// exponential backoff and jitter (Options.RetryBase, RetryMax), at most
// Options.MaxAttempts times per push, waiting at least the answer's
// Retry-After, and never past the context's deadline: when the next wait
// would end after it, the delivery stops at once with a retryable error
// whose fault.RetryAfter is the last Retry-After. A push answered 400
// (Loki refused its content: a timestamp too old, a line over the Loki's
// limit) is never retried: its entries are counted in Receipt.Rejected
// and the delivery goes on with the later batches, which are usually
// valid; the delivery then ends with a permanent *DeliveryError saying
// how many events were rejected, so that the loss is reported and not
// retried in a loop. Loki stores the valid streams of a push it answers
// 400 for without saying which; the receipt counts the whole push as
// rejected. Every other answer (401, 403, 404, 413, ...) stops the
// delivery with a permanent error; later batches are not sent. Errors
// are *DeliveryError values wrapping a *StatusError (or the network
// error), with the counts delivered, rejected and not delivered.
//
// # Ordering
//
// The pushes of one delivery are made one at a time in the order of the
// object, so each stream's entries reach Loki in record order. Two
// deliveries to the same stream may interleave; Loki accepts entries out
// of order within its window (unordered_writes, the default since 2.4).
//
// # Checkpoints
//
// With a ledger (logdelivery.Options.Ledger), every push Loki answered for
// good (accepted, or rejected with 400) saves the delivery's checkpoint:
// how many of its records, in the object's deterministic record order,
// are behind it. Pushes are sequential, so one position covers every
// stream. A retry skips that many records (Receipt.Resumed) and pushes
// the rest; a crash between a push and its checkpoint re-sends at most
// that one push. A checkpoint that cannot be saved stops the delivery,
// retryably.
//
// # Receipt
//
// Events and Bytes count the entries and line bytes Loki accepted;
// Rejected, Truncated and Dropped as above; Calls every HTTP request,
// retries included; Location is "loki:ORG@URL".
package loki
