package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Costs are what the processor spends, measured by the repository's
// benchmarks (see the README's "Capacity planning" for the commands).
type Costs struct {
	// RecordCPUPerGB is the CPU time to download, decode and deliver one
	// GB (10^9 bytes, uncompressed) of Vector objects to one record
	// destination (CloudWatch Logs).
	RecordCPUPerGB time.Duration
	// ExtraRecordShare is what each further record destination of a
	// tenant adds, as a share of RecordCPUPerGB: they share one decode.
	ExtraRecordShare float64
	// ObjectCPU is the fixed CPU cost of one object, whatever its size:
	// notification, lookups, stream set-up, the first request of each kind.
	ObjectCPU time.Duration
	// CopyCPU is the CPU of one server-side copy (an S3 destination).
	CopyCPU time.Duration
	// WritesPerGB are the PutLogEvents calls (or Loki pushes, bounded by
	// the same 1 MiB) per GB of uncompressed objects.
	WritesPerGB float64
	// LineShare is the share of an object's uncompressed bytes that are
	// the log lines themselves (what Loki counts against its rate).
	LineShare float64
}

// Measured are the costs measured on this repository (one 2-core shared
// VM, Go 1.25): see the README for the commands.
var Measured = Costs{
	RecordCPUPerGB:   4600 * time.Millisecond,
	ExtraRecordShare: 0.15,
	ObjectCPU:        900 * time.Microsecond,
	CopyCPU:          800 * time.Microsecond,
	WritesPerGB:      290,
	LineShare:        0.3,
}

// Quotas are the AWS (and Loki) defaults that bind; each is adjustable
// unless noted.
type Quotas struct {
	STSPerSecond          float64 // AssumeRole and the other STS calls, per account and Region (central account): 600
	PutLogEventsPerSecond float64 // per account and Region (each tenant's account)
	TableReadUnits        float64 // on-demand, per table: 40,000 read request units per second
	LambdaConcurrency     float64 // per Region: 1,000
	SQSMappingBatches     float64 // concurrent batches of one SQS event source mapping: 1,000
	LokiTenantMBps        float64 // Loki's ingestion_rate_mb default, per Loki tenant: 4 MB/s
}

// DefaultQuotas are the published defaults (README cites each source).
// PutLogEvents: 1,500 per second, the figure of the CloudWatch Logs
// quota table in most Regions (800 in some; 5,000 where AWS raised it).
var DefaultQuotas = Quotas{
	STSPerSecond:          600,
	PutLogEventsPerSecond: 1500,
	TableReadUnits:        40000,
	LambdaConcurrency:     1000,
	SQSMappingBatches:     1000,
	LokiTenantMBps:        4,
}

// Workload is what the platform sends.
type Workload struct {
	TBPerDay   float64 // uncompressed log bytes a day, 10^12
	Tenants    int
	Pods       int           // pods writing objects: each writes at least one object per FlushEvery while it logs
	FlushEvery time.Duration // Vector's batch timeout (examples/vector: 60s)
	MaxObject  float64       // Vector's batch.max_bytes, uncompressed (examples/vector: 10 MB)
	TopShare   float64       // the largest tenant's share of the bytes
	// Destinations of each tenant: record destinations (CloudWatch Logs,
	// Loki, …; one decode shared) and copies (S3).
	RecordDestinations, Copies int
}

// Deployment is how the processor runs.
type Deployment struct {
	CoresPerWorker float64       // SQS worker pods
	MaxInFlight    int           // messages a worker processes at once (sqsworker.Options.MaxInFlight)
	Utilisation    float64       // target CPU utilisation of workers
	LambdaBatch    int           // SQS batch size of the Lambda event source
	CallLatency    time.Duration // one destination API call, round trip
	CacheTTL       time.Duration // tenant config cache (awsdispatch.Options.CacheTTL)
	CredentialLife time.Duration // a cached role session, before refresh (1h chained, less the 5 min window)
	Identities     bool          // an identity table is read too
	Ledger         bool          // a ledger table records every delivery
}

