package volume

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/docker"
)

// testImage is imported by testdata/setup.sh (make setup).
const testImage = "runner.local/busybox:test"

// runLabel marks every container a test creates with the test's run ID.
const runLabel = "io.runner.test-run"

// engine runs the containers of one exploit test on the real Docker
// engine, each labelled with the test's run ID and removed at its end.
type engine struct {
	t     *testing.T
	rt    *docker.Runtime
	runID string
}

// requireEngine skips under -short; outside it, a missing Docker, test
// image or root skips the test, or fails it in CI.
func requireEngine(t *testing.T) *engine {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test (needs Docker and root); skipped with -short")
	}
	requireRoot(t)
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") != "" || os.Getenv("RUNNER_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	rt, err := docker.New(docker.Config{})
	if err != nil {
		missing("docker client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := rt.Version(ctx); err != nil {
		missing("Docker is not answering (run `make setup`): %v", err)
	}
	if _, err := rt.InspectImage(ctx, testImage); err != nil {
		missing("test image %s missing (run `make setup`): %v", testImage, err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &engine{t: t, rt: rt, runID: "volume-" + hex.EncodeToString(b)}
}

// run runs script in a new container with mounts, waits for it to exit
// and returns its exit code and output. The container is removed when the
// test ends (or by remove).
func (e *engine) run(name string, mounts []runtime.Mount, script string) (id string, exit int, out string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id, err := e.rt.CreateContainer(ctx, runtime.ContainerSpec{
		Name:        e.runID + "-" + name,
		Image:       testImage,
		Labels:      map[string]string{runLabel: e.runID},
		Entrypoint:  []string{"/bin/sh", "-c", script},
		Cmd:         []string{},
		Mounts:      mounts,
		NetworkMode: "none",
	})
	if err != nil {
		e.t.Fatalf("create %s: %v", name, err)
	}
	e.t.Cleanup(func() { e.remove(id) })
	if err := e.rt.StartContainer(ctx, id); err != nil {
		e.t.Fatalf("start %s: %v", name, err)
	}
	for {
		c, err := e.rt.InspectContainer(ctx, id)
		if err != nil {
			e.t.Fatalf("inspect %s: %v", name, err)
		}
		if c.State == runtime.StateExited {
			exit = c.ExitCode
			break
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("%s did not exit: %v", name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	var buf bytes.Buffer
	if err := e.rt.Logs(ctx, id, runtime.LogOptions{Tail: -1}, &buf, &buf); err != nil {
		e.t.Fatalf("logs of %s: %v", name, err)
	}
	return id, exit, buf.String()
}

// remove removes a container of the test.
func (e *engine) remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.rt.RemoveContainer(ctx, id); err != nil {
		e.t.Errorf("remove container %s: %v", id, err)
	}
}
