// Package s3 delivers log objects to tenants' S3 buckets by server-side
// copy, and opens objects of the central bucket for the other deliverers.
//
// A Deliverer copies the object from the central bucket into the bucket a
// config of kind "s3" names, with the central identity's credentials (a
// single hop: the tenant's bucket policy grants the central role). The copy
// never passes through the processor: objects up to MultipartThreshold use
// one CopyObject call, larger ones a multipart upload of UploadPartCopy
// parts copied in parallel.
package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/sync/errgroup"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/awserr"
	"github.com/logdelivery/logdelivery/keyparse"
	"github.com/logdelivery/logdelivery/tenant"
)

// DefaultKeyTemplate is the destination key template: the config's
// normalised bucket prefix followed by the tenant, cluster, application, pod
// and file of the source key.
const DefaultKeyTemplate = "{bucket_prefix}{tenant_id}/{cluster_id}/{application}/{pod_name}/{file}"

// Defaults of Options.
const (
	DefaultMultipartThreshold = 5 << 30   // 5 GiB, the largest single CopyObject
	DefaultPartSize           = 512 << 20 // 512 MiB
	DefaultConcurrency        = 8
	maxParts                  = 10000
	maxPartSize               = 5 << 30
)

// Names of the user metadata (x-amz-meta-*) written on every copy, for
// tracing a tenant's object back to its source. Values are the plain text,
// except that bytes outside printable ASCII and '%' are percent-encoded
// (decode with url.PathUnescape), because S3 metadata travels in HTTP
// headers.
const (
	MetaSourceBucket    = "source-bucket"
	MetaSourceKey       = "source-key"
	MetaSourceVersionID = "source-version-id" // only for versioned sources
	MetaTenant          = "tenant-id"
	MetaCluster         = "cluster-id"
	MetaApplication     = "application"
	MetaPod             = "pod-name"
	MetaDeliveredAt     = "delivered-at" // RFC 3339, UTC
)

// Client is the part of the S3 API a Deliverer uses. *s3.Client implements
// it.
type Client interface {
	HeadObject(ctx context.Context, in *awss3.HeadObjectInput, optFns ...func(*awss3.Options)) (*awss3.HeadObjectOutput, error)
	CopyObject(ctx context.Context, in *awss3.CopyObjectInput, optFns ...func(*awss3.Options)) (*awss3.CopyObjectOutput, error)
	CreateMultipartUpload(ctx context.Context, in *awss3.CreateMultipartUploadInput, optFns ...func(*awss3.Options)) (*awss3.CreateMultipartUploadOutput, error)
	UploadPartCopy(ctx context.Context, in *awss3.UploadPartCopyInput, optFns ...func(*awss3.Options)) (*awss3.UploadPartCopyOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *awss3.CompleteMultipartUploadInput, optFns ...func(*awss3.Options)) (*awss3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *awss3.AbortMultipartUploadInput, optFns ...func(*awss3.Options)) (*awss3.AbortMultipartUploadOutput, error)
}

// Options configures a Deliverer.
type Options struct {
	// Region is the region of the central bucket, and of tenant buckets whose
	// config names no target_region. Default: AWSConfig.Region.
	Region string

	// AWSConfig is the base configuration of the default clients (endpoint,
	// HTTP client, retryer); its credentials are replaced by the chain's.
	// When its HTTPClient is nil, New sets one shared by every client the
	// Deliverer makes, so that connections are reused across deliveries.
	AWSConfig aws.Config

	// UsePathStyle makes the default clients address buckets by path
	// (needed by moto and most S3 fakes). Default: false.
	UsePathStyle bool

	// NewClient returns the client for a region acting with creds.
	// Default: an *s3.Client built from AWSConfig.
	NewClient func(region string, creds aws.CredentialsProvider) Client

	// KeyTemplate is the destination key template, a keyparse template that
	// may also name {bucket_prefix}. Default: DefaultKeyTemplate.
	KeyTemplate string

	// MultipartThreshold is the largest object copied with one CopyObject
	// call; larger objects are copied in parts. Default: 5 GiB (S3's limit).
	MultipartThreshold int64

	// PartSize is the size of the parts of a multipart copy (S3 requires at
	// least 5 MiB but for the last part; tests may use less against fakes).
	// It grows when an object would need more than 10,000 parts and is
	// capped at S3's 5 GiB.
	// Default: 512 MiB.
	PartSize int64

	// Concurrency bounds the parts of one object copied at once.
	// Default: 8.
	Concurrency int

	// Now returns the current time, for the delivered-at metadata.
	// Default: time.Now.
	Now func() time.Time

	// Logger receives debug and warning messages. Default: discard.
	Logger *slog.Logger
}

