package s3

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/tenant"
)

// KindName is the name of the S3 destination kind.
const KindName = tenant.KindS3

// DefaultBucketPrefix is the key prefix of copies whose config names none.
const DefaultBucketPrefix = "ROSA/cluster-logs/"

// Settings are the settings of an S3 destination: the attributes of the
// original item schema (bucket_name, bucket_prefix) and the optional
// bucket_owner and kms_key_id, top-level in the item.
type Settings struct {
	BucketName   string `json:"bucket_name,omitempty" required:"true" doc:"The tenant's bucket (an S3 general purpose bucket name)."`
	BucketPrefix string `json:"bucket_prefix,omitempty" doc:"Key prefix of the copies; default ROSA/cluster-logs/. Valid UTF-8 without control characters, '\\', '.' or '..' segments; at most 512 characters."`
	BucketOwner  string `json:"bucket_owner,omitempty" doc:"The bucket's expected owner account id (12 digits), sent as ExpectedBucketOwner."`
	KMSKeyID     string `json:"kms_key_id,omitempty" doc:"KMS key (id, key ARN or alias) for SSE-KMS; default: the bucket's default encryption."`
}

// Prefix returns the key prefix of copies: BucketPrefix, or
// DefaultBucketPrefix when empty, normalised to no leading "/" and exactly
// one trailing "/".
func (s *Settings) Prefix() string {
	p := s.BucketPrefix
	if p == "" {
		p = DefaultBucketPrefix
	}
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}

var (
	bucketPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	kmsKeyPattern  = regexp.MustCompile(`^(arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[\w/+=,.@-]+|alias/[\w/+=,.@-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
)

// Validate checks the settings.
func (s *Settings) Validate(tenant.DeliveryConfig) []tenant.FieldError {
	var problems []tenant.FieldError
	add := func(field, msg string) { problems = append(problems, tenant.FieldError{Field: field, Message: msg}) }
	if msg := BucketNameProblem(s.BucketName); s.BucketName != "" && msg != "" {
		add("bucket_name", msg)
	}
	if p := s.BucketPrefix; p != "" {
		switch {
		case len(p) > 512:
			add("bucket_prefix", "is longer than 512 characters")
		case !utf8.ValidString(p) || strings.ContainsAny(p, "\x00\r\n\\"):
			add("bucket_prefix", "must be valid UTF-8 without control characters or '\\'")
		case strings.Contains("/"+p+"/", "/../") || strings.Contains("/"+p+"/", "/./"):
			add("bucket_prefix", `must not contain "." or ".." segments`)
		}
	}
	if s.BucketOwner != "" && !accountPattern.MatchString(s.BucketOwner) {
		add("bucket_owner", fmt.Sprintf("%q is not a 12-digit account id", s.BucketOwner))
	}
	if s.KMSKeyID != "" && !kmsKeyPattern.MatchString(s.KMSKeyID) {
		add("kms_key_id", fmt.Sprintf("%q is not a KMS key id, key ARN or alias", s.KMSKeyID))
	}
	return problems
}

// BucketNameProblem applies S3's naming rules for general purpose buckets
// and returns what is wrong with name, or "".
func BucketNameProblem(name string) string {
	switch {
	case len(name) < 3 || len(name) > 63:
		return fmt.Sprintf("%q must be 3 to 63 characters long", name)
	case !bucketPattern.MatchString(name):
		return fmt.Sprintf("%q may contain only lower case letters, digits, '.' and '-', and must start and end with a letter or digit", name)
	case strings.Contains(name, ".."), strings.Contains(name, ".-"), strings.Contains(name, "-."):
		return fmt.Sprintf("%q must not have adjacent periods or a period next to a hyphen", name)
	case isIPv4(name):
		return fmt.Sprintf("%q must not be formatted as an IP address", name)
	case strings.HasPrefix(name, "xn--"), strings.HasPrefix(name, "sthree-"), strings.HasPrefix(name, "amzn-s3-demo-"):
		return fmt.Sprintf("%q uses a prefix S3 reserves", name)
	case strings.HasSuffix(name, "-s3alias"), strings.HasSuffix(name, "--ol-s3"), strings.HasSuffix(name, ".mrap"), strings.HasSuffix(name, "--x-s3"), strings.HasSuffix(name, "--table-s3"):
		return fmt.Sprintf("%q uses a suffix S3 reserves", name)
	}
	return ""
}

func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

// CheckIdentity refuses a bucket owner outside the tenant's accounts, and
// requires one when the tenant has several accounts: copies are made with
// the central role, which may write many tenants' buckets, so the expected
// owner is what keeps a tenant's copies in its own account.
func (s *Settings) CheckIdentity(_ tenant.DeliveryConfig, id tenant.Identity) []tenant.FieldError {
	switch {
	case s.BucketOwner != "":
		if msg := id.AccountProblem(s.BucketOwner); msg != "" {
			return []tenant.FieldError{{Field: "bucket_owner", Message: msg}}
		}
	case len(id.Accounts) > 1:
		return []tenant.FieldError{{Field: "bucket_owner", Message: fmt.Sprintf("is required: tenant %q has several accounts (%s), say which owns the bucket", id.TenantID, strings.Join(id.Accounts, ", "))}}
	}
	return nil
}

// ExpectedOwner returns the account the bucket must belong to: BucketOwner,
// or the tenant's only account when the delivery has an identity; "" when
// neither says.
func (s *Settings) ExpectedOwner(id *tenant.Identity) string {
	if s.BucketOwner != "" || id == nil || len(id.Accounts) != 1 {
		return s.BucketOwner
	}
	return id.Accounts[0]
}

// Kind returns the S3 kind without a deliverer, for registries that only
// validate configs. (*Deliverer).Kind returns it with one.
func Kind() deliver.Kind {
	return deliver.Kind{
		Name:        KindName,
		Summary:     "A server-side copy of each object into the tenant's S3 bucket.",
		NewSettings: func() deliver.Settings { return new(Settings) },
	}
}

// Kind returns the S3 kind delivered by d.
func (d *Deliverer) Kind() deliver.Kind {
	k := Kind()
	k.Deliverer = d
	return k
}
