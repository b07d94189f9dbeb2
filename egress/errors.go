package egress

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/logdelivery/logdelivery/fault"
)

// ErrRefused is matched by errors.Is on every *RefusedError.
var ErrRefused = errors.New("egress: refused")

// RefusedError reports a URL, host name or address the Policy refuses. It
// is permanent: errors.Is(err, fault.ErrPermanent) and
// errors.Is(err, ErrRefused) are both true.
//
// Its message never includes the whole URL, which may hold credentials
// or tokens; it names the host and the rule.
type RefusedError struct {
	// Host is the host of the URL or of the address dialed, lower-cased;
	// empty when the URL was refused before its host could be found.
	Host string
	// Addr is the refused address: the host itself for an IP literal, or
	// one the host name resolved to. It is the zero Addr when the rule is
	// about the URL or the name.
	Addr netip.Addr
	// Rule says what is refused, for example
	// "a private address (RFC 1918)" or "userinfo is not allowed".
	Rule string

	resolved bool // Addr is a resolution of the name Host
}

// Error returns a message naming the host, the address and the rule.
func (e *RefusedError) Error() string {
	switch {
	case e.Addr.IsValid() && e.resolved:
		return fmt.Sprintf("egress: host %q resolves to %s, %s", e.Host, e.Addr, e.Rule)
	case e.Addr.IsValid():
		return fmt.Sprintf("egress: host %q is %s", e.Host, e.Rule)
	case e.Host != "":
		return fmt.Sprintf("egress: host %q: %s", e.Host, e.Rule)
	default:
		return "egress: URL refused: " + e.Rule
	}
}

// Is reports whether target is ErrRefused or fault.ErrPermanent.
func (e *RefusedError) Is(target error) bool {
	return target == ErrRefused || target == fault.ErrPermanent
}

// refuseURL returns a RefusedError for a rule about the URL itself.
func refuseURL(format string, args ...any) error {
	return &RefusedError{Rule: fmt.Sprintf(format, args...)}
}

// refuseHost returns a RefusedError for a rule about host.
func refuseHost(host, format string, args ...any) error {
	return &RefusedError{Host: host, Rule: fmt.Sprintf(format, args...)}
}

// policyError reports an invalid Policy: the operator's error, retryable
// by the module's rule (an unclassified error), so that a configuration
// API answers it with a 5xx rather than blaming the tenant.
func policyError(format string, args ...any) error {
	return fault.Retryable(fmt.Errorf("egress: invalid policy: "+format, args...))
}
