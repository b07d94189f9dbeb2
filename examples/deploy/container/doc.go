// Package container holds the Dockerfile of the processor's image: a
// static binary (CGO_ENABLED=0) of examples/processor on distroless,
// running as a non-root user. Its test checks the Dockerfile against the
// repository (the package it builds, the Go version of go.mod, the user
// and port of examples/deploy/kubernetes); it cannot build the image here.
package container
