package e2e

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/logdelivery/logdelivery"
	deliverS3 "github.com/logdelivery/logdelivery/deliver/s3"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/internal/mototest"
)

// outcome names a result the way the scenario states expectations.
func outcome(r logdelivery.Result) string {
	switch r.Outcome {
	case logdelivery.Delivered:
		return delivered
	case logdelivery.Skipped:
		switch r.Reason {
		case logdelivery.ReasonFiltered:
			return filtered
		case logdelivery.ReasonDisabled:
			return disabled
		case logdelivery.ReasonNoConfig:
			return noConfig
		}
		return "skipped: " + r.Reason
	case logdelivery.Failed:
		if r.Retryable() {
			return failedRetryable
		}
		return failedPermanent
	}
	return r.Outcome.String()
}

// wantResults returns the results an object must get from one dispatch,
// as "destination: outcome".
func (sc *scenario) wantResults(o *object) []string {
	if o.cw == noConfig {
		return []string{": " + noConfig}
	}
	var want []string
	if _, ok := sc.cwDest(o.namespace); ok {
		want = append(want, "cloudwatch: "+o.cw)
	}
	if _, ok := sc.s3Dest(o.namespace); ok {
		want = append(want, "s3: "+o.s3)
	}
	return want
}

// checkResults checks what the Dispatcher reported: for each object the
// results of dispatches(o) dispatches, nothing for anything else, and
// failures classified with the cause an operator needs.
func (e *env) checkResults(dispatches func(*object) int) {
	t := e.t
	t.Helper()
	byKey := map[string][]string{}
	for _, r := range e.results.all() {
		byKey[r.Object.Key] = append(byKey[r.Object.Key], r.Destination+": "+outcome(r))
		switch outcome(r) {
		case failedPermanent:
			assert.ErrorIs(t, r.Err, fault.ErrPermanent)
			assert.ErrorContains(t, r.Err, "NoSuchBucket", "the permanent failure names its cause")
		case failedRetryable:
			assert.True(t, fault.IsRetryable(r.Err), "%v", r.Err)
			assert.ErrorContains(t, r.Err, "Throttling", "the retryable failure names its cause")
		}
	}
	for _, o := range e.sc.objects {
		var want []string
		for range dispatches(o) {
			want = append(want, e.sc.wantResults(o)...)
		}
		got := byKey[o.key]
		slices.Sort(want)
		slices.Sort(got)
		assert.Equal(t, want, got, "results of %s", o.key)
		delete(byKey, o.key)
	}
	assert.Empty(t, byKey, "results for objects nobody wrote")
}

// wantStreams returns the events each stream of a tenant's log group must
// hold: every event of every object delivered there, in timestamp order.
func (sc *scenario) wantStreams(tenantID string) map[string][]event {
	want := map[string][]event{}
	for _, o := range sc.objects {
		if o.namespace == tenantID && o.cw == delivered {
			stream := o.cluster + "/" + o.app + "/" + o.pod // cloudwatch.DefaultStreamTemplate
			want[stream] = append(want[stream], o.events...)
		}
	}
	for _, evs := range want {
		slices.SortStableFunc(evs, func(a, b event) int { return cmp.Compare(a.ms, b.ms) })
	}
	return want
}

// checkCloudWatch reads every tenant's log group with the tenant account's
// credentials: exactly the expected streams, each with every event once,
// in timestamp order, messages unchanged.
func (e *env) checkCloudWatch() {
	t := e.t
	t.Helper()
	for _, d := range e.sc.cw {
		logs := e.logs(d)
		want := e.sc.wantStreams(d.tenant)
		var streams []string
		p := cloudwatchlogs.NewDescribeLogStreamsPaginator(logs, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String(d.group)})
		for p.HasMorePages() {
			out, err := p.NextPage(e.ctx)
			require.NoError(t, err)
			for _, s := range out.LogStreams {
				streams = append(streams, aws.ToString(s.LogStreamName))
			}
		}
		slices.Sort(streams)
		require.Equal(t, slices.Sorted(maps.Keys(want)), streams, "streams of %s's group %s in %s", d.tenant, d.group, d.account)

		for stream, wantEvents := range want {
			got := e.readStream(logs, d.group, stream)
			assert.True(t, slices.IsSortedFunc(got, func(a, b event) int { return cmp.Compare(a.ms, b.ms) }), "stream %s in timestamp order", stream)
			if !assert.Equal(t, len(wantEvents), len(got), "events in %s/%s", d.group, stream) {
				continue
			}
			for i := range wantEvents {
				if !assert.Equal(t, wantEvents[i], got[i], "event %d of %s/%s", i, d.group, stream) {
					break
				}
			}
		}
	}
}

