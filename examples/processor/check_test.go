package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery/internal/mototest"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// runProcess runs the processor with args and returns its stdout and exit
// code.
func runProcess(t *testing.T, env map[string]string, args ...string) (string, int) {
	t.Helper()
	cmd := processorProcess(t, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return stdout.String(), exit.ExitCode()
	}
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	return stdout.String(), 0
}

// -check passes on a sound deployment and names each problem of a broken
// one on a line of its own, exiting 1: a misspelled table, a queue that
// does not exist, a malformed central role.
func TestCheckOnMoto(t *testing.T) {
	srv := mototest.Start(t)
	env := motoTenant(t, srv)
	q, err := sqs.NewFromConfig(srv.Config()).CreateQueue(mototest.Context(t), &sqs.CreateQueueInput{QueueName: aws.String("notifications")})
	require.NoError(t, err)
	env["SQS_QUEUE_URL"] = aws.ToString(q.QueueUrl)

	env["CHECK_KEY"] = "c1/acme/payment/pod-1/1.json.gz"
	out, code := runProcess(t, env, "-check")
	assert.Equal(t, 0, code, out)
	assert.Equal(t, "ok   tenant config table \"configs\"\n"+
		"ok   central role arn:aws:iam::123456789012:role/CentralLogDistributionRole\n"+
		"ok   queue "+env["SQS_QUEUE_URL"]+"\n"+
		"ok   sample tenant acme: 1 configs, 1 would receive c1/acme/payment/pod-1/1.json.gz (and can reach it), 0 would not\n", out)

	// A config the processor cannot use is a problem of the sample tenant.
	_, err = dynamostore.New(dynamodb.NewFromConfig(srv.Config()), "configs").Create(mototest.Context(t), tenant.DeliveryConfig{
		TenantID: "acme", Type: "s3:archive", Settings: map[string]any{"bucket_name": "acme-archive", "bucket_prefx": "x/"}})
	require.NoError(t, err)
	out, code = runProcess(t, env, "-check")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "FAIL sample tenant acme, config s3:archive: ")
	assert.Contains(t, out, "bucket_prefx")
	assert.Contains(t, out, "1 of 4 checks failed")
	delete(env, "CHECK_KEY")

	out, code = runProcess(t, env, "-mode", "explain", "s3://central/c1/acme/payment/pod-1/1.json.gz")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "tenant:  acme\n")
	assert.Contains(t, out, "deliver: cloudwatch [records: all]: selected\n")

	env["TENANT_CONFIG_TABLE"] = "confgis"
	env["SQS_QUEUE_URL"] = strings.Replace(env["SQS_QUEUE_URL"], "notifications", "notificatons", 1)
	env["FAILURE_QUEUE_URL"] = aws.ToString(q.QueueUrl)
	env["CENTRAL_LOG_DISTRIBUTION_ROLE_ARN"] = "arn:aws:iam::123456789012:CentralLogDistributionRole"
	out, code = runProcess(t, env, "-mode", "check")
	assert.Equal(t, 1, code, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5, out)
	assert.Regexp(t, `^FAIL tenant config table "confgis": no such table in us-east-1 .*ResourceNotFoundException`, lines[0])
	assert.Regexp(t, `^FAIL central role arn:aws:iam::123456789012:CentralLogDistributionRole: .*malformed`, lines[1])
	assert.Regexp(t, `^FAIL queue .*notificatons: reading its attributes: .*NonExistentQueue`, lines[2])
	assert.Equal(t, "ok   failure queue "+aws.ToString(q.QueueUrl), lines[3])
	assert.Equal(t, "3 of 4 checks failed", lines[4])
}