// Plan is the model's answer for one workload.
type Plan struct {
	Workload
	BytesPerSecond   float64
	ObjectsPerSecond float64
	ObjectMB         float64 // average object, uncompressed

	Cores             float64       // CPU cores busy, all processes together
	ObjectWall        time.Duration // one object, start to end: its CPU and its calls one after another
	Workers           int           // SQS worker pods: for the CPU at the target utilisation, or for the messages in flight
	WorkersBy         string        // "CPU" or "in flight"
	LambdaConcurrency float64       // concurrent executions (1 vCPU each)

	// API calls per second.
	PutLogEvents      float64 // all tenants together
	TopTenantWrites   float64 // into the largest tenant's account
	STSWorkers        float64 // AssumeRole calls with the SQS workers
	STSLambda         float64 // … with Lambda (one cache per execution environment)
	ReadUnitsWorkers  float64 // DynamoDB read units of the config table, SQS workers
	ReadUnitsLambda   float64 // … Lambda
	LedgerReadUnits   float64 // on the ledger table, either runtime
	TopTenantLokiMBps float64 // lines the largest tenant pushes to its Loki, should it use one

	// Per GB and per tenant-hour (a tenant with traffic in every
	// process's window).
	WritesPerGB                 float64
	STSPerTenantHourWorkers     float64
	STSPerTenantHourLambda      float64
	LookupsPerTenantHourWorkers float64
	LookupsPerTenantHourLambda  float64

	// Limits are the quotas in the order they bind (highest use first).
	Limits []Limit
}

// Limit is one quota against the plan's use of it.
type Limit struct {
	Name   string
	Use    float64
	Quota  float64
	Remedy string // the option that moves it
}

// Ratio is the share of the quota used.
func (l Limit) Ratio() float64 { return l.Use / l.Quota }

