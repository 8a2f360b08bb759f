package main

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/runner-dev/runner/eviction"
)

type fixedSource struct{ snap eviction.Snapshot }

func (f fixedSource) Signals(context.Context) (eviction.Snapshot, error) { return f.snap, nil }
func (f fixedSource) PodUsage(context.Context) (map[types.UID]eviction.PodUsage, error) {
	return nil, nil
}

// TestSignalsFallBackUntilCadvisor: before cadvisor has started, the
// eviction signals are the host source's.
func TestSignalsFallBackUntilCadvisor(t *testing.T) {
	host := fixedSource{eviction.Snapshot{Values: map[eviction.Signal]eviction.Observation{
		eviction.SignalMemoryAvailable: {Available: 1, Capacity: 2}}}}
	s := cadvisorSignals{o: &observer{}, fallback: host}
	snap, err := s.Signals(context.Background())
	if err != nil || snap.Values[eviction.SignalMemoryAvailable].Capacity != 2 {
		t.Errorf("Signals = %+v, %v; want the host source's", snap, err)
	}
}

func TestFsSignals(t *testing.T) {
	u := func(n uint64) *uint64 { return &n }
	values := map[eviction.Signal]eviction.Observation{}
	fsSignals(values, &statsapi.FsStats{AvailableBytes: u(10), CapacityBytes: u(100), InodesFree: u(5), Inodes: u(50)},
		eviction.SignalNodeFsAvailable, eviction.SignalNodeFsInodesFree)
	if values[eviction.SignalNodeFsAvailable] != (eviction.Observation{Available: 10, Capacity: 100}) ||
		values[eviction.SignalNodeFsInodesFree] != (eviction.Observation{Available: 5, Capacity: 50}) {
		t.Errorf("values = %+v", values)
	}
	fsSignals(values, &statsapi.FsStats{}, eviction.SignalImageFsAvailable, eviction.SignalImageFsInodesFree)
	if _, ok := values[eviction.SignalImageFsAvailable]; ok {
		t.Error("a figure cadvisor did not give was invented")
	}
}