func (e *env) readStream(logs *cloudwatchlogs.Client, group, stream string) []event {
	var got []event
	var token *string
	for {
		out, err := logs.GetLogEvents(e.ctx, &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String(group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true), NextToken: token,
		})
		require.NoError(e.t, err)
		for _, ev := range out.Events {
			got = append(got, event{ms: aws.ToInt64(ev.Timestamp), message: aws.ToString(ev.Message)})
		}
		if len(out.Events) == 0 || (token != nil && aws.ToString(out.NextForwardToken) == *token) {
			return got
		}
		token = out.NextForwardToken
	}
}

// checkS3 reads every tenant bucket with the tenant account's credentials:
// exactly the expected keys, each object byte-identical to its source with
// the traceability metadata, Content-Type and Content-Encoding. A bucket
// that did not exist still does not.
func (e *env) checkS3(since time.Time) {
	t := e.t
	t.Helper()
	for _, d := range e.sc.s3 {
		client := e.tenantS3(d.account)
		if !d.exists {
			_, err := client.HeadBucket(e.ctx, &s3.HeadBucketInput{Bucket: aws.String(d.bucket)})
			require.Error(t, err, "bucket %s was never created", d.bucket)
			continue
		}
		want := map[string]*object{}
		for _, o := range e.sc.objects {
			if o.namespace == d.tenant && o.s3 == delivered {
				want[fmt.Sprintf("%s%s/%s/%s/%s/%s", d.prefix, d.tenant, o.cluster, o.app, o.pod, path.Base(o.key))] = o
			}
		}
		var keys []string
		p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(d.bucket)})
		for p.HasMorePages() {
			out, err := p.NextPage(e.ctx)
			require.NoError(t, err)
			for _, o := range out.Contents {
				keys = append(keys, aws.ToString(o.Key))
			}
		}
		slices.Sort(keys)
		require.Equal(t, slices.Sorted(maps.Keys(want)), keys, "objects in %s (account %s)", d.bucket, d.account)

		for key, o := range want {
			out, err := client.GetObject(e.ctx, &s3.GetObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(key)})
			require.NoError(t, err)
			body, err := io.ReadAll(out.Body)
			out.Body.Close()
			require.NoError(t, err)
			assert.True(t, bytes.Equal(o.body, body), "s3://%s/%s is byte-identical to its source", d.bucket, key)
			assert.Equal(t, "gzip", aws.ToString(out.ContentEncoding), "Content-Encoding of %s", key)
			assert.Equal(t, contentType, aws.ToString(out.ContentType), "Content-Type of %s", key)
			at, err := time.Parse(time.RFC3339, out.Metadata[deliverS3.MetaDeliveredAt])
			if assert.NoError(t, err, "delivered-at of %s", key) {
				assert.False(t, at.Before(since.Truncate(time.Second)) || at.After(time.Now()), "delivered-at %s of %s within the run", at, key)
			}
			assert.NotEqual(t, s3types.ServerSideEncryptionAwsKms, out.ServerSideEncryption,
				"%s: no kms_key_id in the config, so the bucket's default encryption applies", key)
			delete(out.Metadata, deliverS3.MetaDeliveredAt)
			assert.Equal(t, map[string]string{
				deliverS3.MetaSourceBucket: centralBucket,
				deliverS3.MetaSourceKey:    o.key,
				deliverS3.MetaTenant:       o.namespace,
				deliverS3.MetaCluster:      o.cluster,
				deliverS3.MetaApplication:  o.app,
				deliverS3.MetaPod:          o.pod,
			}, out.Metadata, "traceability metadata of %s", key)
		}
	}
}

