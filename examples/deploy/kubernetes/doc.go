// Package kubernetes holds the manifests of the SQS worker on Kubernetes:
// worker.yaml (ServiceAccount, Deployment with probes, resources, scrape
// annotations and a grace period longer than the worker's shutdown) and
// keda.yaml (KEDA TriggerAuthentication and ScaledObject on the queue's
// depth).
//
// Its tests decode the built-in kinds strictly into their k8s.io/api
// types (an unknown or mistyped field fails, as kubectl apply
// --validate=strict refuses it), validate the KEDA objects against the
// OpenAPI schemas of KEDA's own CustomResourceDefinitions (those the API
// server enforces), read from the github.com/kedacore/keda/v2 module, and
// check the manifests against the processor: its environment, probes,
// port and shutdown timeout.
//
// The KEDA schemas come from the Go module cache, downloaded by the go
// command when missing; without the module (offline, no cache) that test
// skips, unless LOGDELIVERY_REQUIRE_SCHEMAS=1.
package kubernetes
