package credentials

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"

	"github.com/logdelivery/logdelivery/fault"
)

// Secrets resolves a tenant's secret references to their values. It is
// the shape destinations depend on: a destination whose settings hold a
// SecretRef (a Loki password or bearer token, a webhook signing key, Kafka
// SASL credentials) holds a Secrets and asks it for the value when it
// delivers, so that the value is never part of the tenant's config.
//
// Implementations check that tenantID may use ref (see AllowFunc) on every
// call, so that no tenant can reach another tenant's secrets, and return
// errors classified by package fault: permanent when the tenant must fix
// its reference or its grant, retryable otherwise. Errors and logs never
// contain secret values. AWSSecrets, FileSecrets and SecretsBySource
// implement it; tests can use a fake.
type Secrets interface {
	// Secret returns the value ref names, if tenantID may use it.
	Secret(ctx context.Context, tenantID string, ref SecretRef) (Secret, error)
}

// redacted is what every printed form of a Secret says.
const redacted = "[redacted]"

// Secret is a secret value. Every way of printing, logging or encoding it
// (String, GoString, Format with any verb, MarshalJSON, MarshalText,
// LogValue) gives "[redacted]"; Reveal and Bytes return the value, for the
// one place that sends it (an Authorization header, an HMAC key). The value
// is held behind a pointer so that even reflection-based printing of a
// struct with an unexported Secret field shows an address, not the value.
// The zero Secret is empty. Secrets are safe to copy and to share; compare
// values with Reveal, as == compares the pointers.
type Secret struct {
	v *string
}

// NewSecret returns a Secret holding value (for Secrets implementations and
// tests).
func NewSecret(value string) Secret { return Secret{v: &value} }

// Reveal returns the secret value.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// Bytes returns a copy of the secret value.
func (s Secret) Bytes() []byte { return []byte(s.Reveal()) }

// IsZero reports whether the value is empty.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

// String returns "[redacted]".
func (Secret) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (Secret) GoString() string { return redacted }

// Format writes "[redacted]" for every verb and flag.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON returns the JSON string "[redacted]".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[redacted]".
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue makes log/slog print "[redacted]".
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// ErrSecretRefused is matched by errors.Is when a tenant may not use a
// reference (an AllowFunc refused it, or an account or region filter).
var ErrSecretRefused = errors.New("secret reference refused")

// SecretError is the error of a failed Secrets.Secret: which tenant asked
// for which reference, and why it failed. Its message names the reference,
// never the value. It has the class (see package fault) of Err.
type SecretError struct {
	TenantID string
	Ref      SecretRef
	Err      error
}

func (e *SecretError) Error() string {
	return fmt.Sprintf("secret %s for tenant %s: %v", e.Ref, quoteTenant(e.TenantID), e.Err)
}

// Unwrap returns the cause.
func (e *SecretError) Unwrap() error { return e.Err }

// AllowFunc is a tenant-confinement rule: it returns nil when tenantID may
// use ref, or an error saying which rule refuses it. Secrets
// implementations call it on every request, after checking the tenant id
// (see ValidateSecretTenantID) and before any cache or fetch; its errors
// are returned permanent, matching ErrSecretRefused.
type AllowFunc func(tenantID string, ref SecretRef) error

// TenantIDPlaceholder is replaced by the tenant id in name prefixes.
const TenantIDPlaceholder = "{tenant_id}"

// DefaultNamePrefix is the default prefix of AWS secret names: tenant acme
// may use the Secrets Manager secrets logdelivery/acme/... and the
// Parameter Store parameters /logdelivery/acme/....
const DefaultNamePrefix = "logdelivery/" + TenantIDPlaceholder + "/"

// DefaultFileNamePrefix is the default prefix of file references: tenant
// acme may use file:acme/....
const DefaultFileNamePrefix = TenantIDPlaceholder + "/"

