package eviction

import (
	"fmt"
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// State is what Evaluate carries from one snapshot to the next. The zero
// value is the state before the first snapshot.
type State struct {
	// firstMet: when each threshold now met was first seen met.
	firstMet map[thresholdKey]time.Time
	// acting: the thresholds acted on last time; they stay met until their
	// minimum reclaim is reclaimed too.
	acting []Threshold
	// conditionSeen: when each pressure condition was last observed.
	conditionSeen map[v1.NodeConditionType]time.Time
	// conditions are the node conditions as last reported.
	conditions []v1.NodeCondition
}

// Conditions returns the node conditions as last evaluated (nil before the
// first snapshot).
func (s State) Conditions() []v1.NodeCondition { return slices.Clone(s.conditions) }

// Evaluation is what Evaluate decides from one snapshot.
type Evaluation struct {
	// Conditions are MemoryPressure, DiskPressure and PIDPressure, each True
	// while a threshold of its signals was met within the transition
	// period, with the time it last changed.
	Conditions []v1.NodeCondition
	// Changed: a condition's status differs from the last evaluation (or
	// this is the first).
	Changed bool
	// Act are the thresholds met past their grace period, memory first:
	// the first one is what the manager reclaims or evicts for.
	Act []Threshold
}

// conditionTypes are the pressure conditions, in the order reported.
var conditionTypes = []v1.NodeConditionType{v1.NodeMemoryPressure, v1.NodeDiskPressure, v1.NodePIDPressure}

// Evaluate decides, as the kubelet's eviction manager does, from prev and
// one snapshot taken at now: which thresholds are met (those acted on last
// time stay met until their minimum reclaim is reclaimed too), which of them
// are past their grace period, and the node conditions, which stay True
// until no threshold of theirs has been met for transition. It is pure.
func Evaluate(prev State, thresholds []Threshold, snap Snapshot, now time.Time, transition time.Duration) (State, Evaluation) {
	met := thresholdsMet(thresholds, snap, false)
	for _, t := range thresholdsMet(prev.acting, snap, true) {
		if !slices.ContainsFunc(met, func(m Threshold) bool { return m.key() == t.key() }) {
			met = append(met, t)
		}
	}
	next := State{firstMet: map[thresholdKey]time.Time{}, conditionSeen: map[v1.NodeConditionType]time.Time{}}
	var ev Evaluation
	for _, t := range met {
		first, ok := prev.firstMet[t.key()]
		if !ok {
			first = now
		}
		next.firstMet[t.key()] = first
		next.conditionSeen[ConditionOf(t.Signal)] = now
		if now.Sub(first) >= t.GracePeriod {
			ev.Act = append(ev.Act, t)
		}
	}
	slices.SortStableFunc(ev.Act, func(a, b Threshold) int { return signalOrder(a.Signal) - signalOrder(b.Signal) })
	next.acting = ev.Act
	for c, seen := range prev.conditionSeen {
		if _, ok := next.conditionSeen[c]; !ok {
			next.conditionSeen[c] = seen
		}
	}

	for i, c := range conditionTypes {
		seen, ok := next.conditionSeen[c]
		pressure := ok && now.Sub(seen) < transition
		if ok && !pressure {
			delete(next.conditionSeen, c)
		}
		cond := condition(c, pressure, now)
		if i < len(prev.conditions) {
			if old := prev.conditions[i]; old.Status == cond.Status {
				cond.LastTransitionTime = old.LastTransitionTime
			} else {
				ev.Changed = true
			}
		} else {
			ev.Changed = true
		}
		ev.Conditions = append(ev.Conditions, cond)
	}
	next.conditions = ev.Conditions
	return next, ev
}

// thresholdsMet are the thresholds whose signal is below their value (plus
// their minimum reclaim when enforceMinReclaim). A signal the snapshot lacks
// meets none.
func thresholdsMet(thresholds []Threshold, snap Snapshot, enforceMinReclaim bool) []Threshold {
	var out []Threshold
	for _, t := range thresholds {
		obs, ok := snap.Values[t.Signal]
		if !ok {
			continue
		}
		limit := t.Value.Of(obs.Capacity)
		if enforceMinReclaim {
			limit += t.MinReclaim.Of(obs.Capacity)
		}
		if obs.Available < limit {
			out = append(out, t)
		}
	}
	return out
}

// Condition reasons and messages, the kubelet's reasons.
var conditionText = map[v1.NodeConditionType][2][2]string{
	v1.NodeMemoryPressure: {
		{"KubeletHasSufficientMemory", "runner has sufficient memory available"},
		{"KubeletHasInsufficientMemory", "runner has insufficient memory available"},
	},
	v1.NodeDiskPressure: {
		{"KubeletHasNoDiskPressure", "runner has no disk pressure"},
		{"KubeletHasDiskPressure", "runner has disk pressure"},
	},
	v1.NodePIDPressure: {
		{"KubeletHasSufficientPID", "runner has sufficient PID available"},
		{"KubeletHasInsufficientPID", "runner has insufficient PID available"},
	},
}

func condition(c v1.NodeConditionType, pressure bool, now time.Time) v1.NodeCondition {
	i, status := 0, v1.ConditionFalse
	if pressure {
		i, status = 1, v1.ConditionTrue
	}
	t := metav1.NewTime(now)
	return v1.NodeCondition{
		Type: c, Status: status, Reason: conditionText[c][i][0], Message: conditionText[c][i][1],
		LastHeartbeatTime: t, LastTransitionTime: t,
	}
}

// pressures is the set of conditions that are True.
func pressures(conds []v1.NodeCondition) map[v1.NodeConditionType]bool {
	out := map[v1.NodeConditionType]bool{}
	for _, c := range conds {
		if c.Status == v1.ConditionTrue {
			out[c.Type] = true
		}
	}
	return out
}

// describe is a threshold's reading for messages: "memory.available 80Mi,
// threshold 100Mi".
func describe(t Threshold, snap Snapshot) string {
	obs := snap.Values[t.Signal]
	return fmt.Sprintf("%s available %s, threshold %s", t.Signal, amount(t.Signal, obs.Available), amount(t.Signal, t.Value.Of(obs.Capacity)))
}
