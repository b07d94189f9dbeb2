package health_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/fault"
	"github.com/logdelivery/logdelivery/health"
)

// A readiness endpoint: probes of the dependencies (here stand-ins; see
// awsdispatch.Probes for the production ones) and the deliveries' results.
func ExampleReadiness() {
	tableUp := true
	r, err := health.NewReadiness(func(o *health.Options) {
		o.Probes = []health.Probe{{Name: `table "configs"`, Check: func(context.Context) error {
			if !tableUp {
				return errors.New("ResourceNotFoundException")
			}
			return nil
		}}}
		o.MinFailures = 2
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	r.Probe(ctx) // go r.Run(ctx) probes every ProbeInterval
	fmt.Println(r.Ready())

	// Install r as (part of) the Dispatcher's Observer: every result feeds it.
	for range 2 {
		r.ObserveResult(ctx, logdelivery.Result{Outcome: logdelivery.Failed, Err: fault.Retryable(errors.New("SlowDown"))})
	}
	fmt.Println(r.Ready())

	tableUp = false
	r.ObserveResult(ctx, logdelivery.Result{Outcome: logdelivery.Delivered})
	r.Probe(ctx)
	fmt.Println(r.Ready())
	// Output:
	// <nil>
	// not ready: every delivery of the last 5m0s failed retryably (2 or more; last: SlowDown)
	// not ready: table "configs": ResourceNotFoundException
}
