package main

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/runner-dev/runner/eviction"
	"github.com/runner-dev/runner/gc"
)

// The garbage collector's and the eviction manager's readings come from
// cadvisor (runner/stats, started by the observer whether the API serves
// or not); until cadvisor has started, and for a figure it cannot give,
// they fall back to statfs(2) and the kernel's own files.

// cadvisorImageFS is gc.ImageFS over cadvisor's image file system.
type cadvisorImageFS struct {
	o        *observer
	fallback gc.ImageFS
}

func (f cadvisorImageFS) ImageFSUsage(ctx context.Context) (gc.FSUsage, error) {
	if p := f.o.stats.Load(); p != nil {
		if fs, err := p.ImageFs(); err == nil && fs.Capacity > 0 {
			return gc.FSUsage{Capacity: int64(fs.Capacity), Available: int64(fs.Available)}, nil
		}
	}
	return f.fallback.ImageFSUsage(ctx)
}

// cadvisorSignals is eviction.Source over cadvisor's node summary: memory
// available (capacity minus the root cgroup's working set), the node's and
// the image file system's bytes and inodes, and PIDs. A signal cadvisor
// does not give is read by fallback; pods' usage too.
type cadvisorSignals struct {
	o        *observer
	nodeName string
	fallback eviction.Source
}

func (s cadvisorSignals) Signals(ctx context.Context) (eviction.Snapshot, error) {
	snap, err := s.fallback.Signals(ctx)
	if err != nil {
		snap = eviction.Snapshot{Values: map[eviction.Signal]eviction.Observation{}}
	}
	if snap.Values == nil {
		snap.Values = map[eviction.Signal]eviction.Observation{}
	}
	p := s.o.stats.Load()
	if p == nil {
		return snap, err
	}
	n := p.NodeSummary(s.nodeName).Node
	if m := n.Memory; m != nil && m.AvailableBytes != nil && m.WorkingSetBytes != nil {
		snap.Values[eviction.SignalMemoryAvailable] = eviction.Observation{
			Available: int64(*m.AvailableBytes), Capacity: int64(*m.AvailableBytes + *m.WorkingSetBytes)}
	}
	fsSignals(snap.Values, n.Fs, eviction.SignalNodeFsAvailable, eviction.SignalNodeFsInodesFree)
	if n.Runtime != nil {
		fsSignals(snap.Values, n.Runtime.ImageFs, eviction.SignalImageFsAvailable, eviction.SignalImageFsInodesFree)
	}
	if r := n.Rlimit; r != nil && r.MaxPID != nil && r.NumOfRunningProcesses != nil {
		snap.Values[eviction.SignalPIDAvailable] = eviction.Observation{
			Available: max(*r.MaxPID-*r.NumOfRunningProcesses, 0), Capacity: *r.MaxPID}
	}
	snap.Time = time.Now()
	return snap, nil
}

// fsSignals sets a file system's bytes and inodes signals from cadvisor's
// figures, when it has them.
func fsSignals(values map[eviction.Signal]eviction.Observation, fs *statsapi.FsStats, bytes, inodes eviction.Signal) {
	if fs == nil {
		return
	}
	if fs.AvailableBytes != nil && fs.CapacityBytes != nil {
		values[bytes] = eviction.Observation{Available: int64(*fs.AvailableBytes), Capacity: int64(*fs.CapacityBytes)}
	}
	if fs.InodesFree != nil && fs.Inodes != nil {
		values[inodes] = eviction.Observation{Available: int64(*fs.InodesFree), Capacity: int64(*fs.Inodes)}
	}
}

func (s cadvisorSignals) PodUsage(ctx context.Context) (map[types.UID]eviction.PodUsage, error) {
	return s.fallback.PodUsage(ctx)
}
