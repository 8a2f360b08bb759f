package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
	"go.uber.org/goleak"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/runtimetest"
)

// Tests of what the contract suite cannot see: how the spec reaches the
// engine, and Docker-specific paths. Every container carries the run label
// and is removed in t.Cleanup.

// engineFixture is a runtime plus the run's identity.
type engineFixture struct {
	t     *testing.T
	rt    *Runtime
	runID string
}

func newEngineFixture(t *testing.T) *engineFixture {
	return &engineFixture{t: t, rt: newTestRuntime(t), runID: runtimetest.NewRunID()}
}

// spec is a container of the test image running cmd, labelled and named
// for the run.
func (f *engineFixture) spec(suffix string, cmd ...string) runtime.ContainerSpec {
	return runtime.ContainerSpec{
		Name:   "runnertest_" + f.runID + "_" + suffix,
		Image:  testImage,
		Labels: map[string]string{runtimetest.RunLabel: f.runID},
		Cmd:    cmd,
	}
}

// run creates and starts spec, removing the container when the test ends.
func (f *engineFixture) run(spec runtime.ContainerSpec) string {
	f.t.Helper()
	id, err := f.rt.CreateContainer(f.t.Context(), spec)
	if err != nil {
		f.t.Fatalf("CreateContainer: %v", err)
	}
	f.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := f.rt.RemoveContainer(ctx, id); err != nil {
			f.t.Errorf("cleanup: %v", err)
		}
	})
	if err := f.rt.StartContainer(f.t.Context(), id); err != nil {
		f.t.Fatalf("StartContainer: %v", err)
	}
	return id
}

// sh runs a shell script in the container and returns its stdout.
func (f *engineFixture) sh(id, script string) string {
	f.t.Helper()
	res, err := f.rt.Exec(f.t.Context(), id, []string{"sh", "-c", script})
	if err != nil {
		f.t.Fatalf("Exec(%s): %v", script, err)
	}
	if res.ExitCode != 0 {
		f.t.Fatalf("Exec(%s) exited %d: %s", script, res.ExitCode, res.Stderr)
	}
	return strings.TrimSpace(string(res.Stdout))
}

