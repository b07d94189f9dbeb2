package credentials

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strings"
)

// ExternalIDs derives each tenant's ExternalId from its tenant id under an
// operator key: unique per tenant, stable, and unguessable by anyone
// without the key, tenants included, as AWS's guidance on the confused
// deputy asks of an ExternalId (unique per customer, never chosen by the
// customer). The operator hands each tenant its value (ExternalID) to put
// in its role's trust policy.
type ExternalIDs struct {
	key []byte
}

// MinExternalIDKey is the shortest key NewExternalIDs accepts, in bytes.
const MinExternalIDKey = 32

// NewExternalIDs returns the derivation under key, which must be at least
// MinExternalIDKey random bytes kept as a secret of the platform (a
// Secrets Manager secret, not a config).
func NewExternalIDs(key []byte) (*ExternalIDs, error) {
	if len(key) < MinExternalIDKey {
		return nil, errors.New("credentials: the ExternalId key needs at least 32 bytes")
	}
	return &ExternalIDs{key: append([]byte(nil), key...)}, nil
}

// ExternalID returns the ExternalId of tenantID: "ld-" and 32 characters
// of base32 (160 bits of HMAC-SHA256), within STS's ExternalId alphabet.
func (x *ExternalIDs) ExternalID(tenantID string) string {
	m := hmac.New(sha256.New, x.key)
	m.Write([]byte("logdelivery external id\x00"))
	m.Write([]byte(tenantID))
	sum := m.Sum(nil)[:20]
	return "ld-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum))
}
