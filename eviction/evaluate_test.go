package eviction

import (
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func qty(s string) *resource.Quantity { q := resource.MustParse(s); return &q }

// mem is a snapshot with memory.available of avail out of 1000 (and disk
// of diskAvail out of 1000 when not negative).
func mem(avail, diskAvail int64) Snapshot {
	s := Snapshot{Values: map[Signal]Observation{SignalMemoryAvailable: {Available: avail, Capacity: 1000}}}
	if diskAvail >= 0 {
		s.Values[SignalNodeFsAvailable] = Observation{Available: diskAvail, Capacity: 1000}
	}
	return s
}

var (
	hardMem = Threshold{Signal: SignalMemoryAvailable, Value: Value{Quantity: qty("100")}, MinReclaim: Value{Quantity: qty("50")}}
	softMem = Threshold{Signal: SignalMemoryAvailable, Value: Value{Quantity: qty("200")}, GracePeriod: time.Minute}
	hardFS  = Threshold{Signal: SignalNodeFsAvailable, Value: Value{Percentage: 0.1}}
)

// step is one snapshot fed to Evaluate and what must come out.
type step struct {
	at      time.Duration
	snap    Snapshot
	act     string // rendered thresholds acted on
	memory  v1.ConditionStatus
	disk    v1.ConditionStatus
	changed bool
}

func runSteps(t *testing.T, thresholds []Threshold, steps []step) {
	t.Helper()
	var st State
	var lastTransition time.Time
	var prevMemory v1.ConditionStatus
	for i, s := range steps {
		now := t0.Add(s.at)
		var ev Evaluation
		st, ev = Evaluate(st, thresholds, s.snap, now, 5*time.Minute)
		if got := rendered(ev.Act); got != s.act {
			t.Errorf("step %d (+%v): act %q, want %q", i, s.at, got, s.act)
		}
		if len(ev.Conditions) != 3 {
			t.Fatalf("step %d: %d conditions", i, len(ev.Conditions))
		}
		memC, diskC, pidC := ev.Conditions[0], ev.Conditions[1], ev.Conditions[2]
		if memC.Type != v1.NodeMemoryPressure || diskC.Type != v1.NodeDiskPressure || pidC.Type != v1.NodePIDPressure || pidC.Status != v1.ConditionFalse {
			t.Fatalf("step %d: conditions %+v", i, ev.Conditions)
		}
		if memC.Status != s.memory || diskC.Status != s.disk || ev.Changed != s.changed {
			t.Errorf("step %d (+%v): memory %s disk %s changed %v, want %s %s %v", i, s.at, memC.Status, diskC.Status, ev.Changed, s.memory, s.disk, s.changed)
		}
		if i == 0 || memC.Status != prevMemory {
			lastTransition = now
		}
		prevMemory = memC.Status
		if !memC.LastTransitionTime.Time.Equal(lastTransition) {
			t.Errorf("step %d: memory's transition time %v, want %v", i, memC.LastTransitionTime, lastTransition)
		}
		if !memC.LastHeartbeatTime.Time.Equal(now) {
			t.Errorf("step %d: heartbeat %v", i, memC.LastHeartbeatTime)
		}
		if !slices.Equal(st.Conditions(), ev.Conditions) {
			t.Errorf("step %d: the state keeps other conditions", i)
		}
	}
}

const (
	T = v1.ConditionTrue
	F = v1.ConditionFalse
)

func TestEvaluateHardMinReclaimTransition(t *testing.T) {
	runSteps(t, []Threshold{hardMem}, []step{
		{at: 0, snap: mem(500, -1), memory: F, disk: F, changed: true},
		{at: 10 * time.Second, snap: mem(500, -1), memory: F, disk: F},
		{at: 20 * time.Second, snap: mem(90, -1), act: "memory.available<100 (minimum reclaim 50)", memory: T, disk: F, changed: true},
		// Above the threshold but not by the minimum reclaim: still acted on.
		{at: 30 * time.Second, snap: mem(120, -1), act: "memory.available<100 (minimum reclaim 50)", memory: T, disk: F},
		// Reclaimed: no action, but the condition holds for the transition.
		{at: 40 * time.Second, snap: mem(160, -1), memory: T, disk: F},
		// Once reclaimed, 120 no longer meets it.
		{at: 50 * time.Second, snap: mem(120, -1), memory: T, disk: F},
		// Last met at +30s (minimum reclaim): True until +5m30s.
		{at: 30*time.Second + 5*time.Minute - time.Nanosecond, snap: mem(500, -1), memory: T, disk: F},
		{at: 30*time.Second + 5*time.Minute, snap: mem(500, -1), memory: F, disk: F, changed: true},
	})
}

func TestEvaluateSoftGrace(t *testing.T) {
	runSteps(t, []Threshold{hardMem, softMem}, []step{
		// Met soft: the condition is True at once, the eviction waits.
		{at: 0, snap: mem(150, -1), memory: T, disk: F, changed: true},
		{at: 59 * time.Second, snap: mem(150, -1), memory: T, disk: F},
		{at: time.Minute, snap: mem(150, -1), act: "memory.available<200 for 1m0s", memory: T, disk: F},
		// It goes away and comes back: the grace period starts over.
		{at: 70 * time.Second, snap: mem(300, -1), memory: T, disk: F},
		{at: 80 * time.Second, snap: mem(150, -1), memory: T, disk: F},
		{at: 139 * time.Second, snap: mem(150, -1), memory: T, disk: F},
		// Both met: memory's hard one first.
		{at: 140 * time.Second, snap: mem(50, -1), act: "memory.available<100 (minimum reclaim 50); memory.available<200 for 1m0s", memory: T, disk: F},
	})
}

func TestEvaluateSignalsAndOrder(t *testing.T) {
	runSteps(t, []Threshold{hardFS, hardMem}, []step{
		// No disk reading: its threshold is never met.
		{at: 0, snap: mem(500, -1), memory: F, disk: F, changed: true},
		{at: time.Second, snap: mem(500, 50), act: "nodefs.available<10%", memory: F, disk: T, changed: true},
		{at: 2 * time.Second, snap: mem(50, 50), act: "memory.available<100 (minimum reclaim 50); nodefs.available<10%", memory: T, disk: T, changed: true},
	})
}

func TestDescribe(t *testing.T) {
	got := describe(hardFS, Snapshot{Values: map[Signal]Observation{SignalNodeFsAvailable: {Available: 50 << 20, Capacity: 1 << 30}}})
	if !strings.Contains(got, "nodefs.available available 50Mi, threshold") {
		t.Errorf("%q", got)
	}
}