func TestEngineCreateMapsSpec(t *testing.T) {
	f := newEngineFixture(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("from host"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	spec := f.spec("spec", "sleep", "3600")
	spec.Env = []string{"GREETING=hello"}
	spec.WorkingDir = "/data"
	spec.User = "65534:65534"
	spec.GroupAdd = []string{"1234"}
	spec.Hostname = "podhost"
	spec.Mounts = []runtime.Mount{{Source: dir, Target: "/data", ReadOnly: true, Propagation: "rprivate"}}
	// Docker copies a directory's mode into a tmpfs mounted over it, so the
	// tmpfs goes where the image has nothing.
	spec.Tmpfs = map[string]string{"/scratch": "size=16m,mode=1777"}
	spec.ReadOnly = true
	spec.Sysctls = map[string]string{"kernel.shm_rmid_forced": "1"}
	spec.ShmSize = 8 << 20
	spec.CapDrop = []string{"ALL"}
	spec.NoNewPrivs = true
	spec.ExtraHosts = []string{"db.test:127.0.0.9"}
	spec.Resources = runtime.Resources{MemoryLimit: 64 << 20, PidsLimit: 64, CPUShares: 256, OOMScoreAdj: 500}
	spec.LogMaxSize, spec.LogMaxFiles = "1m", 2
	id := f.run(spec)

	checks := map[string]string{
		"id -u":                                       "65534",
		"id -G":                                       "65534 1234",
		"pwd":                                         "/data",
		"hostname":                                    "podhost",
		"echo $GREETING":                              "hello",
		"cat /data/f":                                 "from host",
		"cat /proc/sys/kernel/shm_rmid_forced":        "1",
		"cat /proc/self/oom_score_adj":                "500",
		"grep NoNewPrivs /proc/self/status":           "NoNewPrivs:\t1",
		"grep CapEff /proc/self/status":               "CapEff:\t0000000000000000",
		"grep db.test /etc/hosts":                     "127.0.0.9\tdb.test",
		"touch /scratch/ok && echo writable":          "writable",
		"touch /data/x 2>/dev/null || echo ro":        "ro",
		"touch /rootfs 2>/dev/null || echo ro":        "ro",
		"df -k /dev/shm | tail -1 | awk '{print $2}'": "8192",
	}
	for script, want := range checks {
		if got := f.sh(id, script); got != want {
			t.Errorf("%s = %q, want %q", script, got, want)
		}
	}

	info, err := f.rt.client.ContainerInspect(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	hc := info.HostConfig
	if hc.Memory != 64<<20 || hc.PidsLimit == nil || *hc.PidsLimit != 64 || hc.CPUShares != 256 {
		t.Errorf("resources memory %d pids %v shares %d", hc.Memory, hc.PidsLimit, hc.CPUShares)
	}
	if hc.LogConfig.Type != "json-file" || hc.LogConfig.Config["max-size"] != "1m" || hc.LogConfig.Config["max-file"] != "2" {
		t.Errorf("log config %+v", hc.LogConfig)
	}
}

func TestEngineHostnameDroppedInSandboxNetwork(t *testing.T) {
	f := newEngineFixture(t)
	sandbox := f.spec("sandbox", "sleep", "3600")
	sandbox.Hostname = "sandboxhost"
	sandbox.IPCMode = "shareable"
	sandboxID := f.run(sandbox)

	app := f.spec("app", "sleep", "3600")
	app.Hostname = "apphost" // Docker rejects it with a container network
	app.NetworkMode = "container:" + sandboxID
	app.IPCMode = "container:" + sandboxID
	appID := f.run(app)
	if got := f.sh(appID, "hostname"); got != "sandboxhost" {
		t.Errorf("hostname in the sandbox's namespaces = %q, want sandboxhost", got)
	}
}

func TestEngineLogsOfTTYContainer(t *testing.T) {
	f := newEngineFixture(t)
	spec := f.spec("tty", "sh", "-c", "echo hi; echo there >&2")
	spec.TTY = true
	id := f.run(spec)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := f.rt.InspectContainer(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if c.State == runtime.StateExited {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container still %v", c.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var out, errOut bytes.Buffer
	if err := f.rt.Logs(t.Context(), id, runtime.LogOptions{Tail: -1}, &out, &errOut); err != nil {
		t.Fatalf("Logs: %v", err)
	}
	if out.String() != "hi\r\nthere\r\n" || errOut.Len() != 0 {
		t.Errorf("TTY logs = %q, %q; want both lines on stdout", out.String(), errOut.String())
	}
}

func TestEngineExecEndsWithContext(t *testing.T) {
	f := newEngineFixture(t)
	id := f.run(f.spec("exec", "sleep", "3600"))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.rt.Exec(ctx, id, []string{"sleep", "60"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec past its deadline: %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Exec returned %v after its deadline", took)
	}
}

func TestEngineCallTimeout(t *testing.T) {
	newTestRuntime(t) // the engine answers
	rt, err := New(Config{CallTimeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if _, err := rt.Version(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Version with a 1ns call timeout: %v, want context.DeadlineExceeded", err)
	}
}

func TestEngineRemoveImageByIDWithTwoTags(t *testing.T) {
	f := newEngineFixture(t)
	ctx := t.Context()
	ref1 := "runner.local/runnertest-" + f.runID + ":one"
	ref2 := "runner.local/runnertest-" + f.runID + ":two"
	t.Cleanup(func() {
		for _, ref := range []string{ref1, ref2} {
			f.rt.client.ImageRemove(context.Background(), ref, image.RemoveOptions{})
		}
	})
	// An empty tarball is two zero blocks; the run ID makes the image unique.
	changes := []string{`CMD ["x"]`, "LABEL run=" + f.runID}
	if err := f.rt.ImportImage(ctx, ref1, bytes.NewReader(make([]byte, 1024)), changes); err != nil {
		t.Fatalf("ImportImage: %v", err)
	}
	if err := f.rt.client.ImageTag(ctx, ref1, ref2); err != nil {
		t.Fatalf("ImageTag: %v", err)
	}
	img, err := f.rt.InspectImage(ctx, ref1)
	if err != nil || len(img.RepoTags) != 2 {
		t.Fatalf("InspectImage = %+v, %v; want two tags", img, err)
	}
	if err := f.rt.RemoveImage(ctx, img.ID); err != nil {
		t.Fatalf("RemoveImage(%s): %v", img.ID, err)
	}
	for _, ref := range []string{img.ID, ref1, ref2} {
		if _, err := f.rt.InspectImage(ctx, ref); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("InspectImage(%s) after remove: %v, want ErrNotFound", ref, err)
		}
	}
}

func TestEngineEventsLeaveNoGoroutine(t *testing.T) {
	newTestRuntime(t) // the engine answers
	rt, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	before := goleak.IgnoreCurrent() // no connection yet
	for range 5 {
		ctx, cancel := context.WithCancel(t.Context())
		events, errs := rt.Events(ctx, map[string]string{runtimetest.RunLabel: "none"})
		cancel()
		for range events {
		}
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Fatalf("Events error %v, want context.Canceled", err)
		}
	}
	rt.Close() // drop idle connections and their goroutines
	goleak.VerifyNone(t, before)
}

// TestEngineExportContainer: a container that never ran exports its image's
// root file system.
func TestEngineExportContainer(t *testing.T) {
	f := newEngineFixture(t)
	spec := f.spec("export", "true")
	spec.NetworkMode = "none"
	id, err := f.rt.CreateContainer(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.rt.RemoveContainer(context.Background(), id) })
	rc, err := f.rt.ExportContainer(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := false
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		found = found || strings.TrimPrefix(h.Name, "/") == "bin/busybox"
	}
	if !found {
		t.Error("the export lacks bin/busybox")
	}
}
