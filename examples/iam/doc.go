// Package iam holds the IAM documents of a deployment: the processor's
// execution role, the central log-distribution role (trust and
// permissions), a tenant's CloudWatch role (trust with the ExternalId
// condition, and permissions), a tenant bucket policy, the configuration
// API's role, the collector's role and the deployer's (table creation). Its test checks that they parse and
// allow every AWS operation the library issues.
//
// Tenant buckets should use Object Ownership "BucketOwnerEnforced" (the
// default for new buckets): the tenant then owns every delivered object.
// The deliverer still sends the bucket-owner-full-control ACL, for buckets
// with ACLs enabled; the policies do not require it, because the parts of a
// multipart copy cannot carry it.
package iam
