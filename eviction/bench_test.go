package eviction

// Benchmarks of monitoring: one reading of the host's signals evaluated
// (what runs every --eviction-monitoring-interval), and a reading that
// crosses a threshold up to the eviction handed to the loop, with 50 pods
// of two containers each whose usage is read from cgroup files.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/runner/runtime"
)

// benchLoop is a loop that runs pods and forgets evictions.
type benchLoop struct{ pods []*v1.Pod }

func (l *benchLoop) ActivePods(context.Context) ([]*v1.Pod, error)         { return l.pods, nil }
func (l *benchLoop) Evict(context.Context, Eviction) error                 { return nil }
func (l *benchLoop) SetNodeConditions(context.Context, []v1.NodeCondition) {}

// benchPods makes n pods of mixed QoS and priority, two running containers
// each, with cgroup files and a pod directory under dir.
func benchPods(b *testing.B, dir string, n int) ([]*v1.Pod, listed) {
	var pods []*v1.Pod
	var containers listed
	for i := range n {
		var p *v1.Pod
		switch i % 3 {
		case 0:
			p = pod(fmt.Sprintf("p%02d", i), -1, nil, nil)
		case 1:
			p = pod(fmt.Sprintf("p%02d", i), int32(i), []string{"memory=64Mi"}, nil)
		default:
			p = pod(fmt.Sprintf("p%02d", i), -1, []string{"memory=64Mi", "cpu=1"}, []string{"memory=64Mi", "cpu=1"})
		}
		pods = append(pods, p)
		for c := range 2 {
			id := fmt.Sprintf("%s-c%d", p.UID, c)
			containers = append(containers, runtime.Container{ID: id, State: runtime.StateRunning, Labels: map[string]string{LabelPodUID: string(p.UID)}})
			for path, content := range map[string]string{
				"cg/memory/docker/" + id + "/memory.usage_in_bytes": fmt.Sprint((i + 1) << 20),
				"cg/memory/docker/" + id + "/memory.stat":           "cache 0\nrss 0\ntotal_inactive_file 4096\n",
				"cg/pids/docker/" + id + "/pids.current":            "3",
				"pods/" + string(p.UID) + "/volumes/data/f":         "data",
			} {
				full := filepath.Join(dir, path)
				if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	return pods, containers
}

func benchManager(b *testing.B, src Source, loop Loop) *Manager {
	thresholds, err := ParseThresholds(ThresholdFlags{})
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(Config{Source: src, Loop: loop, Thresholds: thresholds})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkMonitorSignals is one monitoring step on this host with nothing
// under pressure: memory, both file systems and PIDs read and evaluated.
// The pods are not read then; cpu-%@10s is the share of one core it takes
// every 10 s.
func BenchmarkMonitorSignals(b *testing.B) {
	dir := b.TempDir()
	pods, containers := benchPods(b, dir, 50)
	src := HostSource{NodeFSPath: dir, ImageFSPath: "/", Engine: containers, PodsDir: filepath.Join(dir, "pods")}
	m := benchManager(b, src, &benchLoop{pods: pods})
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if e := m.Synchronize(ctx); e != nil {
			b.Fatalf("this host is under pressure: %s", e.Message)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e10*100, "cpu-%@10s")
}

// pressured is a source whose memory is always low, with the host
// source's pod usage.
type pressured struct{ HostSource }

func (p pressured) Signals(context.Context) (Snapshot, error) {
	return Snapshot{Values: map[Signal]Observation{SignalMemoryAvailable: {Available: 50 << 20, Capacity: 8 << 30}}}, nil
}

// BenchmarkEvictionDecision is a reading under memory pressure to the
// eviction handed to the loop, with 50 pods: evaluate, the pods' usage
// from their cgroup files and directories, rank, choose.
func BenchmarkEvictionDecision(b *testing.B) {
	dir := b.TempDir()
	pods, containers := benchPods(b, dir, 50)
	src := pressured{HostSource{CgroupDir: filepath.Join(dir, "cg"), Engine: containers, PodsDir: filepath.Join(dir, "pods")}}
	m := benchManager(b, src, &benchLoop{pods: pods})
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if e := m.Synchronize(ctx); e == nil || e.Pod.UID != types.UID("uid-p48") {
			b.Fatalf("evicted %+v, want p48 (BestEffort, largest)", e)
		}
	}
}
