package stats

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/docker"
)

// TestProviderOnThisMachine runs cadvisor's manager on the real machine and
// engine: the file systems of the root dir and of Docker's data root are
// found (they were not, before the file system plugins were imported), and
// the node summary has memory and cpu.
func TestProviderOnThisMachine(t *testing.T) {
	testenv.Integration(t, "root, cgroups and the Docker engine")
	testenv.Root(t)
	rt, err := docker.New(docker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = rt.Version(ctx)
	testenv.Need(t, "the Docker engine", err)

	engine := &countingEngine{Engine: rt}
	p, err := New(ctx, Config{RootDir: t.TempDir(), Engine: engine, InstanceID: "none", Housekeeping: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Stop()

	mi, err := p.Machine()
	if err != nil || mi.NumCores == 0 || mi.MemoryCapacity == 0 {
		t.Fatalf("machine: %+v, %v", mi, err)
	}
	if len(mi.Filesystems) == 0 {
		t.Errorf("machine info has no file systems")
	}
	for what, get := range map[string]func() (uint64, error){
		"nodefs":  func() (uint64, error) { fs, err := p.NodeFs(); return fs.Capacity, err },
		"imagefs": func() (uint64, error) { fs, err := p.ImageFs(); return fs.Capacity, err },
	} {
		if c, err := get(); err != nil || c == 0 {
			t.Errorf("%s: capacity %d, %v", what, c, err)
		}
	}
	testenv.Eventually(t, 20*time.Second, "two samples of the root cgroup (a cpu rate)", func() bool {
		sum, err := p.Summary(ctx, "node", nil)
		return err == nil && sum.Node.CPU != nil && sum.Node.CPU.UsageNanoCores != nil
	})
	sum, err := p.Summary(ctx, "node", nil)
	if err != nil {
		t.Fatal(err)
	}
	n := sum.Node
	if n.Memory == nil || *n.Memory.WorkingSetBytes == 0 || *n.Memory.AvailableBytes == 0 || *n.Memory.AvailableBytes >= mi.MemoryCapacity {
		t.Errorf("node memory: %+v", n.Memory)
	}
	if n.Fs == nil || *n.Fs.CapacityBytes == 0 || n.Runtime == nil || n.Runtime.ImageFs.UsedBytes == nil || *n.Runtime.ImageFs.UsedBytes == 0 {
		t.Errorf("node fs %+v runtime %+v", n.Fs, n.Runtime)
	}
	if n.Rlimit == nil || n.Rlimit.MaxPID == nil || *n.Rlimit.NumOfRunningProcesses == 0 {
		t.Errorf("rlimit: %+v", n.Rlimit)
	}

	// What eviction reads every interval: the same node figures, and not
	// one request to the engine.
	before := engine.calls.Load()
	node := p.NodeSummary("node").Node
	if calls := engine.calls.Load() - before; calls != 0 {
		t.Errorf("NodeSummary made %d engine requests, want none", calls)
	}
	if node.Memory == nil || node.Memory.AvailableBytes == nil || node.Fs == nil || node.Fs.AvailableBytes == nil ||
		node.Runtime == nil || node.Runtime.ImageFs == nil || node.Runtime.ImageFs.AvailableBytes == nil || node.Rlimit == nil {
		t.Errorf("node summary lacks what eviction reads: memory %+v fs %+v runtime %+v rlimit %+v", node.Memory, node.Fs, node.Runtime, node.Rlimit)
	}
}

// countingEngine counts the requests made through it.
type countingEngine struct {
	Engine
	calls atomic.Int32
}

func (e *countingEngine) ListContainers(ctx context.Context, match map[string]string) ([]runtime.Container, error) {
	e.calls.Add(1)
	return e.Engine.ListContainers(ctx, match)
}

func (e *countingEngine) InspectContainer(ctx context.Context, id string) (runtime.Container, error) {
	e.calls.Add(1)
	return e.Engine.InspectContainer(ctx, id)
}

func (e *countingEngine) ListImages(ctx context.Context) ([]runtime.Image, error) {
	e.calls.Add(1)
	return e.Engine.ListImages(ctx)
}
