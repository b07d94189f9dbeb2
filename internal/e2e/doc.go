// Package e2e holds the end-to-end suite: the whole pipeline, as deployed,
// run against moto server.
//
// The tests start moto themselves (internal/mototest; they skip without it
// unless LOGDELIVERY_REQUIRE_MOTO=1) and build a production-like setup in
// it: a central bucket in account 123456789012 whose ObjectCreated
// notifications go to an SNS topic and on to an SQS queue with a
// dead-letter queue, the tenant configuration table in the seed schema
// written item by item, and tenants whose CloudWatch Logs groups and S3
// buckets live in accounts 222222222222 and 333333333333, reached through
// the central role and the tenants' roles. Vector-shaped objects go into
// the central bucket; the production Dispatcher (awsdispatch) runs in the
// SQS worker and in the Lambda handler, and the tests read back what each
// tenant received with that tenant's own credentials.
//
// The notifications are moto's own: the s3:TestEvent sent when the
// bucket's notification is configured, and the ObjectCreated event of
// every object written.
//
// The package has no code of its own: everything is in its tests.
package e2e
