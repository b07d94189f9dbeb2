// Package awsdispatch assembles the production Dispatcher from an AWS
// configuration: tenant configurations from DynamoDB (cached), objects read
// from the central bucket with the central role, CloudWatch Logs
// deliveries through the central-role → tenant-role chain, and S3
// deliveries with the central role. Every piece can be replaced or tuned
// through Options; use the packages it wires (deliver/cloudwatch,
// deliver/s3, tenant/dynamostore, credentials) directly for anything else.
//
// Kinds lists the destination kinds it delivers to: the one place a new
// kind is registered for the production wiring, and the registry a
// configuration API validates with (examples/configapi).
package awsdispatch

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/dataprepper"
	"github.com/logdelivery/logdelivery/deliver/loki"
	"github.com/logdelivery/logdelivery/deliver/opensearch"
	"github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/deliver/webhook"
	"github.com/logdelivery/logdelivery/egress"
	"github.com/logdelivery/logdelivery/groups"
	"github.com/logdelivery/logdelivery/ledger"
	"github.com/logdelivery/logdelivery/ledger/dynamoledger"
	"github.com/logdelivery/logdelivery/limits"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// Options configures New.
type Options struct {
	// CentralRoleARN is the central log-distribution role every delivery
	// starts from. Empty: the processor's own credentials act as the
	// central identity.
	CentralRoleARN string
	// Table is the DynamoDB table of delivery configurations. Required
	// unless Store is set.
	Table string
	// Store replaces the DynamoDB store (for example a filestore).
	Store tenant.ConfigStore
	// CacheTTL is how long a tenant's configurations (and identity) are
	// cached; negative disables the caches. Default: 60s.
	CacheTTL time.Duration
	// IdentityTable is the DynamoDB table of tenant identities, the
	// platform operator's record of each tenant's accounts and ExternalId
	// (dynamostore.Identities). With it every config is bound to its
	// tenant's accounts and each tenant's roles are assumed with the
	// tenant's own ExternalId. Default: none, the seed's compatibility mode
	// (New logs a warning naming the risk).
	IdentityTable string
	// Identities replaces the DynamoDB identity store.
	Identities tenant.IdentityStore
	// ExternalIDKey is the operator's secret key the ExternalId of a tenant
	// whose identity carries none is derived from (credentials.ExternalIDs,
	// at least 32 bytes). Default: none; identities must then carry theirs.
	ExternalIDKey []byte
	// LedgerTable is the DynamoDB table of delivery progress
	// (dynamoledger.CreateTable makes one): with it each (object,
	// destination) is delivered once across retries, duplicate
	// notifications, crashes and replays, and half-done deliveries resume
	// from their last checkpoint. Default: none, at-least-once delivery.
	LedgerTable string
	// Ledger replaces the DynamoDB ledger (for example a ledger.File).
	Ledger ledger.Ledger
	// Egress is the policy every HTTP destination kind (Loki, OpenSearch,
	// Data Prepper, webhooks)
	// validates tenants' URLs against and connects by. Default: the
	// strict egress.Policy zero value (https on port 443 to public
	// addresses only).
	Egress egress.Policy
	// Secrets resolves the secret references of tenants' settings (a
	// Loki password, …). Default: credentials.NewAWSSecrets with the
	// central role (Secrets Manager and SSM Parameter Store).
	Secrets credentials.Secrets
	// UsePathStyle addresses S3 buckets by path (moto, S3-compatible
	// stores). Default: false.
	UsePathStyle bool
	// Limits holds tenants to their per-kind limits
	// (logdelivery.Options.Limits; limits.OpenOverridesFile keeps its
	// overrides in step with a file). Default: none.
	Limits *limits.Limiter
	// Observer receives every result, for metrics. Default: none.
	Observer logdelivery.Observer
	// Logger is shared by every component. The AWS SDK's own log lines
	// go to it too (SDKLogger replaces cfg.Logger), and the S3 notice
	// "Response has no supported checksum" (once per GetObject of objects
	// written without checksums, as Vector writes them) is turned off.
	// Default: discard.
	Logger *slog.Logger

	// S3KeyTemplate lays out the keys of objects copied to tenants'
	// buckets (s3.Options.KeyTemplate). Default: s3.DefaultKeyTemplate,
	// "{bucket_prefix}{tenant_id}/{cluster_id}/{application}/{pod_name}/{file}".
	// The reference implementation's layout leaves the cluster id out, so
	// as not to show tenants the management cluster's id:
	// "{bucket_prefix}{tenant_id}/{application}/{pod_name}/{file}".
	S3KeyTemplate string
	// CloudWatchStreamTemplate names the log streams of CloudWatch
	// deliveries (cloudwatch.Options.StreamTemplate). Default:
	// cloudwatch.DefaultStreamTemplate, "{cluster_id}/{application}/{pod_name}".
	// The reference implementation names them after the pod: "{pod_name}".
	CloudWatchStreamTemplate string
	// CreateLogGroup creates a tenant's missing log group
	// (cloudwatch.Options.CreateLogGroup), as the reference implementation
	// does. Default: false, a missing group is a permanent failure.
	CreateLogGroup bool
	// EmptyDesiredLogsMeanAll reads desired_logs [""] as every
	// application, as the reference implementation does
	// (dynamostore.EmptyDesiredLogsMeanAll). Default: false, such a config
	// is invalid.
	EmptyDesiredLogsMeanAll bool

	// Dispatcher, CloudWatch, S3 and STS tune the components; they run
	// after New has set its own options.
	Dispatcher  func(*logdelivery.Options)
	CloudWatch  func(*cloudwatch.Options)
	S3          func(*s3.Options)
	STS         func(*credentials.STSOptions)
	Loki        func(*loki.Options)
	OpenSearch  func(*opensearch.Options)
	DataPrepper func(*dataprepper.Options)
	Webhook     func(*webhook.Options)
	// Kinds adds destination kinds, or replaces the built-in kind of the
	// same name.
	Kinds []deliver.Kind
	// Groups are the application groups configs may name. Default: the
	// built-in groups.
	Groups *groups.Registry
}

