// Package vector holds the collector side of the pipeline: a Vector agent
// configuration (vector.yaml) and the Kubernetes DaemonSet and RBAC around it
// (daemonset.yaml). Its tests check that the keys and events Vector produces
// are exactly what logdelivery parses.
package vector
