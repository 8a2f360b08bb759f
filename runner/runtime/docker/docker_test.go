package docker

import (
	"context"
	"testing"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/runtimetest"
)

// testImage is built by testdata/setup.sh: busybox-static, ENV PATH=/bin,
// CMD ["sh"].
const testImage = "runner.local/busybox:test"

// newTestRuntime connects to the local engine (an integration test: see
// internal/testenv for what happens when it does not answer).
func newTestRuntime(t *testing.T) *Runtime {
	t.Helper()
	testenv.Integration(t, "the Docker engine")
	rt, err := New(Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { rt.Close() })
	_, err = rt.Version(context.Background())
	testenv.Need(t, "the Docker engine", err)
	return rt
}

func TestContract(t *testing.T) {
	runtimetest.Run(t, func(t *testing.T) runtime.Runtime { return newTestRuntime(t) }, runtimetest.Options{
		Image:     testImage,
		ImageCmd:  []string{"sh"},
		Processes: true,
	})
}
