package docker

import (
	"context"
	"testing"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/runtimetest"
)

// testImage is built by testdata/setup.sh: busybox-static, ENV PATH=/bin,
// CMD ["sh"].
const testImage = "runner.local/busybox:test"

// newTestRuntime connects to the local engine, failing the test when it
// does not answer (run testdata/setup.sh). -short skips engine tests.
func newTestRuntime(t *testing.T) *Runtime {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the Docker engine; skipped with -short")
	}
	rt, err := New(Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { rt.Close() })
	if _, err := rt.Version(context.Background()); err != nil {
		t.Fatalf("the Docker engine does not answer (run testdata/setup.sh): %v", err)
	}
	return rt
}

func TestContract(t *testing.T) {
	runtimetest.Run(t, func(t *testing.T) runtime.Runtime { return newTestRuntime(t) }, runtimetest.Options{
		Image:     testImage,
		ImageCmd:  []string{"sh"},
		Processes: true,
	})
}
