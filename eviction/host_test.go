package eviction

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/internal/testenv/dockertest"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/runtimetest"
)

// tree writes files (path → content) under a temp dir and returns it.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for path, content := range files {
		full := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var procFiles = map[string]string{
	"proc/meminfo":                "MemTotal:        1000000 kB\nMemFree:          400000 kB\nInactive(file):   100000 kB\n",
	"proc/sys/kernel/pid_max":     "32768\n",
	"proc/sys/kernel/threads-max": "20000\n",
	"proc/loadavg":                "0.50 0.40 0.30 2/301 12345\n",
}

func TestHostSignalsCgroupV1(t *testing.T) {
	files := map[string]string{
		"cg/memory/memory.usage_in_bytes": "700000000\n",
		"cg/memory/memory.stat":           "cache 5\ntotal_inactive_file 200000000\n",
	}
	for k, v := range procFiles {
		files[k] = v
	}
	dir := tree(t, files)
	h := HostSource{ProcDir: filepath.Join(dir, "proc"), CgroupDir: filepath.Join(dir, "cg"), NodeFSPath: dir}
	snap, err := h.Signals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// capacity 1024000000, working set 700000000-200000000.
	if got := snap.Values[SignalMemoryAvailable]; got != (Observation{Available: 524000000, Capacity: 1024000000}) {
		t.Errorf("memory %+v", got)
	}
	if got := snap.Values[SignalPIDAvailable]; got != (Observation{Available: 20000 - 301, Capacity: 20000}) {
		t.Errorf("pid %+v", got)
	}
	if got, ok := snap.Values[SignalNodeFsAvailable]; !ok || got.Capacity <= 0 {
		t.Errorf("nodefs %+v", got)
	}
	if _, ok := snap.Values[SignalImageFsAvailable]; ok {
		t.Error("imagefs measured without a path")
	}
}

func TestHostSignalsCgroupV2(t *testing.T) {
	files := map[string]string{"cg/memory.stat": "anon 1\ninactive_file 50000000\n", "cg/cgroup.controllers": "memory pids\n"}
	for k, v := range procFiles {
		files[k] = v
	}
	dir := tree(t, files)
	h := HostSource{ProcDir: filepath.Join(dir, "proc"), CgroupDir: filepath.Join(dir, "cg")}
	snap, err := h.Signals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// usage = total - free = 600000 kB; inactive from memory.stat.
	if got := snap.Values[SignalMemoryAvailable]; got != (Observation{Available: 1024000000 - (614400000 - 50000000), Capacity: 1024000000}) {
		t.Errorf("memory %+v", got)
	}
}

func TestHostSignalsNothingReadable(t *testing.T) {
	dir := t.TempDir()
	if _, err := (HostSource{ProcDir: dir, CgroupDir: dir}).Signals(context.Background()); err == nil {
		t.Error("no error with nothing to read")
	}
}

// listed is a ContainerLister of fixed containers.
type listed []runtime.Container

func (l listed) ListContainers(context.Context, map[string]string) ([]runtime.Container, error) {
	return l, nil
}

func TestHostPodUsage(t *testing.T) {
	dir := tree(t, map[string]string{
		"cg/memory/docker/c1/memory.usage_in_bytes":                    "3000\n",
		"cg/memory/docker/c1/memory.stat":                              "total_inactive_file 1000\n",
		"cg/pids/docker/c1/pids.current":                               "4\n",
		"cg/memory/system.slice/docker-c2.scope/memory.usage_in_bytes": "500\n",
		"cg/pids/system.slice/docker-c2.scope/pids.current":            "1\n",
		"pods/uid-a/volumes/data/file":                                 strings.Repeat("x", 10000),
	})
	h := HostSource{
		CgroupDir: filepath.Join(dir, "cg"), PodsDir: filepath.Join(dir, "pods"), InstanceID: "i",
		Engine: listed{
			{ID: "c1", State: runtime.StateRunning, Labels: map[string]string{LabelPodUID: "uid-a"}},
			{ID: "c2", State: runtime.StateRunning, Labels: map[string]string{LabelPodUID: "uid-a"}},
			{ID: "c3", State: runtime.StateExited, Labels: map[string]string{LabelPodUID: "uid-a"}},
			{ID: "unknown", State: runtime.StateRunning, Labels: map[string]string{LabelPodUID: "uid-b"}},
		},
	}
	usage, err := h.PodUsage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a := usage["uid-a"]
	if a.Memory != 2500 || a.Processes != 5 || a.NodeFS.Bytes < 10000 || a.NodeFS.Inodes != 4 {
		t.Errorf("pod a: %+v (want memory 2500, 5 processes, ≥10000 bytes in 4 inodes)", a)
	}
	if b, ok := usage["uid-b"]; !ok || b.Memory != 0 || b.Processes != 0 {
		t.Errorf("pod b (cgroup not found): %+v %v", b, ok)
	}
}

// TestHostSignalsReal reads this machine: every signal it can read is
// plausible. It changes nothing.
func TestHostSignalsReal(t *testing.T) {
	snap, err := HostSource{NodeFSPath: t.TempDir(), ImageFSPath: "/"}.Signals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for s, obs := range snap.Values {
		if obs.Capacity <= 0 || obs.Available < 0 || obs.Available > obs.Capacity {
			t.Errorf("%s: %+v", s, obs)
		}
	}
	if _, ok := snap.Values[SignalMemoryAvailable]; !ok {
		t.Error("memory.available not read")
	}
}

// TestHostPodUsageEngine: a running container of a pod that allocates
// memory shows its working set and processes.
func TestHostPodUsageEngine(t *testing.T) {
	rt := dockertest.Engine(t)
	runID := runtimetest.NewRunID()
	labels := map[string]string{runtimetest.RunLabel: runID, LabelInstance: "evtest-" + runID, LabelPodUID: "uid-" + runID}
	// 32 MiB held in a tmpfs-free way: a shell variable of that size.
	id, err := rt.CreateContainer(t.Context(), runtime.ContainerSpec{
		Name: "runnertest_" + runID + "_mem", Image: "runner.local/busybox:test", Labels: labels,
		Cmd: []string{"sh", "-c", `x=$(head -c 33554432 /dev/zero | tr '\0' a); echo ready; sleep 3600 & wait`},
	})
	testenv.Need(t, "the test image runner.local/busybox:test (testdata/setup.sh)", err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = rt.RemoveContainer(ctx, id)
	})
	if err := rt.StartContainer(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	h := HostSource{Engine: rt, InstanceID: "evtest-" + runID}
	var u PodUsage
	// Both at once: the working set passes 32 MiB as the shell takes the
	// string, a moment before it starts sleep.
	testenv.Eventually(t, 30*time.Second, "the pod's working set to pass 32 MiB with sh and sleep counted", func() bool {
		usage, err := h.PodUsage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		u = usage[types.UID("uid-"+runID)]
		return u.Memory >= 32<<20 && u.Processes >= 2
	})
}