// Model works out the plan of a workload.
func Model(w Workload, d Deployment, c Costs, q Quotas) Plan {
	p := Plan{Workload: w}
	p.BytesPerSecond = w.TBPerDay * 1e12 / 86400
	bySize := p.BytesPerSecond / w.MaxObject
	byTime := float64(w.Pods) / w.FlushEvery.Seconds()
	p.ObjectsPerSecond = math.Max(bySize, byTime)
	p.ObjectMB = p.BytesPerSecond / p.ObjectsPerSecond / 1e6

	gbps := p.BytesPerSecond / 1e9
	recordShare := 0.0
	if w.RecordDestinations > 0 {
		recordShare = 1 + c.ExtraRecordShare*float64(w.RecordDestinations-1)
	}
	p.Cores = gbps*c.RecordCPUPerGB.Seconds()*recordShare +
		p.ObjectsPerSecond*(c.ObjectCPU.Seconds()+float64(w.Copies)*c.CopyCPU.Seconds())
	// Writes: size-bound batches, and at least one per object and record
	// destination (an object's records go to one stream per pod).
	p.PutLogEvents = math.Max(gbps*c.WritesPerGB, p.ObjectsPerSecond)
	p.TopTenantWrites = w.TopShare * p.PutLogEvents
	p.WritesPerGB = p.PutLogEvents / gbps

	// One object: its CPU, then its calls one after another: the
	// download, and the writes to one stream (destinations run in
	// parallel, so the others overlap).
	cpuPerObject := p.Cores / p.ObjectsPerSecond
	callsPerObject := 1 + math.Max(1, p.ObjectMB/1e3*c.WritesPerGB)
	wall := cpuPerObject + callsPerObject*d.CallLatency.Seconds()
	p.ObjectWall = time.Duration(wall * float64(time.Second))

	byCPU := math.Ceil(p.Cores / (d.CoresPerWorker * d.Utilisation))
	byInFlight := math.Ceil(p.ObjectsPerSecond * wall / float64(d.MaxInFlight))
	p.Workers, p.WorkersBy = int(byCPU), "CPU"
	if byInFlight > byCPU {
		p.Workers, p.WorkersBy = int(byInFlight), "in flight"
	}

	// Lambda: an execution environment (1 vCPU) works on a batch's
	// messages together: busy for the batch's CPU, or for its slowest
	// object, whichever is longer.
	batch := float64(d.LambdaBatch)
	p.LambdaConcurrency = p.ObjectsPerSecond / batch * math.Max(batch*cpuPerObject, wall)

	// Credentials and configs are cached per process: a process assumes
	// the role of each tenant it sees once per CredentialLife and looks
	// up its configs once per CacheTTL.
	seen := func(processes float64, window time.Duration) float64 {
		perProcess := math.Min(float64(w.Tenants), p.ObjectsPerSecond*window.Seconds()/processes)
		return processes * perProcess / window.Seconds()
	}
	workers := float64(p.Workers)
	lambdas := math.Max(1, math.Ceil(p.LambdaConcurrency))
	p.STSWorkers = seen(workers, d.CredentialLife) + workers/d.CredentialLife.Seconds()
	p.STSLambda = seen(lambdas, d.CredentialLife) + lambdas/d.CredentialLife.Seconds()
	perHour := func(processes float64, window time.Duration) float64 {
		return processes * time.Hour.Seconds() / window.Seconds()
	}
	p.STSPerTenantHourWorkers = perHour(workers, d.CredentialLife)
	p.STSPerTenantHourLambda = perHour(lambdas, d.CredentialLife)
	p.LookupsPerTenantHourWorkers = perHour(workers, d.CacheTTL)
	p.LookupsPerTenantHourLambda = perHour(lambdas, d.CacheTTL)
	// A Query of a tenant's few configs (under 4 KB) costs 0.5 read
	// units eventually consistent; an identity GetItem, strongly
	// consistent, 1.
	unitsPerLookup := 0.5
	if d.Identities {
		unitsPerLookup += 1
	}
	p.ReadUnitsWorkers = seen(workers, d.CacheTTL) * unitsPerLookup
	p.ReadUnitsLambda = seen(lambdas, d.CacheTTL) * unitsPerLookup
	if d.Ledger {
		// One strongly consistent GetItem per (object, destination).
		p.LedgerReadUnits = p.ObjectsPerSecond * float64(w.RecordDestinations+w.Copies)
	}
	p.TopTenantLokiMBps = w.TopShare * p.BytesPerSecond * c.LineShare / 1e6

	p.Limits = []Limit{
		{"STS requests, central account (SQS workers)", p.STSWorkers, q.STSPerSecond,
			"fewer, larger workers (MaxConcurrency, cores per pod); shard tenants over queues"},
		{"STS requests, central account (Lambda)", p.STSLambda, q.STSPerSecond,
			"a larger SQS batch and memory (fewer environments), ScalingConfig.MaximumConcurrency, or the SQS worker"},
		{"PutLogEvents, largest tenant's account", p.TopTenantWrites, q.PutLogEventsPerSecond,
			"the tenant asks AWS for more (the quota is its account's); a longer Vector batch timeout (fewer, fuller objects)"},
		{"DynamoDB read units, config table (Lambda)", p.ReadUnitsLambda, q.TableReadUnits,
			"a longer CacheTTL (awsdispatch.Options.CacheTTL)"},
		{"DynamoDB read units, config table (SQS workers)", p.ReadUnitsWorkers, q.TableReadUnits,
			"a longer CacheTTL"},
		{"DynamoDB read units, ledger table", p.LedgerReadUnits, q.TableReadUnits,
			"a longer Vector batch timeout (fewer objects); a table quota increase"},
		{"Lambda concurrent executions", p.LambdaConcurrency, q.LambdaConcurrency,
			"a quota increase; larger batches; the SQS worker"},
		{"SQS event source concurrent batches", p.LambdaConcurrency, q.SQSMappingBatches,
			"a second queue and mapping (the mapping's maximum is 1,000), or the SQS worker"},
	}
	p.Limits = append(p.Limits, Limit{"Loki MB/s of the largest tenant, should it use a Loki with default limits", p.TopTenantLokiMBps, q.LokiTenantMBps,
		"its Loki's ingestion_rate_mb; until raised, its pushes are throttled (429) and retried, the others' unaffected"})
	slices.SortStableFunc(p.Limits, func(a, b Limit) int {
		switch {
		case a.Ratio() > b.Ratio():
			return -1
		case a.Ratio() < b.Ratio():
			return 1
		}
		return 0
	})
	return p
}

// FirstToBreak returns the limit with the highest use, and whether it is
// over its quota.
func (p Plan) FirstToBreak() (Limit, bool) {
	return p.Limits[0], p.Limits[0].Ratio() >= 1
}

func (l Limit) String() string {
	return fmt.Sprintf("%s: %.0f of %.0f (%.0f%%)", l.Name, l.Use, l.Quota, 100*l.Ratio())
}

// PerCore is what one fully busy core delivers, for objects of the given
// uncompressed size to the given destinations: objects per second and
// GB (10^9 bytes) per hour.
func PerCore(c Costs, objectBytes float64, recordDestinations, copies int) (objectsPerSecond, gbPerHour float64) {
	share := 0.0
	if recordDestinations > 0 {
		share = 1 + c.ExtraRecordShare*float64(recordDestinations-1)
	}
	cpu := c.ObjectCPU.Seconds() + float64(copies)*c.CopyCPU.Seconds() + objectBytes/1e9*c.RecordCPUPerGB.Seconds()*share
	objectsPerSecond = 1 / cpu
	return objectsPerSecond, objectsPerSecond * objectBytes * 3600 / 1e9
}