// Deliverer copies objects into tenants' buckets. It is safe for concurrent
// use.
type Deliverer struct {
	chain credentials.CredentialChain
	opts  Options
	tmpl  *keyparse.Template
}

var _ deliver.Deliverer = (*Deliverer)(nil)

// New returns a Deliverer acting with the chain's central credentials (no
// hops). It fails when the key template is invalid.
func New(chain credentials.CredentialChain, optFns ...func(*Options)) (*Deliverer, error) {
	if chain == nil {
		return nil, errors.New("s3 deliverer: nil credential chain")
	}
	d := &Deliverer{chain: chain}
	for _, fn := range optFns {
		fn(&d.opts)
	}
	o := &d.opts
	if o.Region == "" {
		o.Region = o.AWSConfig.Region
	}
	if o.KeyTemplate == "" {
		o.KeyTemplate = DefaultKeyTemplate
	}
	if o.MultipartThreshold <= 0 {
		o.MultipartThreshold = DefaultMultipartThreshold
	}
	if o.PartSize <= 0 {
		o.PartSize = DefaultPartSize
	}
	o.PartSize = min(o.PartSize, maxPartSize)
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.NewClient == nil {
		if o.AWSConfig.HTTPClient == nil {
			o.AWSConfig.HTTPClient = awshttp.NewBuildableClient()
		}
		cfg, pathStyle := o.AWSConfig, o.UsePathStyle
		o.NewClient = func(region string, creds aws.CredentialsProvider) Client {
			return awss3.NewFromConfig(cfg, func(so *awss3.Options) {
				so.Region = region
				so.Credentials = creds
				so.UsePathStyle = pathStyle
			})
		}
	}
	tmpl, err := keyparse.New(o.KeyTemplate)
	if err != nil {
		return nil, fmt.Errorf("s3 deliverer: key template: %w", err)
	}
	d.tmpl = tmpl
	return d, nil
}

