package cloudwatch

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/tenant"
)

// KindName is the name of the CloudWatch Logs destination kind.
const KindName = tenant.KindCloudWatch

// Settings are the settings of a CloudWatch Logs destination: the
// attributes of the original item schema, top-level in the item.
type Settings struct {
	LogDistributionRoleARN string `json:"log_distribution_role_arn,omitempty" required:"true" doc:"The tenant's IAM role the processor assumes (through the central role) to write to the log group."`
	LogGroupName           string `json:"log_group_name,omitempty" required:"true" doc:"The tenant's log group: at most 512 letters, digits, '_', '-', '/', '.' and '#', not under aws/."`
	// ExternalID is the ExternalId of the original schema's items, used
	// only when the processor runs without tenant identities; with them the
	// operator's record decides it (see Identity).
	ExternalID string `json:"external_id,omitempty" operator:"true" doc:"Set by the platform operator, not through the API: the ExternalId presented to the tenant's role when the processor has no tenant identities; empty means the central account id."`
}

// CheckIdentity refuses a role outside the tenant's accounts: with it, a
// tenant's config could make the processor act as another tenant's role.
func (s *Settings) CheckIdentity(_ tenant.DeliveryConfig, id tenant.Identity) []tenant.FieldError {
	role, err := credentials.ParseRoleARN(s.LogDistributionRoleARN)
	if err != nil {
		return nil // Validate reports it
	}
	if msg := id.AccountProblem(role.Account); msg != "" {
		return []tenant.FieldError{{Field: "log_distribution_role_arn", Message: msg}}
	}
	return nil
}

var (
	logGroupPattern = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)
	externalIDChars = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// Validate checks the settings.
func (s *Settings) Validate(tenant.DeliveryConfig) []tenant.FieldError {
	var problems []tenant.FieldError
	add := func(field, msg string) { problems = append(problems, tenant.FieldError{Field: field, Message: msg}) }
	if s.LogDistributionRoleARN != "" {
		if _, err := credentials.ParseRoleARN(s.LogDistributionRoleARN); err != nil {
			add("log_distribution_role_arn", strings.TrimPrefix(err.Error(), credentials.ErrMalformedRoleARN.Error()+": "))
		}
	}
	switch g := s.LogGroupName; {
	case g == "":
	case len(g) > 512:
		add("log_group_name", "is longer than 512 characters")
	case !logGroupPattern.MatchString(g):
		add("log_group_name", fmt.Sprintf("%q may contain only letters, digits, '_', '-', '/', '.' and '#'", g))
	case strings.HasPrefix(g, "aws/"):
		add("log_group_name", `must not start with "aws/" (reserved by AWS)`)
	}
	if id := s.ExternalID; id != "" && (len(id) < 2 || len(id) > 1224 || !externalIDChars.MatchString(id)) {
		add("external_id", "must be 2 to 1224 characters of letters, digits and +=,.@:/-")
	}
	return problems
}

// Kind returns the CloudWatch Logs kind without a deliverer, for registries
// that only validate configs. (*Deliverer).Kind returns it with one.
func Kind() deliver.Kind {
	return deliver.Kind{
		Name:        KindName,
		Summary:     "CloudWatch Logs in the tenant's account, through the central role and the tenant's role.",
		NewSettings: func() deliver.Settings { return new(Settings) },
		Records:     true,
	}
}

// Kind returns the CloudWatch Logs kind delivered by dv.
func (dv *Deliverer) Kind() deliver.Kind {
	k := Kind()
	k.Deliverer = dv
	return k
}
