// Package iam holds the IAM documents of a deployment: the processor's
// execution role, the central log-distribution role (trust and
// permissions), a tenant's CloudWatch role (trust with the ExternalId
// condition, and permissions), a tenant bucket policy, the configuration
// API's role, the collector's role and the deployer's (table creation). Its
// tests check that they parse, allow every AWS operation the library
// issues, and name the roles the rest of the repository names (README,
// examples, deployment templates).
//
// Tenant roles are named LogDistributionRole, the seed's name, in the
// tenant's account (or CustomerLogDistribution…, the names of the local
// example): the central role may assume only roles of those names. The
// central role is ROSA-CentralLogDistributionRole-… and the processor's
// execution role log-delivery-processor; examples/deploy/cloudformation
// creates them with these names.
//
// The tenant role's trust policy requires the tenant's own ExternalId: the
// value the platform operator gives each tenant, recorded in its identity
// (tenant.Identity) or derived from the tenant id under the operator's key
// (credentials.ExternalIDs, values "ld-" and 32 characters). Never the
// central account id, which every tenant would share, and never a value
// the tenant chose: either lets one tenant's config assume another
// tenant's role.
//
// Tenant buckets should use Object Ownership "BucketOwnerEnforced" (the
// default for new buckets): the tenant then owns every delivered object.
// The deliverer still sends the bucket-owner-full-control ACL, for buckets
// with ACLs enabled; the policies do not require it, because the parts of a
// multipart copy cannot carry it.
package iam
