package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/logdelivery/logdelivery"
	"github.com/logdelivery/logdelivery/awsdispatch"
	"github.com/logdelivery/logdelivery/metrics"
)

// The reference processor's defaults (container/internal/models/types.go,
// DefaultConfig).
const (
	defaultTable         = "tenant-configurations"
	defaultRegion        = "us-east-1"
	defaultRetryAttempts = 3
)

// The reference's layouts (container/internal/delivery/s3.go: the key
// leaves the management cluster's id out; cloudwatch.go: one stream per
// pod).
const (
	referenceKeyTemplate    = "{bucket_prefix}{tenant_id}/{application}/{pod_name}/{file}"
	referenceStreamTemplate = "{pod_name}"
)

// referenceFlushInterval is how often sqs and scan modes write the
// reference's metrics.
const referenceFlushInterval = time.Minute

// knobs are the compatibility settings of the environment.
type knobs struct {
	keyTemplate, streamTemplate string
	createLogGroup              bool
	emptyDesiredLogsMeanAll     bool
	referenceMetrics            bool
	retryAttempts               int
}

// readKnobs reads the compatibility variables (see the package
// documentation), and the reference's integer variables.
func readKnobs(getenv func(string) string) (knobs, error) {
	var k knobs
	ref, err := boolVar(getenv, "REFERENCE_COMPAT", false)
	if err != nil {
		return k, err
	}
	template := func(name, reference string) string {
		switch v := getenv(name); {
		case v == "reference", v == "" && ref:
			return reference
		default:
			return v
		}
	}
	k.keyTemplate = template("S3_KEY_TEMPLATE", referenceKeyTemplate)
	k.streamTemplate = template("CLOUDWATCH_STREAM_TEMPLATE", referenceStreamTemplate)
	for _, b := range []struct {
		name string
		v    *bool
	}{
		{"CLOUDWATCH_CREATE_LOG_GROUP", &k.createLogGroup},
		{"DESIRED_LOGS_EMPTY_MEANS_ALL", &k.emptyDesiredLogsMeanAll},
		{"REFERENCE_METRICS", &k.referenceMetrics},
	} {
		if *b.v, err = boolVar(getenv, b.name, ref); err != nil {
			return k, err
		}
	}
	for _, name := range []string{"MAX_BATCH_SIZE", "RETRY_ATTEMPTS"} {
		v := getenv(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return k, fmt.Errorf("%s %q is not a positive integer", name, v)
		}
		if name == "RETRY_ATTEMPTS" {
			k.retryAttempts = n
		}
	}
	if k.retryAttempts == 0 {
		k.retryAttempts = defaultRetryAttempts
	}
	return k, nil
}

// boolVar reads a boolean variable: "true" or "1", "false" or "0", def
// when unset.
func boolVar(getenv func(string) string, name string, def bool) (bool, error) {
	switch v := getenv(name); v {
	case "":
		return def, nil
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	default:
		return false, fmt.Errorf("%s %q: want true or false", name, v)
	}
}

// apply sets the knobs' options.
func (k knobs) apply(o *awsdispatch.Options) {
	o.S3KeyTemplate = k.keyTemplate
	o.CloudWatchStreamTemplate = k.streamTemplate
	o.CreateLogGroup = k.createLogGroup
	o.EmptyDesiredLogsMeanAll = k.emptyDesiredLogsMeanAll
}

// observeReference returns an option adding the reference's metrics to the
// Dispatcher's observers when REFERENCE_METRICS asks for them, written to
// stdout as EMF every minute and once more when ctx is done.
func (k knobs) observeReference(ctx context.Context, logger *slog.Logger) func(*awsdispatch.Options) {
	return func(o *awsdispatch.Options) {
		if !k.referenceMetrics {
			return
		}
		ref := metrics.NewReferenceEMF(os.Stdout)
		go func() {
			t := time.NewTicker(referenceFlushInterval)
			defer t.Stop()
			for done := false; !done; {
				select {
				case <-t.C:
				case <-ctx.Done():
					done = true
				}
				if err := ref.Flush(); err != nil {
					logger.Error("writing the reference's metrics", "error", err)
				}
			}
		}()
		prev := o.Dispatcher
		o.Dispatcher = func(do *logdelivery.Options) {
			if prev != nil {
				prev(do)
			}
			if do.Observer == nil {
				do.Observer = ref
			} else {
				do.Observer = metrics.Multi(do.Observer, ref)
			}
		}
	}
}

// parseLogLevel reads LOG_LEVEL as the reference does: DEBUG, INFO (the
// default), WARN or WARNING, ERROR, in upper or lower case.
func parseLogLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(s) {
	case "", "INFO":
		return slog.LevelInfo, nil
	case "DEBUG":
		return slog.LevelDebug, nil
	case "WARN", "WARNING":
		return slog.LevelWarn, nil
	case "ERROR":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("LOG_LEVEL %q: want DEBUG, INFO, WARN or ERROR", s)
}
