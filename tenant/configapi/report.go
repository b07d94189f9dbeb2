package configapi

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/tenant"
)

// Outcomes of a Check.
const (
	OutcomePass = "pass" // the rule holds
	OutcomeFail = "fail" // the rule is broken: the processor rejects the config
	OutcomeWarn = "warn" // valid, but the processor will not deliver with it now
)

// Check is one check of a stored config and its outcome.
type Check struct {
	// Name identifies the check: a field name for validation rules
	// ("log_group_name", "desired_logs[2]" for one element), or "enabled",
	// "expiry" or "kind" for the state checks.
	Name string `json:"name"`
	// Outcome is OutcomePass, OutcomeFail or OutcomeWarn.
	Outcome string `json:"outcome"`
	// Message describes the rule (pass) or what is wrong (fail, warn).
	Message string `json:"message"`
}

// ValidationReport is the body of GET
// /tenants/{tenant_id}/delivery-configs/{type}/validate.
type ValidationReport struct {
	TenantID string `json:"tenant_id"`
	Type     string `json:"type"`
	// Valid is true when no check failed: tenant.Validate accepts the
	// config.
	Valid bool `json:"valid"`
	// Active is true when the config is valid, enabled and unexpired: the
	// processor delivers with it.
	Active bool    `json:"active"`
	Checks []Check `json:"checks"`
}

// fieldRules describes what tenant.Validate checks of each field, for the
// checks that pass.
var fieldRules = []struct{ field, kind, rule string }{
	{"tenant_id", "", "required; letters, digits, '.', '_' and '-', starting with a letter or digit; at most 128 characters"},
	{"type", "", "a kind (cloudwatch, s3, or a custom one) optionally followed by \":name\""},
	{"desired_logs", "", "application names: non-empty, no '/', no control characters"},
	{"groups", "", "group names: non-empty"},
	{"target_region", "", "empty or a region name such as us-east-1"},
	{"ttl", "", "0 or a Unix time in seconds"},
	{"external_id", "", "empty or 2 to 1224 characters of letters, digits and +=,.@:/-"},
	{"log_distribution_role_arn", tenant.KindCloudWatch, "required; an IAM role ARN"},
	{"log_group_name", tenant.KindCloudWatch, "required; at most 512 letters, digits, '_', '-', '/', '.' and '#'; not under aws/"},
	{"bucket_name", tenant.KindS3, "required; an S3 general purpose bucket name"},
	{"bucket_prefix", tenant.KindS3, "valid UTF-8 without control characters, '\\', '.' or '..' segments; at most 512 characters"},
	{"bucket_owner", tenant.KindS3, "empty or a 12-digit account id"},
	{"kms_key_id", tenant.KindS3, "empty or a KMS key id, key ARN or alias"},
}

// validationReport runs every check on cfg at now.
func validationReport(cfg tenant.DeliveryConfig, now time.Time) ValidationReport {
	var problems []tenant.FieldError
	var ve *tenant.ValidationError
	if err := cfg.Validate(); errors.As(err, &ve) {
		problems = ve.Problems
	}
	rep := ValidationReport{TenantID: cfg.TenantID, Type: cfg.Type, Valid: len(problems) == 0}
	kind := cfg.Kind()
	for _, fr := range fieldRules {
		if fr.kind != "" && fr.kind != kind {
			continue
		}
		failed := false
		for _, p := range problems {
			if p.Field == fr.field || strings.HasPrefix(p.Field, fr.field+"[") {
				rep.Checks = append(rep.Checks, Check{Name: p.Field, Outcome: OutcomeFail, Message: p.Message})
				failed = true
			}
		}
		if !failed {
			rep.Checks = append(rep.Checks, Check{Name: fr.field, Outcome: OutcomePass, Message: fr.rule})
		}
	}
	// Problems of fields this report does not know yet still show.
	for _, p := range problems {
		if !knownRule(p.Field) {
			rep.Checks = append(rep.Checks, Check{Name: p.Field, Outcome: OutcomeFail, Message: p.Message})
		}
	}

	state := func(name string, ok bool, pass, warn string) {
		if ok {
			rep.Checks = append(rep.Checks, Check{Name: name, Outcome: OutcomePass, Message: pass})
		} else {
			rep.Checks = append(rep.Checks, Check{Name: name, Outcome: OutcomeWarn, Message: warn})
		}
	}
	builtin := kind == tenant.KindCloudWatch || kind == tenant.KindS3
	state("kind", builtin, fmt.Sprintf("%q is a built-in destination kind", kind),
		fmt.Sprintf("%q is not a built-in destination kind; the processor needs a deliverer registered for it", kind))
	state("enabled", cfg.IsEnabled(), "the config is enabled", "the config is disabled; the processor skips it")
	expiry := "the config has no TTL"
	if cfg.TTL > 0 {
		expiry = "the config expires at " + time.Unix(cfg.TTL, 0).UTC().Format(time.RFC3339)
	}
	state("expiry", !cfg.Expired(now), expiry,
		"the config expired at "+time.Unix(cfg.TTL, 0).UTC().Format(time.RFC3339)+"; the processor ignores it")
	rep.Active = rep.Valid && cfg.IsEnabled() && !cfg.Expired(now)
	return rep
}

func knownRule(field string) bool {
	for _, fr := range fieldRules {
		if field == fr.field || strings.HasPrefix(field, fr.field+"[") {
			return true
		}
	}
	return false
}
