package eviction

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/internal/testenv/dockertest"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/docker"
	"github.com/runner-dev/runner/runner/runtime/runtimetest"
)

// engineLoop is the loop's part played over real containers: one container
// per pod, stopped when evicted.
type engineLoop struct {
	rt  *docker.Runtime
	ids map[*v1.Pod]string

	mu        sync.Mutex
	active    []*v1.Pod
	evictions []string
	conds     []v1.NodeCondition
}

func (l *engineLoop) ActivePods(context.Context) ([]*v1.Pod, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.active), nil
}

func (l *engineLoop) Evict(ctx context.Context, e Eviction) error {
	l.mu.Lock()
	l.evictions = append(l.evictions, e.Pod.Name)
	l.active = slices.DeleteFunc(l.active, func(p *v1.Pod) bool { return p == e.Pod })
	l.mu.Unlock()
	return l.rt.StopContainer(ctx, l.ids[e.Pod], time.Duration(e.GracePeriod)*time.Second)
}

func (l *engineLoop) SetNodeConditions(_ context.Context, conds []v1.NodeCondition) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conds = conds
}

func (l *engineLoop) memoryPressure() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conds) > 0 && l.conds[0].Status == v1.ConditionTrue
}

// TestEngineMemoryEviction runs pods as real containers holding memory in
// their /dev/shm: a BestEffort pod holding 512Mi, a Burstable one within
// its request, a system-node-critical one holding the most. With the hard
// memory.available threshold set just above what is left, the BestEffort
// pod is evicted, never the critical one; once the node has been out of
// pressure for the transition period, the evicted pod may run again.
func TestEngineMemoryEviction(t *testing.T) {
	rt := dockertest.Engine(t)
	runID := runtimetest.NewRunID()
	instance := "evtest-" + runID

	be := pod("besteffort", -1, nil, nil)
	burst := pod("burstable", -1, []string{"memory=256Mi"}, []string{"memory=512Mi"})
	crit := pod("critical", -1, nil, nil)
	crit.Spec.PriorityClassName = "system-node-critical"
	loop := &engineLoop{rt: rt, ids: map[*v1.Pod]string{}, active: []*v1.Pod{be, burst, crit}}
	hold := map[*v1.Pod]int{be: 512, burst: 32, crit: 640} // MiB in /dev/shm
	for _, p := range loop.active {
		id, err := rt.CreateContainer(t.Context(), runtime.ContainerSpec{
			Name: "runnertest_" + runID + "_" + p.Name, Image: "runner.local/busybox:test",
			Labels:  map[string]string{runtimetest.RunLabel: runID, LabelInstance: instance, LabelPodUID: string(p.UID)},
			ShmSize: 1 << 30,
			Cmd:     []string{"sh", "-c", "head -c " + strconv.Itoa(hold[p]<<20) + " /dev/zero > /dev/shm/fill; exec sleep 3600"},
		})
		testenv.Need(t, "the test image runner.local/busybox:test (testdata/setup.sh)", err)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := rt.RemoveContainer(ctx, id); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
		if err := rt.StartContainer(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		loop.ids[p] = id
	}
	src := HostSource{Engine: rt, InstanceID: instance}
	testenv.Eventually(t, time.Minute, "the pods to hold their memory", func() bool {
		usage, err := src.PodUsage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for p, mib := range hold {
			if usage[p.UID].Memory < int64(mib)<<20 {
				return false
			}
		}
		return true
	})
	snap, err := src.Signals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	left := snap.Values[SignalMemoryAvailable].Available
	// Just above what is left: met now, and no longer once 512Mi are back.
	thresholds, err := ParseThresholds(ThresholdFlags{Hard: []string{"memory.available<" + strconv.FormatInt(left+256<<20, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Source: src, Loop: loop, Thresholds: thresholds, PressureTransitionPeriod: 3 * time.Second, MonitoringInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e := m.Synchronize(t.Context())
	if e == nil || e.Pod != be || e.GracePeriod != 0 {
		t.Fatalf("evicted %+v, want the BestEffort pod at once", e)
	}
	t.Logf("evicted: %s", e.Message)
	if a := m.Admit(be); a.Admit || a.Reason != ReasonEvicted {
		t.Errorf("the evicted pod is admitted under pressure: %+v", a)
	}
	// Memory comes back; the condition clears after the transition period.
	testenv.Eventually(t, time.Minute, "MemoryPressure to clear", func() bool {
		m.Synchronize(t.Context())
		if !loop.memoryPressure() {
			return true
		}
		time.Sleep(500 * time.Millisecond)
		return false
	})
	if slices.Contains(loop.evictions, "critical") || loop.evictions[0] != "besteffort" {
		t.Errorf("evictions %v: want the BestEffort pod first and never the critical one", loop.evictions)
	}
	if a := m.Admit(be); !a.Admit {
		t.Fatalf("not re-admitted after the pressure: %+v", a)
	}
	if err := rt.StartContainer(t.Context(), loop.ids[be]); err != nil {
		t.Fatal(err)
	}
	if c, err := rt.InspectContainer(t.Context(), loop.ids[be]); err != nil || c.State != runtime.StateRunning {
		t.Errorf("the evicted pod does not run again: %v %v", c.State, err)
	}
}
