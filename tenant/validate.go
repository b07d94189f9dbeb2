package tenant

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/logdelivery/logdelivery/fault"
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

// Is makes errors.Is(err, ErrInvalidConfig) and errors.Is(err,
// fault.ErrPermanent) true: retrying an invalid config cannot succeed.
func (e *ValidationError) Is(target error) bool {
	return target == ErrInvalidConfig || target == fault.ErrPermanent
}

var (
	tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	typeNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	regionPattern   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	appNamePattern  = regexp.MustCompile(`^[^\x00-\x1f\x7f/]+$`)
)

// Validator validates whole configs: common fields, the kind's settings
// and the group names. *deliver.Registry implements it; stores that
// validate what they hold take one.
type Validator interface {
	// Validate returns a *ValidationError listing every problem of cfg, or
	// nil.
	Validate(cfg DeliveryConfig) error
}

// CommonProblems checks the common fields of c: tenant id, type (a kind
// name, optionally ":name"), desired_logs, groups (non-empty names; whether
// they exist is the validator's business), match rules, target_region and
// ttl. Settings are the kind's to check.
func (c DeliveryConfig) CommonProblems() []FieldError {
	var v validator
	v.tenantID(c.TenantID)
	kind, name, hasName := strings.Cut(c.Type, ":")
	switch {
	case c.Type == "":
		v.add(FieldType, `is required: a destination kind such as "cloudwatch" or "s3", optionally followed by ":name"`)
	case len(c.Type) > 64:
		v.add(FieldType, "is longer than 64 characters")
	case !typeNamePattern.MatchString(kind) || (hasName && !typeNamePattern.MatchString(name)):
		v.add(FieldType, fmt.Sprintf("%q must be a kind such as \"cloudwatch\" or \"s3\", optionally followed by \":name\" in lower case letters, digits, '.', '_' and '-'", c.Type))
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
		v.add(FieldTargetRegion, fmt.Sprintf("%q is not a region name such as \"us-east-1\"", c.TargetRegion))
	}
	if c.TTL < 0 {
		v.add(FieldTTL, "must be a Unix time in seconds, or 0 for none")
	}
	return v.problems
}

// NewValidationError returns a *ValidationError of cfg listing problems,
// or nil when there are none.
func NewValidationError(cfg DeliveryConfig, problems []FieldError) error {
	if len(problems) == 0 {
		return nil
	}
	return &ValidationError{TenantID: cfg.TenantID, Type: cfg.Type, Problems: problems}
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
