package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch"
	"github.com/logdelivery/logdelivery/deliver/cloudwatch/cloudwatchtest"
	"github.com/logdelivery/logdelivery/deliver/file"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/memstore"
)

const (
	region      = "eu-west-1"
	centralRole = "arn:aws:iam::111111111111:role/central-log-distribution"
)

func tenantName(i int) string { return fmt.Sprintf("tenant-%02d", i) }

func logGroup(tenantID string) string { return "/logdelivery/bench/" + tenantID }

// tenantConfigs returns one CloudWatch destination per tenant, each in its
// own account behind its own role.
func tenantConfigs(tenants int) []tenant.DeliveryConfig {
	cfgs := make([]tenant.DeliveryConfig, tenants)
	for i := range cfgs {
		id := tenantName(i)
		cfgs[i] = tenant.DeliveryConfig{
			TenantID:     id,
			Type:         tenant.KindCloudWatch,
			TargetRegion: region,
			Settings: deliver.SettingsObject(&cloudwatch.Settings{
				LogGroupName:           logGroup(id),
				LogDistributionRoleARN: fmt.Sprintf("arn:aws:iam::%012d:role/tenant-log-delivery", 222222220000+i),
			}),
		}
	}
	return cfgs
}

// result is what the delivery phase measured. The child process writes it
// to its standard output as JSON.
type result struct {
	Objects int
	Receipt deliver.Receipt // the sum of the results' receipts

	Wall time.Duration // Dispatch, start to end
	CPU  time.Duration // user+system time of the process during Dispatch; 0 if unknown
	// Resident set size at the start and at its peak, in bytes, and where
	// the peak comes from.
	StartRSS, PeakRSS int64
	RSSSource         string
	Allocated         uint64 // Go heap bytes allocated during Dispatch
	GCs               uint32 // garbage collections during Dispatch

	STSCalls map[string]int // AssumeRole calls by role ARN
	Failures []string       // results that are not Delivered
}

// deliverObjects dispatches every object of m, stored under dir, through
// the real Dispatcher and CloudWatch deliverer to the CloudWatch Logs
// endpoint, with credentials from an STS role chain whose STS client is a
// counting fake.
func deliverObjects(ctx context.Context, dir string, m manifest, endpoint string, prof profiles) (result, error) {
	var res result
	res.StartRSS, _ = currentRSS()
	assumer := &countingSTS{calls: map[string]int{}}
	chain, err := credentials.NewSTS(aws.Config{Region: region, Credentials: awscreds.NewStaticCredentialsProvider("BASEKEY", "secret", "")},
		centralRole, func(o *credentials.STSOptions) {
			o.NewClient = func(_ string, creds aws.CredentialsProvider) stscreds.AssumeRoleAPIClient {
				return signingSTS{creds: creds, sts: assumer}
			}
		})
	if err != nil {
		return res, err
	}
	cw, err := cloudwatch.New(chain, func(o *cloudwatch.Options) {
		o.AWSConfig = aws.Config{Region: region, BaseEndpoint: aws.String(endpoint)}
		o.Now = func() time.Time { return clock }
	})
	if err != nil {
		return res, err
	}
	store, err := memstore.New(tenantConfigs(m.Spec.Tenants))
	if err != nil {
		return res, err
	}
	kinds, err := deliver.NewRegistry([]deliver.Kind{cw.Kind()})
	if err != nil {
		return res, err
	}
	d, err := logdelivery.NewDispatcher(store, kinds, func(o *logdelivery.Options) {
		o.Opener = file.Opener{FS: os.DirFS(dir)}
		o.Now = func() time.Time { return clock }
	})
	if err != nil {
		return res, err
	}
	objs := make([]logdelivery.Object, len(m.Objects))
	for i, o := range m.Objects {
		objs[i] = logdelivery.Object{ID: o.Key, Bucket: "central-logs", Key: o.Key, Size: o.Compressed, Time: o.Time}
	}

	if prof.CPU != "" {
		f, err := os.Create(prof.CPU)
		if err != nil {
			return res, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0 := cpuTime()
	start := time.Now()
	results := d.Dispatch(ctx, objs...)
	res.Wall = time.Since(start)
	if cpu0 > 0 {
		res.CPU = cpuTime() - cpu0
	}
	if prof.CPU != "" {
		pprof.StopCPUProfile()
	}
	res.PeakRSS, res.RSSSource = peakRSS()
	runtime.ReadMemStats(&ms1)
	res.Allocated, res.GCs = ms1.TotalAlloc-ms0.TotalAlloc, ms1.NumGC-ms0.NumGC
	if prof.Mem != "" {
		if err := writeHeapProfile(prof.Mem); err != nil {
			return res, err
		}
	}

	res.Objects = len(objs)
	for _, r := range results {
		if r.Outcome != logdelivery.Delivered {
			res.Failures = append(res.Failures, fmt.Sprintf("%s %s: %s %s%v", r.Object.Key, r.Destination, r.Outcome, r.Reason, r.Err))
		}
		res.Receipt = res.Receipt.Add(r.Receipt)
	}
	res.STSCalls = assumer.snapshot()
	return res, nil
}

// profiles names the profiles of the delivery phase to write; empty
// names are not written.
type profiles struct {
	CPU string // CPU profile of Dispatch
	Mem string // allocations profile (allocs), at the end of Dispatch
}

func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// countingSTS is an stscreds.AssumeRoleAPIClient that issues one-hour
// credentials and counts calls per role.
type countingSTS struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingSTS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	c.mu.Lock()
	c.calls[aws.ToString(in.RoleArn)]++
	c.mu.Unlock()
	return &sts.AssumeRoleOutput{Credentials: &ststypes.Credentials{
		AccessKeyId:     aws.String("ASIA" + aws.ToString(in.RoleSessionName)),
		SecretAccessKey: aws.String("secret"),
		SessionToken:    aws.String("token"),
		Expiration:      aws.Time(time.Now().Add(time.Hour)),
	}}, nil
}

func (c *countingSTS) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.calls)
}