// NamePrefixRule returns the rule that confines each tenant to the names
// that start with prefix, where TenantIDPlaceholder stands for the tenant
// id: Secrets Manager secret names and file names start with the prefix,
// Parameter Store names with "/" and the prefix (parameters in a hierarchy
// start with a slash), and a name must be longer than its prefix.
//
// The prefix must hold the placeholder once, followed by "/" (so that
// tenant acme cannot reach the names of tenant acme-corp), must not start
// with "/", and may hold only characters of secret names (letters, digits
// and /_+=.@-).
func NamePrefixRule(prefix string) (AllowFunc, error) {
	before, after, ok := strings.Cut(prefix, TenantIDPlaceholder)
	switch {
	case !ok:
		return nil, fmt.Errorf("credentials: name prefix %q has no %s placeholder: every tenant would share one namespace", prefix, TenantIDPlaceholder)
	case strings.Contains(after, TenantIDPlaceholder):
		return nil, fmt.Errorf("credentials: name prefix %q has %s more than once", prefix, TenantIDPlaceholder)
	case !strings.HasPrefix(after, "/"):
		return nil, fmt.Errorf("credentials: name prefix %q: %s must be followed by \"/\", or tenant a's prefix would be a prefix of tenant ab's", prefix, TenantIDPlaceholder)
	case strings.HasPrefix(prefix, "/"):
		return nil, fmt.Errorf("credentials: name prefix %q must not start with \"/\" (Parameter Store names get a leading \"/\" added)", prefix)
	}
	for _, c := range before + after {
		if !isSecretNameChar(c) {
			return nil, fmt.Errorf("credentials: name prefix %q: character %q is not allowed in secret names", prefix, c)
		}
	}
	return func(tenantID string, ref SecretRef) error {
		p := before + tenantID + after
		what := "secret"
		switch ref.Service() {
		case ServiceSSM:
			p, what = "/"+p, "parameter"
		case ServiceFile:
			what = "file"
		}
		if !strings.HasPrefix(ref.Name(), p) || len(ref.Name()) == len(p) {
			return fmt.Errorf("%s names of tenant %s must start with %q (and go on after it)", what, quoteTenant(tenantID), p)
		}
		return nil
	}, nil
}

// tenantIDPattern is the rule of package tenant for tenant ids; it has no
// "/", so that a tenant id cannot reach into another tenant's prefix.
var tenantIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidateSecretTenantID checks a tenant id as every Secrets implementation
// of this package does before anything else: 1 to 128 characters, letters,
// digits, '.', '_' and '-', starting with a letter or digit (the rule of
// package tenant). The error is permanent.
func ValidateSecretTenantID(id string) error {
	if len(id) > 128 || !tenantIDPattern.MatchString(id) {
		return fault.Permanent(errors.New("invalid tenant id: it must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"))
	}
	return nil
}

// quoteTenant quotes a tenant id for a message, cut short unless it is
// valid.
func quoteTenant(id string) string {
	if ValidateSecretTenantID(id) != nil {
		return quoteShort(id)
	}
	return fmt.Sprintf("%q", id)
}

// checkAllowed runs the checks every request passes before any cache or
// fetch: the tenant id, the service, and the rules.
func checkAllowed(tenantID string, ref SecretRef, services []string, rules ...AllowFunc) error {
	if err := ValidateSecretTenantID(tenantID); err != nil {
		return err
	}
	switch {
	case ref.IsZero():
		return fault.Permanent(errors.New("no secret reference"))
	case !slices.Contains(services, ref.Service()):
		return fault.Permanent(fmt.Errorf("%w: %s references are not served here (this resolver serves %s)", ErrSecretRefused, ref.Service(), strings.Join(services, ", ")))
	}
	for _, rule := range rules {
		if rule == nil {
			continue
		}
		if err := rule(tenantID, ref); err != nil {
			if !errors.Is(err, ErrSecretRefused) {
				err = fmt.Errorf("%w: %w", ErrSecretRefused, err)
			}
			return fault.Permanent(err)
		}
	}
	return nil
}

// SecretsBySource resolves each reference with the Secrets of its kind:
// Secrets Manager and Parameter Store references with AWS (an
// *AWSSecrets), file references with File (a *FileSecrets). A nil member
// refuses its kind with a permanent error. It is for embedders whose
// tenants may use both kinds.
type SecretsBySource struct {
	AWS  Secrets
	File Secrets
}

// Secret resolves ref with the member of its kind.
func (s SecretsBySource) Secret(ctx context.Context, tenantID string, ref SecretRef) (Secret, error) {
	var r Secrets
	switch ref.Service() {
	case ServiceSecretsManager, ServiceSSM:
		r = s.AWS
	case ServiceFile:
		r = s.File
	}
	if r == nil {
		kind := ref.Service()
		if kind == "" {
			kind = "empty"
		}
		return Secret{}, fault.Permanent(&SecretError{TenantID: tenantID, Ref: ref,
			Err: fmt.Errorf("%w: no resolver for %s references is configured", ErrSecretRefused, kind)})
	}
	return r.Secret(ctx, tenantID, ref)
}
