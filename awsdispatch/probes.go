package awsdispatch

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/logdelivery/logdelivery/credentials"
	"github.com/logdelivery/logdelivery/health"
	"github.com/logdelivery/logdelivery/ledger"
	"github.com/logdelivery/logdelivery/ledger/dynamoledger"
	"github.com/logdelivery/logdelivery/tenant"
	"github.com/logdelivery/logdelivery/tenant/dynamostore"
)

// ProbeTenant is the tenant id the probes look up: no tenant is expected
// to have it, and its answer (no configs, no identity) is the one a
// reachable store gives.
const ProbeTenant = "logdelivery-probe"

// Probes returns probes of what the Dispatcher New builds with the same
// options depends on, for health.Readiness and a self-check at start:
//
//   - the configuration store: the configs of ProbeTenant are read
//     (DynamoDB Query, as deliveries do; a missing table is named as such);
//   - the identity store and the ledger, when set: ProbeTenant's identity,
//     and a ledger entry, are read (GetItem);
//   - the central role: its credentials are obtained (STS AssumeRole,
//     cached and refreshed as the deliveries' are), or the processor's own
//     when there is no central role.
//
// The probes use their own clients, without the Dispatcher's caches, so
// that they see the services as they are now. Each call is one request a
// deliverer makes anyway, and needs no permission a processor lacks.
func Probes(cfg aws.Config, optFns ...func(*Options)) []health.Probe {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	cfg.Logger = SDKLogger(o.Logger)
	var probes []health.Probe

	store, name := o.Store, "tenant config store"
	if store == nil && o.Table != "" {
		store = dynamostore.New(dynamodb.NewFromConfig(cfg), o.Table)
		name = fmt.Sprintf("tenant config table %q", o.Table)
	}
	if store != nil {
		probes = append(probes, health.Probe{Name: name, Check: func(ctx context.Context) error {
			_, err := store.Configs(ctx, ProbeTenant)
			var items *tenant.ItemsError
			if errors.As(err, &items) {
				return nil // the store answered; the probe tenant's items are someone's joke
			}
			return tableError(cfg.Region, "reading tenant configs", err)
		}})
	}

	identities, name := o.Identities, "tenant identity store"
	if identities == nil && o.IdentityTable != "" {
		identities = dynamostore.NewIdentities(dynamodb.NewFromConfig(cfg), o.IdentityTable)
		name = fmt.Sprintf("tenant identity table %q", o.IdentityTable)
	}
	if identities != nil {
		probes = append(probes, health.Probe{Name: name, Check: func(ctx context.Context) error {
			_, err := identities.Identity(ctx, ProbeTenant)
			if errors.Is(err, tenant.ErrNoIdentity) {
				return nil
			}
			return tableError(cfg.Region, "reading a tenant identity", err)
		}})
	}

	led, name := o.Ledger, "delivery ledger"
	if led == nil && o.LedgerTable != "" {
		var err error
		led, err = dynamoledger.New(dynamodb.NewFromConfig(cfg), o.LedgerTable)
		name = fmt.Sprintf("ledger table %q", o.LedgerTable)
		if err != nil {
			probes = append(probes, health.Probe{Name: name, Check: func(context.Context) error { return err }})
			led = nil
		}
	}
	if led != nil {
		probes = append(probes, health.Probe{Name: name, Check: func(ctx context.Context) error {
			_, _, err := led.Get(ctx, ledger.Key{Bucket: ProbeTenant, Object: ProbeTenant, Tenant: ProbeTenant, Destination: ProbeTenant})
			return tableError(cfg.Region, "reading a ledger entry", err)
		}})
	}

	name = "the processor's own credentials (no central role)"
	if o.CentralRoleARN != "" {
		name = fmt.Sprintf("central role %s", o.CentralRoleARN)
	}
	chain, err := credentials.NewSTS(cfg, o.CentralRoleARN, func(so *credentials.STSOptions) {
		if o.STS != nil {
			o.STS(so)
		}
	})
	probes = append(probes, health.Probe{Name: name, Check: func(ctx context.Context) error {
		if err != nil {
			return err
		}
		if _, err := credentials.Central(chain, cfg.Region).Retrieve(ctx); err != nil {
			return fmt.Errorf("obtaining its credentials: %w", err)
		}
		return nil
	}})
	return probes
}

// tableError names a missing DynamoDB table plainly.
func tableError(region, what string, err error) error {
	if err == nil {
		return nil
	}
	var missing *ddbtypes.ResourceNotFoundException
	if errors.As(err, &missing) {
		return fmt.Errorf("no such table in %s (or not visible to these credentials): %w", region, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// QueueAttributesAPI is the part of the SQS client QueueProbe uses.
type QueueAttributesAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// QueueProbe returns a probe of the queue at url: its attributes are read
// (GetQueueAttributes, which a processor may call).
func QueueProbe(client QueueAttributesAPI, what, url string) health.Probe {
	return health.Probe{Name: fmt.Sprintf("%s %s", what, url), Check: func(ctx context.Context) error {
		_, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return fmt.Errorf("reading its attributes: %w", err)
		}
		return nil
	}}
}
