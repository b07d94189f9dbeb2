package configapi

import (
	"errors"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery/deliver"
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
	// ("log_group_name", "desired_logs[2]" for one element, "settings.url"
	// for a nested setting), or "enabled" and "expiry" for the state checks.
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
	// Valid is true when no check failed: the processor's registry accepts
	// the config.
	Valid bool `json:"valid"`
	// Active is true when the config is valid, enabled and unexpired: the
	// processor delivers with it.
	Active bool    `json:"active"`
	Checks []Check `json:"checks"`
}

// commonRules describes the checks of the common fields, for the checks
// that pass.
var commonRules = []struct{ field, rule string }{
	{tenant.FieldTenantID, "required; letters, digits, '.', '_' and '-', starting with a letter or digit; at most 128 characters"},
	{tenant.FieldType, "a registered destination kind, optionally followed by \":name\""},
	{tenant.FieldDesiredLogs, "application names: non-empty, no '/', no control characters"},
	{tenant.FieldGroups, "names of known application groups (case-insensitive)"},
	{tenant.FieldMatch, "at most 64 rules, each a select or an exclude of labels, namespace_labels, namespaces, container_names, hosts and applications in Kubernetes syntax"},
	{tenant.FieldTargetRegion, "empty or a region name such as us-east-1"},
	{tenant.FieldTTL, "0 or a Unix time in seconds"},
}

// validationReport runs every check on cfg at now: the registry's
// validation, described field by field, and the state checks.
func validationReport(kinds *deliver.Registry, cfg tenant.DeliveryConfig, now time.Time) ValidationReport {
	var problems []tenant.FieldError
	var ve *tenant.ValidationError
	if err := kinds.Validate(cfg); errors.As(err, &ve) {
		problems = ve.Problems
	}
	rep := ValidationReport{TenantID: cfg.TenantID, Type: cfg.Type, Valid: len(problems) == 0}
	reported := make([]bool, len(problems))
	rule := func(field, pass string) {
		failed := false
		for i, p := range problems {
			if p.Field == field || strings.HasPrefix(p.Field, field+"[") || strings.HasPrefix(p.Field, field+".") {
				rep.Checks = append(rep.Checks, Check{Name: p.Field, Outcome: OutcomeFail, Message: p.Message})
				reported[i], failed = true, true
			}
		}
		if !failed {
			rep.Checks = append(rep.Checks, Check{Name: field, Outcome: OutcomePass, Message: pass})
		}
	}
	for _, r := range commonRules {
		rule(r.field, r.rule)
	}
	kind := cfg.Kind()
	for _, f := range kinds.Fields(kind) {
		pass := f.Doc
		if f.Required {
			pass = "required; " + pass
		}
		rule(deliver.SettingsField(kind, f.Name), pass)
	}
	// Problems of fields no rule names (a setting of another kind) still show.
	for i, p := range problems {
		if !reported[i] {
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
