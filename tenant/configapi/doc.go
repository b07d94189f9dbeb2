// Package configapi is the tenant configuration API: an http.Handler that
// serves tenants' delivery configurations from any tenant.Store, the
// request-signing middleware that guards it, and a Go Client.
//
// # Endpoints
//
//	GET    /healthz                                              no authentication
//	GET    /openapi.json                                         no authentication
//	GET    /delivery-configs?limit=&cursor=                      every tenant, paginated
//	GET    /tenants/{tenant_id}/delivery-configs                 one tenant's configs
//	POST   /tenants/{tenant_id}/delivery-configs                 create (409 if it exists)
//	GET    /tenants/{tenant_id}/delivery-configs/{type}          one config
//	PUT    /tenants/{tenant_id}/delivery-configs/{type}          full replace
//	PATCH  /tenants/{tenant_id}/delivery-configs/{type}          JSON Merge Patch (RFC 7396)
//	DELETE /tenants/{tenant_id}/delivery-configs/{type}
//	GET    /tenants/{tenant_id}/delivery-configs/{type}/validate every check and its outcome
//
// The same route table registers the ServeMux patterns and generates the
// OpenAPI 3.1 document served at /openapi.json.
//
// # Behaviour
//
// Bodies are decoded strictly: one JSON object, member names spelt exactly
// as the DynamoDB item's, values of the right JSON type, nothing after it;
// anything else is 400. POST and PUT take application/json, PATCH
// application/merge-patch+json (415 otherwise). Bodies above
// Options.MaxBodyBytes get 413. A POST body must carry type; tenant_id and
// (for PUT) type may be omitted and otherwise must match the path. PATCH
// merges the patch into the stored config's JSON; the result is decoded and
// validated as a whole, so a patch setting a required field to null gets
// 422. Validation is tenant.DeliveryConfig.Validate, the processor's own
// rules; a 422 lists every invalid field. created_at and updated_at are
// set by the store: values sent are ignored.
//
// Every response about one config carries an ETag derived from its
// updated_at. PUT, PATCH and DELETE honour If-Match (strong comparison,
// "*" and lists allowed): the store checks the version atomically with the
// write, and a mismatch is 412. With Options.RequireIfMatch, a missing
// If-Match is 428. PATCH always guards its read-modify-write with the
// version it read, so it never loses a concurrent change.
//
// Every error is an RFC 9457 application/problem+json document (see
// Problem) whose type is ProblemTypePrefix followed by a stable kind.
// Internal errors are logged with a reference and answered with a generic
// 500 naming only the reference.
//
// # Authentication and authorization
//
// New takes an Authenticator; the built-in one, NewHMAC, verifies the
// LD-HMAC-SHA256 request-signing scheme. A signed request carries
//
//	X-LD-Date: 2026-11-21T19:41:49Z                 RFC 3339, UTC
//	X-LD-Nonce: 3q2-7wZ0S9ePj1vQ0nN4xA              16-128 of [A-Za-z0-9_-], unique
//	Authorization: LD-HMAC-SHA256 KeyId=ops-2026, Signature=<64 hex digits>
//
// The signature is the hex HMAC-SHA256, keyed with the key id's secret, of
// these lines joined by "\n":
//
//	LD-HMAC-SHA256
//	METHOD                        e.g. PATCH
//	host                          the Host header, lower case (HMACOptions.Host behind a rewriting proxy)
//	canonical path                each segment percent-decoded, then re-encoded
//	canonical query               sorted by name (a repeated name's values in the order sent), "name=value" joined by "&"
//	key id                        as in Authorization
//	X-LD-Date value               as sent
//	X-LD-Nonce value              as sent
//	If-Match value                as sent, empty when absent
//	hex(SHA-256(body))            of the empty string when there is no body
//
// SigningDescription renders this list from the very table the verifier
// signs (it is the OpenAPI document's description of the scheme), and
// Vector is a worked example: inputs, string signed and signature.
//
// Canonical encoding keeps only A-Z, a-z, 0-9, '-', '.', '_' and '~' and
// percent-encodes every other byte with upper-case hex ("s3:archive"
// becomes "s3%3Aarchive"); a query "+" means a space. The path is the one
// in the request line, before any http.StripPrefix, so the handler can be
// mounted under a prefix.
//
// The server checks, in this order, from the stateless checks to those
// that keep state, so that only requests signed with a key's secret can
// use that key's budgets:
//
//  1. the signature headers parse (401 otherwise);
//  2. the timestamp is at most HMACOptions.Window (5 minutes) behind its
//     clock and at most HMACOptions.FutureSkew (1 minute) ahead (401);
//  3. the key id is known and the signature matches, compared with
//     hmac.Equal (401, the same text for both);
//  4. the key id is within its rate limit: a token bucket of
//     HMACOptions.Burst (50) requests refilled at HMACOptions.Rate (10 a
//     second); over it, 429 with Retry-After, and nothing is stored;
//  5. the nonce is new for the key id (401 otherwise; a replay does not
//     count against the rate limit), and is remembered until the
//     timestamp has left the window, plus HMACOptions.NonceMargin.
//
// Nonces are remembered in a NonceCache: MemoryNonceCache for one process,
// or a shared implementation for a fleet. MemoryNonceCache bounds each key
// id's nonces, not all of them together: by default to what a key within
// its rate limit can have accepted while a nonce lives (4,250 at the
// default options), so one key never makes the server refuse another's
// requests. As state is kept for verified key ids only, memory is bounded
// by the number of keys in the KeyStore: under a megabyte each at the
// defaults. Keys rotate through key ids: add the new id to the KeyStore,
// move clients to it, then remove the old one.
//
// # Compatibility with the reference implementation
//
// Options.Mode = ModeReference serves instead the contract of the
// reference implementation's configuration API under /api/v1, for its
// clients (see ModeReference), and NewReferenceHMAC verifies its request
// signing, with replay protection of writes added. Options.PathPrefix
// serves either mode below a prefix. docs/migration.md lists every
// difference.
//
// After authentication, Options.Authorizer decides whether the Principal
// may perform an Action (read, write, list) on a tenant's configs; a
// refusal is 403.
package configapi
