package probe

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/docker"
	"github.com/runner-dev/runner/runner/runtime/runtimetest"
)

// Tests of the handlers on the real engine: exec probes and hooks through
// the Docker adapter, and the grpchealth image built as the e2e tests build
// it. Every container carries the run's label and is removed in cleanup.

// testImage is built by testdata/setup.sh (busybox, PATH=/bin).
const testImage = "runner.local/busybox:test"

// engine is a Docker runtime and the run's ID; the test fails when the
// engine does not answer (run testdata/setup.sh). -short skips.
type engine struct {
	t     testing.TB
	rt    *docker.Runtime
	runID string
}

func newEngine(t testing.TB) *engine {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the Docker engine; skipped with -short")
	}
	rt, err := docker.New(docker.Config{})
	if err != nil {
		t.Fatalf("docker.New: %v", err)
	}
	t.Cleanup(func() { rt.Close() })
	if _, err := rt.Version(t.Context()); err != nil {
		t.Fatalf("the Docker engine does not answer (run testdata/setup.sh): %v", err)
	}
	return &engine{t: t, rt: rt, runID: runtimetest.NewRunID()}
}

// run creates and starts a labelled container, removed when the test ends.
func (e *engine) run(spec runtime.ContainerSpec) string {
	e.t.Helper()
	spec.Name = "runnertest_" + e.runID + "_" + spec.Name
	spec.Labels = map[string]string{runtimetest.RunLabel: e.runID}
	id, err := e.rt.CreateContainer(e.t.Context(), spec)
	if err != nil {
		e.t.Fatalf("CreateContainer: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.rt.RemoveContainer(ctx, id); err != nil {
			e.t.Errorf("cleanup: %v", err)
		}
	})
	if err := e.rt.StartContainer(e.t.Context(), id); err != nil {
		e.t.Fatalf("StartContainer: %v", err)
	}
	return id
}

// eventually polls cond every 50ms for up to 30s.
func (e *engine) eventually(what string, cond func() bool) {
	e.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestEngineExecProbeAndHook(t *testing.T) {
	e := newEngine(t)
	id := e.run(runtime.ContainerSpec{Name: "exec", Image: testImage, Cmd: []string{"sleep", "3600"}})
	h := NewHandlers(HandlersConfig{Runtime: e.rt})
	target := Target{ContainerID: id}
	probe := func(timeout time.Duration, cmd ...string) Result {
		return h.Exec(t.Context(), target, &v1.ExecAction{Command: cmd}, timeout)
	}

	if res := probe(probeTimeout, "sh", "-c", "echo ready"); res.Outcome != Success || res.Output != "ready\n" {
		t.Errorf("exec probe exiting 0 = %+v", res)
	}
	if res := probe(probeTimeout, "sh", "-c", "echo sick >&2; exit 3"); res.Outcome != Failure || res.Output != "sick\n" {
		t.Errorf("exec probe exiting 3 = %+v", res)
	}
	start := time.Now()
	res := probe(time.Second, "sleep", "60")
	took := time.Since(start)
	if res.Outcome != Failure || res.Output != `command "sleep 60" timed out after 1s` {
		t.Errorf("exec probe of sleep 60 with a 1s timeout = %+v", res)
	}
	t.Logf("exec probe with a 1s timeout returned after %v", took)
	ps, err := e.rt.Exec(t.Context(), id, []string{"ps", "-o", "stat,args"})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(ps.Stdout), "\n") {
		if stat, args, _ := strings.Cut(strings.TrimSpace(line), " "); strings.Contains(args, "sleep 60") && !strings.HasPrefix(stat, "Z") {
			t.Errorf("the timed-out probe's process still runs:\n%s", ps.Stdout)
		}
	}

	hook := &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"sh", "-c", "echo no; exit 2"}}}
	if err := h.RunHook(t.Context(), target, hook); err == nil || !strings.Contains(err.Error(), `exited with code 2: output "no\n"`) {
		t.Errorf("failing exec hook: %v", err)
	}
}

func TestEngineGRPCHealthImage(t *testing.T) {
	e := newEngine(t)
	bin, err := os.ReadFile(buildGRPCHealth(t))
	if err != nil {
		t.Fatal(err)
	}
	ref := "runner.local/grpchealth-" + e.runID + ":test"
	var rootfs bytes.Buffer
	tw := tar.NewWriter(&rootfs)
	if err := tw.WriteHeader(&tar.Header{Name: "grpchealth", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(bin)
	tw.Close()
	if err := e.rt.ImportImage(t.Context(), ref, &rootfs, []string{`ENTRYPOINT ["/grpchealth"]`}); err != nil {
		t.Fatalf("ImportImage: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.rt.RemoveImage(ctx, ref); err != nil {
			t.Errorf("cleanup: RemoveImage(%s): %v", ref, err)
		}
	})

	// On the host's network and its loopback, as a hostNetwork pod.
	port := closedPort(t)
	id := e.run(runtime.ContainerSpec{
		Name: "grpc", Image: ref, NetworkMode: "host",
		Cmd: []string{"-listen", "127.0.0.1:" + strconv.Itoa(int(port))},
	})
	h := NewHandlers(HandlersConfig{})
	pod := Target{HostNetwork: true}
	var last Result
	outcome := func(want Outcome) func() bool {
		return func() bool {
			last = h.GRPC(t.Context(), pod, &v1.GRPCAction{Port: port}, probeTimeout)
			return last.Outcome == want
		}
	}
	e.eventually("the server to answer SERVING", outcome(Success))
	if err := e.rt.KillContainer(t.Context(), id, "SIGUSR1"); err != nil {
		t.Fatal(err)
	}
	e.eventually("the server to answer NOT_SERVING after SIGUSR1", outcome(Failure))
	if !strings.Contains(last.Output, "NOT_SERVING") {
		t.Errorf("probe output %q, want the NOT_SERVING status", last.Output)
	}
}
