package eviction

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// world is a node for the manager's tests: the source, the loop and the
// reclaimer doubles share it. Memory available is what the active pods
// leave of free; disk is set directly.
type world struct {
	mu        sync.Mutex
	free      int64 // memory available with no pod running
	memOf     map[types.UID]int64
	diskAvail int64
	active    []*v1.Pod
	evictions []Eviction
	conds     [][]v1.NodeCondition
	reclaims  int
	reclaimTo int64 // disk available after a reclaim (0: unchanged)
	sigErr    error
}

func (w *world) Signals(context.Context) (Snapshot, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sigErr != nil {
		return Snapshot{}, w.sigErr
	}
	avail := w.free
	for _, p := range w.active {
		avail -= w.memOf[p.UID]
	}
	return Snapshot{Time: time.Now(), Values: map[Signal]Observation{
		SignalMemoryAvailable: {Available: avail, Capacity: 8 << 30},
		SignalNodeFsAvailable: {Available: w.diskAvail, Capacity: 100 << 30},
	}}, nil
}

func (w *world) PodUsage(context.Context) (map[types.UID]PodUsage, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[types.UID]PodUsage{}
	for _, p := range w.active {
		out[p.UID] = PodUsage{Memory: w.memOf[p.UID], NodeFS: DiskUse{Bytes: w.memOf[p.UID]}}
	}
	return out, nil
}

func (w *world) ActivePods(context.Context) ([]*v1.Pod, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]*v1.Pod(nil), w.active...), nil
}

func (w *world) Evict(_ context.Context, e Eviction) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.evictions = append(w.evictions, e)
	for i, p := range w.active {
		if p.UID == e.Pod.UID {
			w.active = append(w.active[:i], w.active[i+1:]...)
			break
		}
	}
	return nil
}

func (w *world) SetNodeConditions(_ context.Context, conds []v1.NodeCondition) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conds = append(w.conds, conds)
}

func (w *world) ReclaimDisk(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reclaims++
	if w.reclaimTo != 0 {
		w.diskAvail = w.reclaimTo
	}
	return nil
}

func (w *world) evicted() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, e := range w.evictions {
		out = append(out, e.Pod.Name)
	}
	return out
}

// memoryPressure returns the status of MemoryPressure as last handed over.
func (w *world) memoryPressure() v1.ConditionStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.conds) == 0 {
		return ""
	}
	return w.conds[len(w.conds)-1][0].Status
}

const mi = 1 << 20

// memoryWorld: 300Mi free, a BestEffort pod using 250Mi, a Burstable one
// using 100Mi over its 50Mi request, a critical one using 100Mi: 150Mi
// short of the 100Mi threshold until the BestEffort pod goes.
func memoryWorld() (*world, *v1.Pod, *v1.Pod, *v1.Pod) {
	be := pod("besteffort", -1, nil, nil)
	burst := pod("burstable", -1, []string{"memory=50Mi"}, nil)
	crit := pod("critical", -1, nil, nil)
	crit.Spec.PriorityClassName = "system-node-critical"
	w := &world{
		free:      300 * mi,
		memOf:     map[types.UID]int64{be.UID: 250 * mi, burst.UID: 100 * mi, crit.UID: 100 * mi},
		diskAvail: 50 << 30,
		active:    []*v1.Pod{crit, burst, be},
	}
	return w, be, burst, crit
}

func newManager(t *testing.T, w *world, log *slog.Logger, flags ThresholdFlags) *Manager {
	t.Helper()
	thresholds, err := ParseThresholds(flags)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Source: w, Loop: w, Reclaimer: w, Logger: log, Thresholds: thresholds,
		PressureTransitionPeriod: time.Minute, MonitoringInterval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// running starts m.Run and returns a stop that joins it.
func running(m *Manager) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

func TestManagerEvictsBestEffortThenReadmits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, be, burst, crit := memoryWorld()
		m := newManager(t, w, nil, ThresholdFlags{})
		stop := running(m)
		defer stop()
		synctest.Wait()
		if got := strings.Join(w.evicted(), ","); got != "besteffort" {
			t.Fatalf("evicted %q at once, want the BestEffort pod", got)
		}
		e := w.evictions[0]
		if e.GracePeriod != 0 || e.Reason != ReasonEvicted || !strings.Contains(e.Message, "memory.available") {
			t.Errorf("eviction %+v", e)
		}
		if w.memoryPressure() != v1.ConditionTrue {
			t.Fatal("MemoryPressure not reported")
		}
		// Held: the evicted pod, and new BestEffort pods, wait; others start.
		newBE := pod("new-besteffort", -1, nil, nil)
		for _, tt := range []struct {
			p      *v1.Pod
			admit  bool
			reason string
		}{{be, false, ReasonEvicted}, {newBE, false, ReasonNodePressure}, {burst, true, ""}, {crit, true, ""}} {
			if a := m.Admit(tt.p); a.Admit != tt.admit || a.Reason != tt.reason {
				t.Errorf("%s under pressure: %+v", tt.p.Name, a)
			}
		}
		// The pressure is gone at the next reading: no more evictions, the
		// condition holds for the transition period (1m), then clears.
		time.Sleep(50 * time.Second)
		synctest.Wait()
		if w.memoryPressure() != v1.ConditionTrue || len(w.evicted()) != 1 {
			t.Errorf("after 50s: %s, evicted %v", w.memoryPressure(), w.evicted())
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if w.memoryPressure() != v1.ConditionFalse {
			t.Fatalf("after the transition period: %s", w.memoryPressure())
		}
		for _, p := range []*v1.Pod{be, newBE} {
			if a := m.Admit(p); !a.Admit {
				t.Errorf("%s not re-admitted: %+v", p.Name, a)
			}
		}
	})
}