// Deliver copies d.Object into the bucket of d.Config. Delivering the same
// object twice writes the same key with the same bytes and metadata (but for
// delivered-at), so redeliveries leave one object.
func (d *Deliverer) Deliver(ctx context.Context, dl *deliver.Delivery) (deliver.Receipt, error) {
	cfg := dl.Config
	st, err := deliver.SettingsOf[Settings](dl, Kind())
	if err != nil {
		return deliver.Receipt{}, err
	}
	key, err := d.tmpl.Expand(dl.Key, map[string]string{"bucket_prefix": st.Prefix()})
	if err != nil {
		return deliver.Receipt{}, fault.Permanent(fmt.Errorf("s3 deliverer: destination key for %s: %w", dl.Object.Key, err))
	}
	rcpt := deliver.Receipt{Location: "s3://" + st.BucketName + "/" + key}

	creds, err := d.chain.Provider(ctx, d.opts.Region)
	if err != nil {
		return rcpt, awserr.Classify(fmt.Errorf("s3 deliverer: credentials for %s: %w", rcpt.Location, err))
	}
	src := d.opts.NewClient(d.opts.Region, creds)
	dst := src
	if r := cfg.TargetRegion; r != "" && r != d.opts.Region {
		dst = d.opts.NewClient(r, creds)
	}

	c := &copyJob{
		d:      d,
		client: dst,
		obj:    dl.Object,
		bucket: st.BucketName,
		key:    key,
		rcpt:   &rcpt,
		source: copySource(dl.Object.Bucket, dl.Object.Key, dl.Object.VersionID),
	}
	if dl.Identity != nil {
		if err := boundErr(cfg, st, *dl.Identity); err != nil {
			return rcpt, err
		}
	}
	if owner := st.ExpectedOwner(dl.Identity); owner != "" {
		c.owner = aws.String(owner)
	}
	// Without a key of its own the copy sends no encryption header, so the
	// tenant bucket's default encryption applies (SSE-S3 at least: S3
	// encrypts every object); forcing SSE-S3 would override a bucket that
	// defaults to SSE-KMS, or be refused by a policy that requires it.
	if st.KMSKeyID != "" {
		c.sse, c.kmsKey = types.ServerSideEncryptionAwsKms, aws.String(st.KMSKeyID)
	}

	// One HeadObject of the source: its size chooses single or multipart
	// copy, its ETag pins the copy to this version of the object, and its
	// Content-Type, Content-Encoding and user metadata must be restated
	// because the copy replaces the metadata (to add the traceability
	// fields).
	head, err := src.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket:    aws.String(dl.Object.Bucket),
		Key:       aws.String(dl.Object.Key),
		VersionId: optional(dl.Object.VersionID),
	})
	if err != nil {
		return rcpt, awserr.ClassifySource(fmt.Errorf("s3 deliverer: head source s3://%s/%s: %w", dl.Object.Bucket, dl.Object.Key, err))
	}
	c.head = head
	c.meta = d.metadata(dl, head.Metadata)
	size := aws.ToInt64(head.ContentLength)

	if size > d.opts.MultipartThreshold {
		err = c.multipart(ctx, size)
	} else {
		err = c.single(ctx)
	}
	if err != nil {
		return rcpt, err
	}
	rcpt.Objects, rcpt.Bytes = 1, size
	d.opts.Logger.DebugContext(ctx, "s3 copy delivered", "source", dl.Object.Bucket+"/"+dl.Object.Key, "destination", rcpt.Location, "bytes", size, "calls", rcpt.Calls)
	return rcpt, nil
}

// boundErr is the permanent error of settings that reach outside the
// tenant's identity, or nil.
func boundErr(cfg tenant.DeliveryConfig, st *Settings, id tenant.Identity) error {
	if problems := st.CheckIdentity(cfg, id); len(problems) > 0 {
		return fault.Permanent(fmt.Errorf("s3 deliverer: %s/%s: %s: %s", cfg.TenantID, cfg.Type, problems[0].Field, problems[0].Message))
	}
	return nil
}

// maxMetadataSize is S3's limit on the user metadata of an object: the
// sum of the bytes of its keys and values.
const maxMetadataSize = 2048

// metadata returns the user metadata of the copy: the source's, overlaid
// with the traceability fields. Should that exceed S3's 2 KB limit (very
// long keys), the source's own metadata is left out first, then the source
// key (which the destination key repeats).
func (d *Deliverer) metadata(dl *deliver.Delivery, source map[string]string) map[string]string {
	trace := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			trace[k] = metaValue(v)
		}
	}
	set(MetaSourceBucket, dl.Object.Bucket)
	set(MetaSourceKey, dl.Object.Key)
	set(MetaSourceVersionID, dl.Object.VersionID)
	set(MetaTenant, dl.Key.Tenant)
	set(MetaCluster, dl.Key.Cluster)
	set(MetaApplication, dl.Key.Application)
	set(MetaPod, dl.Key.Pod)
	set(MetaDeliveredAt, d.opts.Now().UTC().Format(time.RFC3339))

	m := make(map[string]string, len(source)+len(trace))
	for k, v := range source {
		m[strings.ToLower(k)] = v
	}
	maps.Copy(m, trace)
	if metadataSize(m) <= maxMetadataSize {
		return m
	}
	if metadataSize(trace) > maxMetadataSize {
		delete(trace, MetaSourceKey)
	}
	d.opts.Logger.Warn("s3 deliverer: metadata over 2 KB, shortened", "source", dl.Object.Bucket+"/"+dl.Object.Key)
	return trace
}