// signingSTS retrieves the caller's credentials on every call, as request
// signing does, so that each hop really depends on the one before.
type signingSTS struct {
	creds aws.CredentialsProvider
	sts   *countingSTS
}

func (s signingSTS) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	if _, err := s.creds.Retrieve(ctx); err != nil {
		return nil, err
	}
	return s.sts.AssumeRole(ctx, in, optFns...)
}

// newFake starts the CloudWatch Logs fake with every tenant's log group.
// Streams are created by the deliverer on demand, as in production.
func newFake(tenants int, latency time.Duration) *cloudwatchtest.Server {
	f := cloudwatchtest.NewServer(cloudwatchtest.Options{DiscardEvents: true, Digest: true, Now: func() time.Time { return clock }, Latency: latency})
	for i := range tenants {
		f.CreateLogGroup(logGroup(tenantName(i)))
	}
	return f
}

// endpointStats is what the fake saw.
type endpointStats struct {
	PutLogEvents    int           // calls, accepted or not
	Accepted        int           // accepted calls (batches)
	CreateLogStream int           // calls
	Streams         int           // streams written
	Events          int64         // events in accepted batches
	Rejected        int64         // events reported in rejectedLogEventsInfo
	MinCalls        int64         // fewest PutLogEvents calls the limits allow, per object and stream
	CPU             time.Duration // the endpoint's process during delivery, when it is not the delivery's
	Digest          string        // of the accepted events (cloudwatchtest.Server.Digest)
}

func fakeStats(f *cloudwatchtest.Server, m manifest) endpointStats {
	s := endpointStats{
		PutLogEvents: f.Calls("PutLogEvents"), CreateLogStream: f.Calls("CreateLogStream"),
		MinCalls: m.minCalls(), Digest: f.Digest(),
	}
	streams := map[[2]string]bool{}
	for _, b := range f.Batches() {
		streams[[2]string{b.Group, b.Stream}] = true
		s.Accepted++
		s.Events += int64(b.Events - b.Rejected)
		s.Rejected += int64(b.Rejected)
	}
	s.Streams = len(streams)
	return s
}
