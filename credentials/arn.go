package credentials

import (
	"fmt"
	"regexp"
)

// RoleARN is a parsed IAM role ARN:
// arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME.
type RoleARN struct {
	Partition string // aws, aws-cn, aws-us-gov, …
	Account   string // 12 digits
	Name      string // without its path
	ARN       string // as given
}

var roleARNPattern = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-[a-z]|aws-eusc):iam::([0-9]{12}):role/(?:[\x21-\x7e]*/)?([\w+=,.@-]{1,64})$`)

// ParseRoleARN parses an IAM role ARN. The error wraps
// ErrMalformedRoleARN and says what a role ARN looks like.
func ParseRoleARN(s string) (RoleARN, error) {
	if len(s) > 2048 {
		return RoleARN{}, fmt.Errorf("%w: longer than 2048 characters", ErrMalformedRoleARN)
	}
	m := roleARNPattern.FindStringSubmatch(s)
	if m == nil {
		return RoleARN{}, fmt.Errorf("%w: %q is not an IAM role ARN (arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME)", ErrMalformedRoleARN, s)
	}
	return RoleARN{Partition: m[1], Account: m[2], Name: m[3], ARN: s}, nil
}