// Kinds returns the destination kinds New wires, without deliverers: the
// registry of a configuration API that must accept exactly what the
// processor delivers. Of the options, only Egress and Kinds matter: pass
// the processor's so that what the API validates is what it delivers.
func Kinds(optFns ...func(*Options)) []deliver.Kind {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	kinds := []deliver.Kind{cloudwatch.Kind(), s3.Kind(), loki.KindWith(o.Egress),
		opensearch.KindWith(o.Egress), dataprepper.KindWith(o.Egress), webhook.KindWith(o.Egress)}
	for _, k := range o.Kinds {
		kinds = slices.DeleteFunc(kinds, func(b deliver.Kind) bool { return b.Name == k.Name })
		kinds = append(kinds, k)
	}
	return kinds
}

// New returns a Dispatcher wired for AWS. cfg is the processor's own
// configuration: region, base credentials and endpoint.
func New(cfg aws.Config, optFns ...func(*Options)) (*logdelivery.Dispatcher, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Region == "" {
		return nil, errors.New("awsdispatch: the AWS configuration has no region")
	}
	cfg.Logger = SDKLogger(o.Logger)

	store := o.Store
	if store == nil {
		if o.Table == "" {
			return nil, errors.New("awsdispatch: a DynamoDB table or a Store is required")
		}
		store = dynamostore.New(dynamodb.NewFromConfig(cfg), o.Table, func(so *dynamostore.Options) { so.Logger = o.Logger })
	}
	if o.EmptyDesiredLogsMeanAll {
		store = dynamostore.EmptyDesiredLogsMeanAll(store)
	}
	if o.CacheTTL >= 0 {
		store = tenant.NewCache(store, func(co *tenant.CacheOptions) {
			if o.CacheTTL > 0 {
				co.TTL = o.CacheTTL
			}
		})
	}

	chain, err := credentials.NewSTS(cfg, o.CentralRoleARN, func(so *credentials.STSOptions) {
		if o.STS != nil {
			o.STS(so)
		}
	})
	if err != nil {
		return nil, err
	}
	cw, err := cloudwatch.New(chain, func(co *cloudwatch.Options) {
		co.AWSConfig = cfg
		co.Logger = o.Logger
		co.StreamTemplate = o.CloudWatchStreamTemplate
		co.CreateLogGroup = o.CreateLogGroup
		if o.CloudWatch != nil {
			o.CloudWatch(co)
		}
	})
	if err != nil {
		return nil, err
	}
	s3d, err := s3.New(chain, func(so *s3.Options) {
		so.AWSConfig = cfg
		so.UsePathStyle = o.UsePathStyle
		so.Logger = o.Logger
		so.KeyTemplate = o.S3KeyTemplate
		if o.S3 != nil {
			o.S3(so)
		}
	})
	if err != nil {
		return nil, err
	}
	identities := o.Identities
	if identities == nil && o.IdentityTable != "" {
		identities = dynamostore.NewIdentities(dynamodb.NewFromConfig(cfg), o.IdentityTable)
	}
	if identities != nil && o.CacheTTL >= 0 {
		identities = tenant.NewIdentityCache(identities, func(co *tenant.CacheOptions) {
			if o.CacheTTL > 0 {
				co.TTL = o.CacheTTL
			}
		})
	}
	var externalIDs func(string) string
	if o.ExternalIDKey != nil {
		x, err := credentials.NewExternalIDs(o.ExternalIDKey)
		if err != nil {
			return nil, fmt.Errorf("awsdispatch: %w", err)
		}
		externalIDs = x.ExternalID
	}
	secrets := o.Secrets
	if secrets == nil {
		if secrets, err = credentials.NewAWSSecrets(chain, cfg); err != nil {
			return nil, fmt.Errorf("awsdispatch: %w", err)
		}
	}
	lk, err := loki.New(func(lo *loki.Options) {
		lo.Egress = o.Egress
		lo.Secrets = secrets
		lo.Logger = o.Logger
		if o.Loki != nil {
			o.Loki(lo)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("awsdispatch: %w", err)
	}
	osd, err := opensearch.New(func(so *opensearch.Options) {
		so.Chain, so.Region = chain, cfg.Region
		so.Policy, so.Secrets, so.Logger = o.Egress, secrets, o.Logger
		if o.OpenSearch != nil {
			o.OpenSearch(so)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("awsdispatch: %w", err)
	}
	dpd, err := dataprepper.New(func(do *dataprepper.Options) {
		do.Policy, do.Secrets, do.Logger = o.Egress, secrets, o.Logger
		if o.DataPrepper != nil {
			o.DataPrepper(do)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("awsdispatch: %w", err)
	}
	whd, err := webhook.New(func(wo *webhook.Options) {
		wo.Policy, wo.Secrets, wo.Logger = o.Egress, secrets, o.Logger
		if o.Webhook != nil {
			o.Webhook(wo)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("awsdispatch: %w", err)
	}
	kinds := []deliver.Kind{cw.Kind(), s3d.Kind(), lk.Kind(), osd.Kind(), dpd.Kind(), whd.Kind()}
	for _, k := range o.Kinds {
		kinds = slices.DeleteFunc(kinds, func(b deliver.Kind) bool { return b.Name == k.Name })
		kinds = append(kinds, k)
	}
	registry, err := deliver.NewRegistry(kinds, func(ro *deliver.RegistryOptions) { ro.Groups = o.Groups })
	if err != nil {
		return nil, fmt.Errorf("awsdispatch: %w", err)
	}
	// The central bucket is read with the central identity, the one that
	// copies from it too.
	central := awss3.NewFromConfig(cfg, func(so *awss3.Options) {
		so.UsePathStyle = o.UsePathStyle
		so.Credentials = credentials.Central(chain, cfg.Region)
		so.DisableLogOutputChecksumValidationSkipped = true
	})
	led := o.Ledger
	if led == nil && o.LedgerTable != "" {
		if led, err = dynamoledger.New(dynamodb.NewFromConfig(cfg), o.LedgerTable); err != nil {
			return nil, fmt.Errorf("awsdispatch: %w", err)
		}
	}
	return logdelivery.NewDispatcher(store, registry, func(do *logdelivery.Options) {
		do.Opener = s3.NewOpener(central)
		do.Ledger = led
		do.Identities = identities
		do.ExternalIDs = externalIDs
		do.Observer = o.Observer
		do.Limits = o.Limits
		do.Logger = o.Logger
		if o.Dispatcher != nil {
			o.Dispatcher(do)
		}
	})
}
