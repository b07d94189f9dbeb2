// Package tenant holds tenants' delivery configurations: the
// DeliveryConfig type (the DynamoDB item schema), its validation, the
// ConfigStore interface the dispatcher reads through and the Store interface
// configuration APIs write through. Implementations live in subpackages
// (memstore, filestore, dynamostore); storetest is the conformance suite
// every implementation runs.
package tenant

import (
	"strings"
	"time"
)

// Destination kinds: the part of a config's Type before any ":".
const (
	KindCloudWatch = "cloudwatch"
	KindS3         = "s3"
)

// DefaultBucketPrefix is the S3 key prefix used when a config names none.
const DefaultBucketPrefix = "ROSA/cluster-logs/"

// DeliveryConfig is one delivery destination of a tenant. Its fields and
// their names are those of the DynamoDB item (partition key tenant_id, sort
// key type). Fields marked "extension" are optional additions to the
// original schema.
type DeliveryConfig struct {
	TenantID string `json:"tenant_id" dynamodbav:"tenant_id"`
	// Type is the destination kind ("cloudwatch", "s3"), optionally followed
	// by ":name" to give a tenant several destinations of one kind
	// ("s3:archive").
	Type string `json:"type" dynamodbav:"type"`
	// Enabled is true when absent.
	Enabled *bool `json:"enabled,omitempty" dynamodbav:"enabled,omitempty"`
	// DesiredLogs lists application names (case-sensitive) to deliver.
	DesiredLogs []string `json:"desired_logs,omitempty" dynamodbav:"desired_logs,omitempty"`
	// Groups lists application group names (case-insensitive) to deliver.
	// With DesiredLogs empty too, every application is delivered.
	Groups []string `json:"groups,omitempty" dynamodbav:"groups,omitempty"`
	// Match selects records by pod labels, namespaces, containers, hosts
	// and applications, in the Logging operator's Flow model (see
	// MatchRule), on top of DesiredLogs and Groups. Empty: every record.
	Match []MatchRule `json:"match,omitempty" dynamodbav:"match,omitempty"`
	// TargetRegion is the destination's region; empty means the processor's.
	TargetRegion string `json:"target_region,omitempty" dynamodbav:"target_region,omitempty"`
	// TTL is the Unix time (seconds) after which the config is not used,
	// even before DynamoDB deletes the item. Zero means never.
	TTL int64 `json:"ttl,omitempty" dynamodbav:"ttl,omitempty"`
	// CreatedAt and UpdatedAt are RFC 3339 timestamps set by stores.
	CreatedAt string `json:"created_at,omitempty" dynamodbav:"created_at,omitempty"`
	UpdatedAt string `json:"updated_at,omitempty" dynamodbav:"updated_at,omitempty"`

	// CloudWatch Logs destinations.
	LogDistributionRoleARN string `json:"log_distribution_role_arn,omitempty" dynamodbav:"log_distribution_role_arn,omitempty"`
	LogGroupName           string `json:"log_group_name,omitempty" dynamodbav:"log_group_name,omitempty"`

	// S3 destinations.
	BucketName   string `json:"bucket_name,omitempty" dynamodbav:"bucket_name,omitempty"`
	BucketPrefix string `json:"bucket_prefix,omitempty" dynamodbav:"bucket_prefix,omitempty"`
	BucketOwner  string `json:"bucket_owner,omitempty" dynamodbav:"bucket_owner,omitempty"` // extension: expected owner account id
	KMSKeyID     string `json:"kms_key_id,omitempty" dynamodbav:"kms_key_id,omitempty"`     // extension: SSE-KMS key

	// ExternalID is the ExternalId presented to the tenant's role
	// (extension); empty means the central account id.
	ExternalID string `json:"external_id,omitempty" dynamodbav:"external_id,omitempty"`
}

// Kind returns the destination kind: Type up to any ":".
func (c DeliveryConfig) Kind() string {
	kind, _, _ := strings.Cut(c.Type, ":")
	return kind
}

// IsEnabled reports whether the config is enabled (true when unset).
func (c DeliveryConfig) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// Expired reports whether the config's TTL has passed at now.
func (c DeliveryConfig) Expired(now time.Time) bool {
	return c.TTL > 0 && now.Unix() >= c.TTL
}

// Prefix returns the S3 key prefix of the config: BucketPrefix, or
// DefaultBucketPrefix when empty, normalised to no leading "/" and exactly
// one trailing "/".
func (c DeliveryConfig) Prefix() string {
	p := c.BucketPrefix
	if p == "" {
		p = DefaultBucketPrefix
	}
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}

// Bool returns a pointer to v, for DeliveryConfig.Enabled.
func Bool(v bool) *bool { return &v }
