package tenant

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"
)

// ErrInvalidConfig is matched by errors.Is for every validation failure.
var ErrInvalidConfig = errors.New("invalid delivery config")

// FieldError is one problem with one field of a config.
type FieldError struct {
	Field   string `json:"field"`   // JSON/DynamoDB name, e.g. "log_group_name"
	Message string `json:"message"` // what is wrong and what is expected
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidationError lists every problem found in one config.
type ValidationError struct {
	TenantID string
	Type     string
	Problems []FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return fmt.Sprintf("invalid delivery config %s/%s: %s", e.TenantID, e.Type, strings.Join(msgs, "; "))
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidConfig }

var (
	tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	typeNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	// arn:partition:iam::account:role/path/name
	roleARNPattern  = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-[a-z]|aws-eusc):iam::([0-9]{12}):role/(?:[\x21-\x7e]*/)?([\w+=,.@-]{1,64})$`)
	logGroupPattern = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)
	regionPattern   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	accountPattern  = regexp.MustCompile(`^[0-9]{12}$`)
	appNamePattern  = regexp.MustCompile(`^[^\x00-\x1f\x7f/]+$`)
	bucketPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	kmsKeyPattern   = regexp.MustCompile(`^(arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[\w/+=,.@-]+|alias/[\w/+=,.@-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`)
	externalIDChars = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// Validate checks the config and returns a *ValidationError listing every
// problem, or nil. Kinds other than cloudwatch and s3 get the common checks
// only, so that users can add their own destinations.
func (c DeliveryConfig) Validate() error {
	var v validator
	v.tenantID(c.TenantID)
	kind, name, hasName := strings.Cut(c.Type, ":")
	switch {
	case c.Type == "":
		v.add("type", `is required ("cloudwatch" or "s3", optionally followed by ":name")`)
	case len(c.Type) > 64:
		v.add("type", "is longer than 64 characters")
	case !typeNamePattern.MatchString(kind) || (hasName && !typeNamePattern.MatchString(name)):
		v.add("type", fmt.Sprintf("%q must be a kind such as \"cloudwatch\" or \"s3\", optionally followed by \":name\" in lower case letters, digits, '.', '_' and '-'", c.Type))
	}
	for i, app := range c.DesiredLogs {
		if !appNamePattern.MatchString(app) || !utf8.ValidString(app) {
			v.add(fmt.Sprintf("desired_logs[%d]", i), fmt.Sprintf("%q is not an application name (non-empty, no '/', no control characters)", app))
		}
	}
	for i, g := range c.Groups {
		if strings.TrimSpace(g) == "" {
			v.add(fmt.Sprintf("groups[%d]", i), "is empty")
		}
	}
	v.problems = append(v.problems, matchProblems(c.Match)...)
	if c.TargetRegion != "" && !regionPattern.MatchString(c.TargetRegion) {
		v.add("target_region", fmt.Sprintf("%q is not a region name such as \"us-east-1\"", c.TargetRegion))
	}
	if c.TTL < 0 {
		v.add("ttl", "must be a Unix time in seconds, or 0 for none")
	}
	if c.ExternalID != "" && (len(c.ExternalID) < 2 || len(c.ExternalID) > 1224 || !externalIDChars.MatchString(c.ExternalID)) {
		v.add("external_id", "must be 2 to 1224 characters of letters, digits and +=,.@:/-")
	}

	switch kind {
	case KindCloudWatch:
		v.roleARN("log_distribution_role_arn", c.LogDistributionRoleARN)
		switch {
		case c.LogGroupName == "":
			v.add("log_group_name", "is required for cloudwatch destinations")
		case len(c.LogGroupName) > 512:
			v.add("log_group_name", "is longer than 512 characters")
		case !logGroupPattern.MatchString(c.LogGroupName):
			v.add("log_group_name", fmt.Sprintf("%q may contain only letters, digits, '_', '-', '/', '.' and '#'", c.LogGroupName))
		case strings.HasPrefix(c.LogGroupName, "aws/"):
			v.add("log_group_name", "must not start with \"aws/\" (reserved by AWS)")
		}
	case KindS3:
		v.bucket("bucket_name", c.BucketName)
		if c.BucketPrefix != "" {
			switch {
			case len(c.BucketPrefix) > 512:
				v.add("bucket_prefix", "is longer than 512 characters")
			case !utf8.ValidString(c.BucketPrefix) || strings.ContainsAny(c.BucketPrefix, "\x00\r\n\\"):
				v.add("bucket_prefix", "must be valid UTF-8 without control characters or '\\'")
			case strings.Contains("/"+c.BucketPrefix+"/", "/../") || strings.Contains("/"+c.BucketPrefix+"/", "/./"):
				v.add("bucket_prefix", "must not contain \".\" or \"..\" segments")
			}
		}
		if c.BucketOwner != "" && !accountPattern.MatchString(c.BucketOwner) {
			v.add("bucket_owner", fmt.Sprintf("%q is not a 12-digit account id", c.BucketOwner))
		}
		if c.KMSKeyID != "" && !kmsKeyPattern.MatchString(c.KMSKeyID) {
			v.add("kms_key_id", fmt.Sprintf("%q is not a KMS key id, key ARN or alias", c.KMSKeyID))
		}
	}
	return v.err(c)
}

type validator struct{ problems []FieldError }

func (v *validator) add(field, msg string) {
	v.problems = append(v.problems, FieldError{Field: field, Message: msg})
}

func (v *validator) err(c DeliveryConfig) error {
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{TenantID: c.TenantID, Type: c.Type, Problems: v.problems}
}

func (v *validator) roleARN(field, arn string) {
	switch {
	case arn == "":
		v.add(field, "is required")
	case len(arn) > 2048:
		v.add(field, "is longer than 2048 characters")
	case !roleARNPattern.MatchString(arn):
		v.add(field, fmt.Sprintf("%q is not an IAM role ARN (arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME)", arn))
	}
}

// bucket applies S3's bucket naming rules for general purpose buckets.
func (v *validator) bucket(field, name string) {
	switch {
	case name == "":
		v.add(field, "is required for s3 destinations")
	case len(name) < 3 || len(name) > 63:
		v.add(field, fmt.Sprintf("%q must be 3 to 63 characters long", name))
	case !bucketPattern.MatchString(name):
		v.add(field, fmt.Sprintf("%q may contain only lower case letters, digits, '.' and '-', and must start and end with a letter or digit", name))
	case strings.Contains(name, ".."), strings.Contains(name, ".-"), strings.Contains(name, "-."):
		v.add(field, fmt.Sprintf("%q must not have adjacent periods or a period next to a hyphen", name))
	case isIPv4(name):
		v.add(field, fmt.Sprintf("%q must not be formatted as an IP address", name))
	case strings.HasPrefix(name, "xn--"), strings.HasPrefix(name, "sthree-"), strings.HasPrefix(name, "amzn-s3-demo-"):
		v.add(field, fmt.Sprintf("%q uses a prefix S3 reserves", name))
	case strings.HasSuffix(name, "-s3alias"), strings.HasSuffix(name, "--ol-s3"), strings.HasSuffix(name, ".mrap"), strings.HasSuffix(name, "--x-s3"), strings.HasSuffix(name, "--table-s3"):
		v.add(field, fmt.Sprintf("%q uses a suffix S3 reserves", name))
	}
}

func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

func (v *validator) tenantID(id string) {
	switch {
	case id == "":
		v.add("tenant_id", "is required")
	case len(id) > 128:
		v.add("tenant_id", "is longer than 128 characters")
	case !tenantIDPattern.MatchString(id):
		v.add("tenant_id", "must start with a letter or digit and contain only letters, digits, '.', '_' and '-'")
	}
}

// ValidateTenantID checks a tenant id on its own (for lookups and APIs). The
// error, if any, is a *ValidationError.
func ValidateTenantID(id string) error {
	var v validator
	v.tenantID(id)
	return v.err(DeliveryConfig{TenantID: id})
}
