// Package dockertest gives integration tests a client of the machine's
// Docker engine, in the tiers of internal/testenv.
package dockertest

import (
	"testing"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner/runtime/docker"
)

// Engine is a client of the machine's Docker engine (DOCKER_HOST or the
// default socket), closed when t ends. The test is an integration test
// (skipped under -short) that needs an engine answering (testenv.Need:
// skipped without one, failed where integration is required).
func Engine(t testing.TB) *docker.Runtime {
	t.Helper()
	testenv.Integration(t, "the Docker engine")
	rt, err := docker.New(docker.Config{})
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	_, err = rt.Version(t.Context())
	testenv.Need(t, "the Docker engine", err)
	return rt
}