func metadataSize(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}

// copyJob is one object being copied.
type copyJob struct {
	d       *Deliverer
	client  Client
	obj     deliver.Object
	source  string // x-amz-copy-source
	bucket  string
	key     string
	owner   *string
	sse     types.ServerSideEncryption
	kmsKey  *string
	head    *awss3.HeadObjectOutput
	meta    map[string]string
	rcpt    *deliver.Receipt
	callsMu sync.Mutex // guards rcpt.Calls during parallel parts
}

func (c *copyJob) where() string {
	return fmt.Sprintf("s3://%s/%s to %s", c.obj.Bucket, c.obj.Key, c.rcpt.Location)
}

func (c *copyJob) single(ctx context.Context) error {
	count, done := c.counted()
	_, err := c.client.CopyObject(ctx, &awss3.CopyObjectInput{
		Bucket:               aws.String(c.bucket),
		Key:                  aws.String(c.key),
		CopySource:           aws.String(c.source),
		CopySourceIfMatch:    c.head.ETag,
		ACL:                  types.ObjectCannedACLBucketOwnerFullControl,
		MetadataDirective:    types.MetadataDirectiveReplace,
		Metadata:             c.meta,
		ContentType:          c.head.ContentType,
		ContentEncoding:      c.head.ContentEncoding,
		ServerSideEncryption: c.sse,
		SSEKMSKeyId:          c.kmsKey,
		ExpectedBucketOwner:  c.owner,
	}, count)
	done()
	if err != nil {
		return awserr.Classify(fmt.Errorf("s3 deliverer: copy %s: %w", c.where(), err))
	}
	return nil
}

func (c *copyJob) multipart(ctx context.Context, size int64) error {
	partSize := c.d.opts.PartSize
	if n := (size + partSize - 1) / partSize; n > maxParts {
		const mib = 1 << 20
		partSize = ((size+maxParts-1)/maxParts + mib - 1) / mib * mib
	}
	count, done := c.counted()
	created, err := c.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
		Bucket:               aws.String(c.bucket),
		Key:                  aws.String(c.key),
		ACL:                  types.ObjectCannedACLBucketOwnerFullControl,
		Metadata:             c.meta,
		ContentType:          c.head.ContentType,
		ContentEncoding:      c.head.ContentEncoding,
		ServerSideEncryption: c.sse,
		SSEKMSKeyId:          c.kmsKey,
		ExpectedBucketOwner:  c.owner,
	}, count)
	done()
	if err != nil {
		return awserr.Classify(fmt.Errorf("s3 deliverer: start multipart copy %s: %w", c.where(), err))
	}
	uploadID := created.UploadId

	parts := make([]types.CompletedPart, (size+partSize-1)/partSize)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.d.opts.Concurrency)
	for i := range parts {
		first := int64(i) * partSize
		last := min(first+partSize, size) - 1
		num := int32(i + 1)
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			count, done := c.counted()
			out, err := c.client.UploadPartCopy(gctx, &awss3.UploadPartCopyInput{
				Bucket:              aws.String(c.bucket),
				Key:                 aws.String(c.key),
				UploadId:            uploadID,
				PartNumber:          aws.Int32(num),
				CopySource:          aws.String(c.source),
				CopySourceRange:     aws.String(fmt.Sprintf("bytes=%d-%d", first, last)),
				CopySourceIfMatch:   c.head.ETag,
				ExpectedBucketOwner: c.owner,
			}, count)
			done()
			if err != nil {
				return fmt.Errorf("part %d (bytes %d-%d): %w", num, first, last, err)
			}
			if out.CopyPartResult == nil || out.CopyPartResult.ETag == nil {
				return fmt.Errorf("part %d: response has no ETag", num)
			}
			parts[i] = types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.CopyPartResult.ETag}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return c.abort(ctx, uploadID, fmt.Errorf("s3 deliverer: multipart copy %s: %w", c.where(), err))
	}
	count, done = c.counted()
	_, err = c.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket:              aws.String(c.bucket),
		Key:                 aws.String(c.key),
		UploadId:            uploadID,
		MultipartUpload:     &types.CompletedMultipartUpload{Parts: parts},
		ExpectedBucketOwner: c.owner,
	}, count)
	done()
	if err != nil {
		return c.abort(ctx, uploadID, fmt.Errorf("s3 deliverer: complete multipart copy %s: %w", c.where(), err))
	}
	return nil
}

