// Package cloudformation holds the CloudFormation template of the Lambda
// deployment (template.yaml): the central bucket, its notifications
// through SNS to an SQS queue with a dead-letter queue, the function and
// its event source mapping (ReportBatchItemFailures), the tenant
// configuration and identity tables, the roles of examples/iam, and
// alarms.
//
// Its tests check the template against the CloudFormation resource
// specification (the JSON schema of github.com/awslabs/goformation) and
// against the rest of the repository: the policies are those of
// examples/iam, the tables those of tenant/dynamostore, the alarms watch
// metrics package metrics emits. internal/e2e deploys it into moto and
// delivers through what it created.
//
// It is plain CloudFormation: a SAM template (Transform:
// AWS::Serverless-2016-10-31) would be shorter, but moto implements no
// transforms, and the tests deploy this very file.
package cloudformation
