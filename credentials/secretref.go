package credentials

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/logdelivery/logdelivery/fault"
)

// The services of a SecretRef, as returned by SecretRef.Service.
const (
	ServiceSecretsManager = "secretsmanager" // AWS Secrets Manager
	ServiceSSM            = "ssm"            // AWS Systems Manager Parameter Store
	ServiceFile           = "file"           // a file of FileSecrets' directory
)

// ErrInvalidSecretRef is matched by errors.Is for every error of
// ParseSecretRef.
var ErrInvalidSecretRef = errors.New("invalid secret reference")

// SecretRefError says which part of a secret reference is wrong. Its
// message never quotes the reference whole: a tenant that pasted a secret
// where its reference belongs must not see it echoed into logs. It is
// permanent (errors.Is(err, fault.ErrPermanent)) and matches
// ErrInvalidSecretRef.
type SecretRefError struct {
	Part   string // the part that is wrong: "reference", "partition", "region", "secret name", ...
	Reason string // what is wrong with it
}

func (e *SecretRefError) Error() string {
	return fmt.Sprintf("invalid secret reference: %s: %s", e.Part, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidSecretRef) and errors.Is(err,
// fault.ErrPermanent) true.
func (e *SecretRefError) Is(target error) bool {
	return target == ErrInvalidSecretRef || target == fault.ErrPermanent
}

// Limits of the parts of a reference.
const (
	maxRefLen            = 2048
	maxSecretNameLen     = 519  // Secrets Manager's 512, and the ARN's suffix (-AbCdEf)
	maxParameterNameLen  = 1011 // Parameter Store's limit for a name with its path
	maxFileNameLen       = 1024
	maxSecretKeyLen      = 256
	secretsManagerMarker = "secret:"
	ssmMarker            = "parameter/"
)

var (
	partitionPattern = regexp.MustCompile(`^(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-[a-z]|aws-eusc)$`)
	// regionPattern accepts the shapes of AWS region names: us-east-1,
	// us-gov-west-1, us-iso-east-1, eusc-de-east-1, ...
	regionPattern  = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+){1,3}-[0-9]{1,2}$`)
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
)

// SecretRef is a parsed, valid reference to a secret: where its value is,
// never the value. Make one with ParseSecretRef; the zero SecretRef is no
// reference (IsZero). SecretRefs are comparable and can be map keys. The
// accepted forms are:
//
//	arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME[#KEY]
//	arn:PARTITION:ssm:REGION:ACCOUNT:parameter/NAME
//	file:NAME
//
// A Secrets Manager reference is the secret's ARN as the console and the
// API show it, usually ending in a 6-character suffix (NAME-AbCdEf); an ARN
// without the suffix is a partial ARN, which Secrets Manager resolves too.
// #KEY selects one key of a secret whose SecretString is a JSON object of
// strings. A Parameter Store reference names a String or SecureString
// parameter (fetched with decryption). A file reference names a file of
// the operator's directory given to NewFileSecrets: a relative slash path
// without empty, "." or ".." segments, backslashes or control characters.
type SecretRef struct {
	service   string
	partition string
	region    string
	account   string
	name      string
	key       string
}

// ParseSecretRef parses and validates a secret reference (see SecretRef for
// the forms). Errors are *SecretRefError, matching ErrInvalidSecretRef.
func ParseSecretRef(s string) (SecretRef, error) {
	switch {
	case s == "":
		return SecretRef{}, refErr("reference", "is empty")
	case len(s) > maxRefLen:
		return SecretRef{}, refErr("reference", fmt.Sprintf("is longer than %d bytes", maxRefLen))
	case !utf8.ValidString(s):
		return SecretRef{}, refErr("reference", "is not valid UTF-8")
	case strings.HasPrefix(s, "file:"):
		return parseFileRef(strings.TrimPrefix(s, "file:"))
	case strings.HasPrefix(s, "arn:"):
		return parseARNRef(s)
	}
	return SecretRef{}, refErr("reference", `must start with "arn:" (Secrets Manager or Parameter Store) or "file:"`)
}

func parseARNRef(s string) (SecretRef, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) < 6 {
		return SecretRef{}, refErr("reference", "is not an ARN of the form arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE")
	}
	r := SecretRef{partition: parts[1], service: parts[2], region: parts[3], account: parts[4]}
	resource := parts[5]
	if !partitionPattern.MatchString(r.partition) {
		return SecretRef{}, refErr("partition", quoteShort(r.partition)+" is not an AWS partition (aws, aws-cn, aws-us-gov, ...)")
	}
	if r.service != ServiceSecretsManager && r.service != ServiceSSM {
		return SecretRef{}, refErr("service", quoteShort(r.service)+` is not "secretsmanager" or "ssm"`)
	}
	if !regionPattern.MatchString(r.region) {
		return SecretRef{}, refErr("region", quoteShort(r.region)+" is not an AWS region name such as us-east-1")
	}
	if !accountPattern.MatchString(r.account) {
		return SecretRef{}, refErr("account", "must be a 12-digit AWS account id")
	}
	if r.service == ServiceSecretsManager {
		name, ok := strings.CutPrefix(resource, secretsManagerMarker)
		if !ok {
			return SecretRef{}, refErr("resource", `a Secrets Manager ARN must continue with "secret:NAME"`)
		}
		name, key, hasKey := strings.Cut(name, "#")
		if err := checkChars("secret name", name, maxSecretNameLen, isSecretNameChar, "letters, digits and /_+=.@-"); err != nil {
			return SecretRef{}, err
		}
		if hasKey {
			if err := checkKey(key); err != nil {
				return SecretRef{}, err
			}
		}
		r.name, r.key = name, key
		return r, nil
	}
	rest, ok := strings.CutPrefix(resource, ssmMarker)
	if !ok {
		return SecretRef{}, refErr("resource", `a Parameter Store ARN must continue with "parameter/NAME"`)
	}
	if strings.Contains(rest, "#") {
		return SecretRef{}, refErr("key", "#KEY selects a key of a Secrets Manager secret; Parameter Store references have none")
	}
	if err := checkChars("parameter name", rest, maxParameterNameLen, isParameterNameChar, "letters, digits and /_.-"); err != nil {
		return SecretRef{}, err
	}
	if err := checkSegments("parameter name", rest, false); err != nil {
		return SecretRef{}, err
	}
	// The ARN of a parameter in a hierarchy (/a/b) is parameter/a/b; that
	// of a parameter outside any (ab) is parameter/ab.
	if strings.Contains(rest, "/") {
		rest = "/" + rest
	}
	r.name = rest
	return r, nil
}

func parseFileRef(name string) (SecretRef, error) {
	if strings.HasPrefix(name, "/") {
		return SecretRef{}, refErr("file name", "must be relative to the secrets directory (no leading /)")
	}
	if err := checkChars("file name", name, maxFileNameLen, isFileNameChar, "no control characters or backslashes"); err != nil {
		return SecretRef{}, err
	}
	if err := checkSegments("file name", name, true); err != nil {
		return SecretRef{}, err
	}
	return SecretRef{service: ServiceFile, name: name}, nil
}

func checkKey(key string) error {
	switch {
	case key == "":
		return refErr("key", "is empty after #")
	case len(key) > maxSecretKeyLen:
		return refErr("key", fmt.Sprintf("is longer than %d bytes", maxSecretKeyLen))
	}
	for _, c := range key {
		if c < 0x20 || c == 0x7f {
			return refErr("key", "contains a control character")
		}
	}
	return nil
}

// checkChars checks that s is not empty, at most limit bytes long and made
// of characters for which ok is true.
func checkChars(part, s string, limit int, ok func(rune) bool, allowed string) error {
	switch {
	case s == "":
		return refErr(part, "is empty")
	case len(s) > limit:
		return refErr(part, fmt.Sprintf("is longer than %d bytes", limit))
	}
	for i, c := range s {
		if !ok(c) {
			return refErr(part, fmt.Sprintf("character %q at byte %d is not allowed (allowed: %s)", c, i, allowed))
		}
	}
	return nil
}

// checkSegments refuses empty segments of a slash path and, with noDots,
// "." and ".." segments.
func checkSegments(part, s string, noDots bool) error {
	for seg := range strings.SplitSeq(s, "/") {
		switch {
		case seg == "":
			return refErr(part, "has an empty path segment (a leading, trailing or double /)")
		case noDots && (seg == "." || seg == ".."):
			return refErr(part, `has a "." or ".." path segment`)
		}
	}
	return nil
}

func isSecretNameChar(c rune) bool {
	return isAlnum(c) || strings.ContainsRune("/_+=.@-", c)
}

func isParameterNameChar(c rune) bool {
	return isAlnum(c) || strings.ContainsRune("/_.-", c)
}

func isFileNameChar(c rune) bool {
	return c >= 0x20 && c != 0x7f && c != '\\'
}

func isAlnum(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func refErr(part, reason string) error {
	return &SecretRefError{Part: part, Reason: reason}
}

// quoteShort quotes s, cut to 32 bytes.
func quoteShort(s string) string {
	if len(s) > 32 {
		s = strings.ToValidUTF8(s[:32], "") + "..."
	}
	return fmt.Sprintf("%q", s)
}

// String returns the reference, in the form ParseSecretRef parsed: never a
// secret. It is "" for the zero SecretRef.
func (r SecretRef) String() string {
	switch r.service {
	case ServiceFile:
		return "file:" + r.name
	case ServiceSecretsManager, ServiceSSM:
		s := r.ARN()
		if r.key != "" {
			s += "#" + r.key
		}
		return s
	}
	return ""
}

// ARN returns the ARN of a Secrets Manager secret or Parameter Store
// parameter, without #KEY; "" for file references.
func (r SecretRef) ARN() string {
	prefix := "arn:" + r.partition + ":" + r.service + ":" + r.region + ":" + r.account + ":"
	switch r.service {
	case ServiceSecretsManager:
		return prefix + secretsManagerMarker + r.name
	case ServiceSSM:
		return prefix + ssmMarker + strings.TrimPrefix(r.name, "/")
	}
	return ""
}

// IsZero reports whether r is the zero SecretRef, no reference.
func (r SecretRef) IsZero() bool { return r == SecretRef{} }

// Service returns ServiceSecretsManager, ServiceSSM or ServiceFile ("" for
// the zero SecretRef).
func (r SecretRef) Service() string { return r.service }

// Partition returns the AWS partition of an ARN reference (aws, aws-cn,
// ...); "" for file references.
func (r SecretRef) Partition() string { return r.partition }

// Region returns the AWS region of an ARN reference; "" for file
// references.
func (r SecretRef) Region() string { return r.region }

// Account returns the AWS account id of an ARN reference; "" for file
// references.
func (r SecretRef) Account() string { return r.account }

// Name returns the secret's name as the reference gives it: for Secrets
// Manager the name in the ARN (with its suffix, if the ARN has one), for
// Parameter Store the parameter's name (/logdelivery/acme/token, with its
// leading slash when it is in a hierarchy), for a file its path relative
// to the secrets directory.
func (r SecretRef) Name() string { return r.name }

// Key returns the JSON key a Secrets Manager reference selects (its #KEY),
// or "" for the whole value.
func (r SecretRef) Key() string { return r.key }

// MarshalText returns the reference (String), so that SecretRefs can be
// fields of JSON and YAML configs.
func (r SecretRef) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses a reference with ParseSecretRef.
func (r *SecretRef) UnmarshalText(b []byte) error {
	ref, err := ParseSecretRef(string(b))
	if err != nil {
		return err
	}
	*r = ref
	return nil
}