// abortTimeout bounds the AbortMultipartUpload made after a failure, which
// runs even when the delivery's context is done.
const abortTimeout = 30 * time.Second

// abort aborts the upload after cause and returns cause, classified.
func (c *copyJob) abort(ctx context.Context, uploadID *string, cause error) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	count, done := c.counted()
	_, err := c.client.AbortMultipartUpload(actx, &awss3.AbortMultipartUploadInput{
		Bucket:              aws.String(c.bucket),
		Key:                 aws.String(c.key),
		UploadId:            uploadID,
		ExpectedBucketOwner: c.owner,
	}, count)
	done()
	if err != nil {
		// The upload stays until the bucket's lifecycle rule removes it.
		c.d.opts.Logger.WarnContext(ctx, "s3 deliverer: abort multipart upload failed", "destination", c.rcpt.Location, "upload_id", aws.ToString(uploadID), "error", err)
	}
	return awserr.Classify(cause)
}

// counted returns the option that counts the attempts of one call (SDK
// retries included) and the function that adds them to the receipt: at
// least one, for clients that ignore per-call options.
func (c *copyJob) counted() (func(*awss3.Options), func()) {
	var n atomic.Int64
	opt := func(o *awss3.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Finalize.Insert(middleware.FinalizeMiddlewareFunc("logdeliveryCountAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					n.Add(1)
					return next.HandleFinalize(ctx, in)
				}), "Retry", middleware.After)
		})
	}
	done := func() {
		c.callsMu.Lock()
		c.rcpt.Calls += int(max(n.Load(), 1))
		c.callsMu.Unlock()
	}
	return opt, done
}

// copySource returns the x-amz-copy-source value of an object: bucket and
// key percent-encoded as RFC 3986 requires ('/' kept, so "+" and spaces and
// non-ASCII bytes are escaped), and the version when set.
func copySource(bucket, key, versionID string) string {
	s := bucket + "/" + uriEncode(key)
	if versionID != "" {
		s += "?versionId=" + url.QueryEscape(versionID)
	}
	return s
}

// uriEncode percent-encodes every byte of s but the unreserved characters of
// RFC 3986 and '/'.
func uriEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case 'A' <= ch && ch <= 'Z', 'a' <= ch && ch <= 'z', '0' <= ch && ch <= '9',
			ch == '-', ch == '_', ch == '.', ch == '~', ch == '/':
			b.WriteByte(ch)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[ch>>4])
			b.WriteByte(hex[ch&15])
		}
	}
	return b.String()
}

// metaValue percent-encodes the bytes of s that cannot travel in an HTTP
// header unchanged (outside printable ASCII) and '%'.
func metaValue(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch < 0x20 || ch >= 0x7f || ch == '%' {
			b.WriteByte('%')
			b.WriteByte(hex[ch>>4])
			b.WriteByte(hex[ch&15])
			continue
		}
		b.WriteByte(ch)
	}
	return b.String()
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