// checkRoleChains checks how the processor reached the tenants: the
// central role assumed with the processor's own credentials once per
// region, each tenant role it needed assumed once with the central role's
// credentials and the tenant's ExternalId; every CloudWatch Logs request
// signed with the credentials of the role of the tenant whose group it
// writes, every S3 copy with the central role's. Throttled roles are asked
// again on every attempt and are only checked for their ExternalId and
// signer.
func (e *env) checkRoleChains() {
	t := e.t
	t.Helper()
	assumes, issued, requests := e.tap.snapshot()

	var want []assumeRole
	regions := map[string]bool{}
	for _, d := range e.sc.cw {
		used := false
		for _, o := range e.sc.objects {
			used = used || o.namespace == d.tenant && (o.cw == delivered || o.cw == failedRetryable)
		}
		if !used {
			continue
		}
		regions[d.region] = true
		if !slices.Contains(e.sc.throttled, d.role) {
			want = append(want, assumeRole{region: d.region, role: d.role, externalID: d.externalID, session: "logdelivery-" + d.tenant})
		}
	}
	copies := false
	for _, o := range e.sc.objects {
		copies = copies || o.s3 == delivered || o.s3 == failedPermanent
	}
	regions[mototest.Region] = regions[mototest.Region] || copies
	for r, used := range regions {
		if used {
			want = append(want, assumeRole{region: r, role: centralRole, session: "logdelivery"})
		}
	}

	var got []assumeRole
	for _, c := range assumes {
		if c.role == centralRole {
			assert.Equal(t, "testing", c.signer, "the central role is assumed with the processor's credentials")
		} else {
			assert.Equal(t, centralRole, issued[c.signer], "tenant role %s is assumed with the central role's credentials", c.role)
		}
		if slices.Contains(e.sc.throttled, c.role) {
			d, _ := e.sc.cwDest(tenantOfRole(e.sc, c.role))
			assert.Equal(t, d.externalID, c.externalID, "ExternalId sent for throttled role %s", c.role)
			continue
		}
		c.signer = ""
		got = append(got, c)
	}
	byAll := func(a, b assumeRole) int {
		return cmp.Or(cmp.Compare(a.region, b.region), cmp.Compare(a.role, b.role), cmp.Compare(a.externalID, b.externalID), cmp.Compare(a.session, b.session))
	}
	slices.SortFunc(want, byAll)
	slices.SortFunc(got, byAll)
	assert.Equal(t, want, got, "AssumeRole calls: each chain once, cached")

	groupRole := map[string]string{}
	for _, d := range e.sc.cw {
		groupRole[d.group] = d.role
	}
	seen := map[string]int{}
	for _, r := range requests {
		seen[r.service]++
		switch r.service {
		case "logs":
			assert.Equal(t, groupRole[r.group], issued[r.signer], "CloudWatch Logs request to group %q signed with its tenant's role", r.group)
		case "s3":
			assert.Equal(t, centralRole, issued[r.signer], "S3 copy signed with the central role")
		}
	}
	for _, o := range e.sc.objects {
		if o.cw == delivered {
			assert.NotZero(t, seen["logs"], "CloudWatch Logs requests seen")
		}
		if o.s3 == delivered {
			assert.NotZero(t, seen["s3"], "S3 copies seen")
		}
	}
}

func tenantOfRole(sc *scenario, roleARN string) string {
	for _, d := range sc.cw {
		if d.role == roleARN {
			return d.tenant
		}
	}
	return ""
}

// checkQueuesEmpty checks that the queue and its dead-letter queue hold
// nothing, visible or in flight.
func (e *env) checkQueuesEmpty() {
	e.t.Helper()
	for _, q := range []string{e.queueURL, e.dlqURL} {
		visible, inFlight := e.counts(q)
		assert.Equal(e.t, [2]int{0, 0}, [2]int{visible, inFlight}, "visible and in-flight messages of %s", q)
	}
}
