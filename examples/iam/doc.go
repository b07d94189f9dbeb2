// Package iam holds the IAM documents of a deployment: the processor's
// execution role, the central log-distribution role (trust and
// permissions), a tenant's CloudWatch role (trust with the ExternalId
// condition, and permissions), a tenant bucket policy, the configuration
// API's role, the collector's role and the deployer's (table creation). Its test checks that they parse and
// allow every AWS operation the library issues.
package iam
