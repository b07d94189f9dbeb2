package configapi

import (
	"errors"
	"fmt"
	"strings"

	"github.com/logdelivery/logdelivery/tenant"
)

// ProblemTypePrefix prefixes every Problem.Type this package produces. The
// rest of the URI is one of the ProblemType constants.
const ProblemTypePrefix = "urn:logdelivery:problem:"

// Problem types: the stable part of Problem.Type after ProblemTypePrefix.
const (
	ProblemBadRequest           = "bad-request"            // 400: malformed JSON, unknown field, bad parameter
	ProblemInvalidCursor        = "invalid-cursor"         // 400: a list cursor the server did not issue
	ProblemUnauthorized         = "unauthorized"           // 401: missing or invalid request signature
	ProblemForbidden            = "forbidden"              // 403: the authorization hook refused
	ProblemNotFound             = "not-found"              // 404
	ProblemMethodNotAllowed     = "method-not-allowed"     // 405
	ProblemExists               = "exists"                 // 409: POST of a config that exists
	ProblemConcurrentChange     = "concurrent-change"      // 409: PATCH lost a race with other writers
	ProblemPreconditionFailed   = "precondition-failed"    // 412: If-Match does not match
	ProblemBodyTooLarge         = "body-too-large"         // 413
	ProblemUnsupportedMediaType = "unsupported-media-type" // 415
	ProblemValidation           = "validation"             // 422: Errors lists every invalid field
	ProblemPreconditionRequired = "precondition-required"  // 428: If-Match is required and missing
	ProblemRateLimited          = "rate-limited"           // 429: the key id is over its rate limit (Retry-After says when to retry)
	ProblemInternal             = "internal"               // 500: details are in the server's log only
	ProblemUnavailable          = "unavailable"            // 503: the server cannot serve the request now
)

// Problem is an RFC 9457 problem document: the body of every error response
// of the Handler, and the error the Client returns for them.
//
// Use errors.Is with tenant.ErrNotFound (404), tenant.ErrExists (409 on
// create), tenant.ErrConflict (412), tenant.ErrInvalidConfig (422),
// tenant.ErrInvalidCursor, ErrUnauthenticated (401) and ErrForbidden (403);
// errors.As with **tenant.ValidationError gives the invalid fields of a 422.
type Problem struct {
	// Type is a URI identifying the kind of problem: ProblemTypePrefix
	// followed by one of the Problem* constants.
	Type string `json:"type"`
	// Title is a short, human-readable summary of the kind of problem.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence of the problem.
	Detail string `json:"detail,omitempty"`
	// Instance is the request path the problem occurred on.
	Instance string `json:"instance,omitempty"`
	// Errors lists every invalid field (422) or parameter (400).
	Errors []tenant.FieldError `json:"errors,omitempty"`
}

// Kind returns the part of Type after ProblemTypePrefix ("" for problems of
// other origins).
func (p *Problem) Kind() string {
	kind, ok := strings.CutPrefix(p.Type, ProblemTypePrefix)
	if !ok {
		return ""
	}
	return kind
}

func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "configapi: %d %s", p.Status, p.Title)
	if p.Detail != "" {
		b.WriteString(": ")
		b.WriteString(p.Detail)
	}
	for i, e := range p.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Is maps the problem to the tenant store's sentinel errors and to this
// package's ErrUnauthenticated and ErrForbidden.
// Problems of other origins (a proxy's error page) are matched by status.
func (p *Problem) Is(target error) bool {
	kind := p.Kind()
	if kind == "" {
		switch p.Status {
		case 404:
			kind = ProblemNotFound
		case 412:
			kind = ProblemPreconditionFailed
		case 422:
			kind = ProblemValidation
		}
	}
	switch target {
	case tenant.ErrNotFound:
		return kind == ProblemNotFound
	case tenant.ErrExists:
		return kind == ProblemExists
	case tenant.ErrConflict:
		return kind == ProblemPreconditionFailed || kind == ProblemConcurrentChange
	case tenant.ErrInvalidConfig:
		return kind == ProblemValidation
	case tenant.ErrInvalidCursor:
		return kind == ProblemInvalidCursor
	case ErrUnauthenticated:
		return p.Status == 401
	case ErrForbidden:
		return p.Status == 403
	}
	return false
}

// As fills a **tenant.ValidationError from a 422 problem.
func (p *Problem) As(target any) bool {
	ve, ok := target.(**tenant.ValidationError)
	if !ok || p.Kind() != ProblemValidation {
		return false
	}
	*ve = &tenant.ValidationError{Problems: append([]tenant.FieldError(nil), p.Errors...)}
	return true
}

// ErrForbidden is matched by errors.Is for 403 problems. Authorizers may
// return it (or any other error) to refuse a request.
var ErrForbidden = errors.New("configapi: forbidden")

// problemTitles holds the Title of each problem type.
var problemTitles = map[string]string{
	ProblemBadRequest:           "Malformed request",
	ProblemInvalidCursor:        "Invalid list cursor",
	ProblemUnauthorized:         "Authentication required",
	ProblemForbidden:            "Forbidden",
	ProblemNotFound:             "Not found",
	ProblemMethodNotAllowed:     "Method not allowed",
	ProblemExists:               "Delivery config already exists",
	ProblemConcurrentChange:     "Delivery config changed concurrently",
	ProblemPreconditionFailed:   "Precondition failed",
	ProblemBodyTooLarge:         "Request body too large",
	ProblemUnsupportedMediaType: "Unsupported media type",
	ProblemValidation:           "Invalid delivery config",
	ProblemPreconditionRequired: "Precondition required",
	ProblemRateLimited:          "Too many requests",
	ProblemInternal:             "Internal server error",
	ProblemUnavailable:          "Service unavailable",
}

// problemStatus holds the HTTP status of each problem type.
var problemStatus = map[string]int{
	ProblemBadRequest:           400,
	ProblemInvalidCursor:        400,
	ProblemUnauthorized:         401,
	ProblemForbidden:            403,
	ProblemNotFound:             404,
	ProblemMethodNotAllowed:     405,
	ProblemExists:               409,
	ProblemConcurrentChange:     409,
	ProblemPreconditionFailed:   412,
	ProblemBodyTooLarge:         413,
	ProblemUnsupportedMediaType: 415,
	ProblemValidation:           422,
	ProblemPreconditionRequired: 428,
	ProblemRateLimited:          429,
	ProblemInternal:             500,
	ProblemUnavailable:          503,
}

// newProblem returns a problem of the given kind.
func newProblem(kind, detail string, fieldErrs ...tenant.FieldError) *Problem {
	return &Problem{
		Type:   ProblemTypePrefix + kind,
		Title:  problemTitles[kind],
		Status: problemStatus[kind],
		Detail: detail,
		Errors: fieldErrs,
	}
}