func TestManagerOnePodPerIntervalNeverCritical(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, _, _, _ := memoryWorld()
		w.free = 100 * mi // short even with every pod gone
		m := newManager(t, w, nil, ThresholdFlags{})
		stop := running(m)
		defer stop()
		synctest.Wait()
		if got := w.evicted(); len(got) != 1 {
			t.Fatalf("first reading evicted %v, want one pod", got)
		}
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if got := w.evicted(); len(got) != 1 {
			t.Fatalf("within the interval: %v", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if got := strings.Join(w.evicted(), ","); got != "besteffort,burstable" {
			t.Errorf("evicted %q, want besteffort then burstable and never the critical pod", got)
		}
	})
}

func TestManagerDiskReclaimsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, _, _, _ := memoryWorld()
		w.free = 100 << 30
		w.diskAvail = 1 << 30 // nodefs.available 1% < 10%
		w.reclaimTo = 20 << 30
		m := newManager(t, w, nil, ThresholdFlags{})
		if e := m.Synchronize(context.Background()); e != nil || w.reclaims != 1 {
			t.Fatalf("evicted %v after %d reclaims; want garbage collection to be enough", e, w.reclaims)
		}
		// Not enough: with a minimum reclaim of 15%, 20Gi of 100Gi is short.
		w.diskAvail, w.reclaimTo = 1<<30, 0
		m = newManager(t, w, nil, ThresholdFlags{MinimumReclaim: []string{"nodefs.available=15%"}})
		w.reclaimTo = 20 << 30
		e := m.Synchronize(context.Background())
		if e == nil || e.Signal != SignalNodeFsAvailable || e.Condition != v1.NodeDiskPressure || w.reclaims != 2 {
			t.Fatalf("eviction %+v after %d reclaims", e, w.reclaims)
		}
		// Disk: the largest user over its (zero) request goes first.
		if e.Pod.Name != "besteffort" {
			t.Errorf("evicted %s", e.Pod.Name)
		}
		// Under disk pressure every non-critical pod waits.
		if a := m.Admit(pod("new", -1, []string{"memory=1Gi"}, []string{"memory=1Gi"})); a.Admit || a.Reason != ReasonNodePressure {
			t.Errorf("new pod under disk pressure: %+v", a)
		}
	})
}

func TestManagerSourceFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		w, _, _, _ := memoryWorld()
		w.sigErr = errors.New("cgroup gone")
		m := newManager(t, w, slog.New(slog.NewTextHandler(&logs, nil)), ThresholdFlags{})
		stop := running(m)
		time.Sleep(time.Minute)
		synctest.Wait()
		stop()
		if len(w.evicted()) != 0 || len(w.conds) != 0 {
			t.Errorf("acted without readings: %v %v", w.evicted(), w.conds)
		}
		if n := strings.Count(logs.String(), "cgroup gone"); n != 1 {
			t.Errorf("the failure logged %d times, want once:\n%s", n, logs.String())
		}
	})
}

func TestManagerUnknownClassWarnsOnce(t *testing.T) {
	var logs bytes.Buffer
	w, _, _, _ := memoryWorld()
	m := newManager(t, w, slog.New(slog.NewTextHandler(&logs, nil)), ThresholdFlags{})
	p := pod("p", -1, nil, nil)
	p.Spec.PriorityClassName = "edge-important"
	for range 3 {
		if got := m.Priority(p); got != 0 {
			t.Errorf("priority %d", got)
		}
	}
	if n := strings.Count(logs.String(), "edge-important"); n != 1 {
		t.Errorf("warned %d times:\n%s", n, logs.String())
	}
}
