package tenant

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Identity is what the platform operator decides about a tenant, kept
// apart from the delivery configs the tenant may edit: the AWS accounts
// the tenant's destinations may live in and the ExternalId its roles
// expect. A tenant can never write its identity; the processor and the
// configuration API read it to refuse a config that names a role or a
// bucket of any other account (the confused deputy: tenant A pointing its
// config at tenant B's role or bucket).
type Identity struct {
	TenantID string `json:"tenant_id"`
	// Accounts are the 12-digit ids of the AWS accounts the tenant's
	// destinations may be in: the accounts of its roles and of its buckets'
	// owners. At least one.
	Accounts []string `json:"accounts"`
	// ExternalID is the ExternalId the processor presents to the tenant's
	// roles, issued by the operator. Empty: the processor derives one from
	// the tenant id under an operator key (credentials.ExternalIDs), unique
	// per tenant and unguessable without the key.
	ExternalID string `json:"external_id,omitempty"`
	// CreatedAt and UpdatedAt are RFC 3339 timestamps set by stores.
	CreatedAt string `json:"created_at,omitempty"`
	UpdatedAt string `json:"updated_at,omitempty"`
}

// ErrNoIdentity is wrapped by IdentityStore errors for a tenant the
// operator recorded no identity for.
var ErrNoIdentity = errors.New("tenant has no identity record")

// IdentityStore looks up tenants' identities. It is all the processor and
// the configuration API need of the operator's records.
type IdentityStore interface {
	// Identity returns the identity of the tenant, or an error wrapping
	// ErrNoIdentity when there is none. Other errors are the store's own
	// failures.
	Identity(ctx context.Context, tenantID string) (Identity, error)
}

var (
	accountIDPattern  = regexp.MustCompile(`^[0-9]{12}$`)
	externalIDPattern = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// Validate checks the identity and returns a *ValidationError listing every
// problem, or nil.
func (id Identity) Validate() error {
	var v validator
	v.tenantID(id.TenantID)
	if len(id.Accounts) == 0 {
		v.add("accounts", "needs at least one AWS account id")
	}
	for i, a := range id.Accounts {
		if !accountIDPattern.MatchString(a) {
			v.add(fmt.Sprintf("accounts[%d]", i), fmt.Sprintf("%q is not a 12-digit AWS account id", a))
		}
	}
	if e := id.ExternalID; e != "" && (len(e) < 2 || len(e) > 1224 || !externalIDPattern.MatchString(e)) {
		v.add("external_id", "must be 2 to 1224 characters of letters, digits and +=,.@:/-")
	}
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{TenantID: id.TenantID, Type: "(identity)", Problems: v.problems}
}

// HasAccount reports whether account is one of the tenant's accounts.
func (id Identity) HasAccount(account string) bool { return slices.Contains(id.Accounts, account) }

// AccountProblem returns the problem of a setting that reaches account,
// or "" when account is one of the tenant's.
func (id Identity) AccountProblem(account string) string {
	if id.HasAccount(account) {
		return ""
	}
	return fmt.Sprintf("account %s is not one of tenant %q's accounts (%s): a tenant's destinations must be in its own accounts",
		account, id.TenantID, strings.Join(id.Accounts, ", "))
}

// Clone returns a deep copy of id.
func (id Identity) Clone() Identity {
	id.Accounts = slices.Clone(id.Accounts)
	return id
}
