package eviction

import (
	"fmt"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Reasons a pod shows.
const (
	// ReasonEvicted: the pod was evicted (phase Failed), or is held after
	// its eviction until the pressure is gone.
	ReasonEvicted = "Evicted"
	// ReasonNodePressure: a new pod waits (phase Pending) for the pressure
	// to be gone.
	ReasonNodePressure = "NodePressure"
)

// Eviction is the manager's decision to evict one pod.
type Eviction struct {
	Pod       *v1.Pod
	Signal    Signal
	Condition v1.NodeConditionType
	// Reason is ReasonEvicted; Message says which signal was low, by how
	// much, and what the pod used.
	Reason  string
	Message string
	// GracePeriod, in seconds, replaces the pod's: 0 for a hard threshold,
	// for a soft one the smaller of the pod's and the maximum.
	GracePeriod int64
}

// Choose picks the pod to evict for threshold t from ranked (Rank's
// order): the first that is not critical. It is pure. maxPodGrace is
// --eviction-max-pod-grace-period (negative: the pod's own).
func Choose(t Threshold, snap Snapshot, ranked []Candidate, maxPodGrace int64) (Eviction, bool) {
	for _, c := range ranked {
		if c.Priority >= CriticalPriority {
			continue
		}
		grace := int64(0)
		if !t.Hard() {
			grace = 30
			if g := c.Pod.Spec.TerminationGracePeriodSeconds; g != nil {
				grace = *g
			}
			if maxPodGrace >= 0 {
				grace = min(grace, maxPodGrace)
			}
		}
		return Eviction{
			Pod: c.Pod, Signal: t.Signal, Condition: ConditionOf(t.Signal), Reason: ReasonEvicted,
			Message: evictionMessage(t, snap, c), GracePeriod: grace,
		}, true
	}
	return Eviction{}, false
}

// evictionMessage is the kubelet's message, with the signal named.
func evictionMessage(t Threshold, snap Snapshot, c Candidate) string {
	obs := snap.Values[t.Signal]
	var b strings.Builder
	fmt.Fprintf(&b, "The node was low on resource: %s (%s). Threshold quantity: %s, available: %s.",
		resourceOf(t.Signal), t.Signal, amount(t.Signal, t.Value.Of(obs.Capacity)), amount(t.Signal, obs.Available))
	if !c.HasUsage {
		return b.String()
	}
	switch t.Signal {
	case SignalMemoryAvailable:
		fmt.Fprintf(&b, " The pod was using %s, request is %s.", amount(t.Signal, c.Usage.Memory), amount(t.Signal, podRequest(c.Pod, v1.ResourceMemory)))
	case SignalNodeFsAvailable, SignalImageFsAvailable:
		use := c.Usage.NodeFS.Bytes
		if t.Signal == SignalImageFsAvailable {
			use = c.Usage.ImageFS.Bytes
		}
		fmt.Fprintf(&b, " The pod was using %s, request is %s.", amount(t.Signal, use), amount(t.Signal, podRequest(c.Pod, v1.ResourceEphemeralStorage)))
	case SignalNodeFsInodesFree:
		fmt.Fprintf(&b, " The pod was using %d inodes.", c.Usage.NodeFS.Inodes)
	case SignalImageFsInodesFree:
		fmt.Fprintf(&b, " The pod was using %d inodes.", c.Usage.ImageFS.Inodes)
	case SignalPIDAvailable:
		fmt.Fprintf(&b, " The pod was running %d processes.", c.Usage.Processes)
	}
	return b.String()
}

// Admission says whether a pod may start now.
type Admission struct {
	Admit bool
	// Reason and Message say why it waits: ReasonEvicted (held since its
	// eviction) or ReasonNodePressure.
	Reason  string
	Message string
}

// admit decides whether pod (of priority) may start under the conditions
// that are True; evictedUnder is the condition it was evicted under, if it
// was and that has not cleared. It is pure. As the kubelet: critical pods
// start under any pressure; under memory pressure alone only BestEffort
// pods wait (unless they tolerate the memory-pressure taint); under disk
// or PID pressure every other pod waits.
func admit(pod *v1.Pod, priority int32, pressure map[v1.NodeConditionType]bool, evictedUnder v1.NodeConditionType) Admission {
	if evictedUnder == conditionLocalStorage {
		return Admission{Reason: ReasonEvicted, Message: "The pod was evicted because an emptyDir volume outgrew its sizeLimit; it starts again when its manifest changes or runner restarts."}
	}
	if evictedUnder != "" && pressure[evictedUnder] {
		return Admission{Reason: ReasonEvicted, Message: fmt.Sprintf(
			"The pod was evicted under %s; it starts again once the node has been out of pressure for the transition period.", evictedUnder)}
	}
	if len(pressure) == 0 || priority >= CriticalPriority {
		return Admission{Admit: true}
	}
	if len(pressure) == 1 && pressure[v1.NodeMemoryPressure] &&
		(QOSClass(pod) != v1.PodQOSBestEffort || toleratesMemoryPressure(pod)) {
		return Admission{Admit: true}
	}
	var names []string
	for _, c := range conditionTypes {
		if pressure[c] {
			names = append(names, string(c))
		}
	}
	return Admission{Reason: ReasonNodePressure, Message: fmt.Sprintf(
		"The node has condition %s; the pod starts once the node has been out of pressure for the transition period.", strings.Join(names, ", "))}
}

// toleratesMemoryPressure: the pod tolerates the taint
// node.kubernetes.io/memory-pressure:NoSchedule.
// The taint has no value, so Equal matches it with an empty value only.
func toleratesMemoryPressure(pod *v1.Pod) bool {
	return slices.ContainsFunc(pod.Spec.Tolerations, func(t v1.Toleration) bool {
		if t.Effect != "" && t.Effect != v1.TaintEffectNoSchedule {
			return false
		}
		switch t.Operator {
		case v1.TolerationOpExists:
			return t.Key == "" || t.Key == v1.TaintNodeMemoryPressure
		case v1.TolerationOpEqual, "":
			return t.Key == v1.TaintNodeMemoryPressure && t.Value == ""
		}
		return false
	})
}

// evictedRecord is a pod the manager evicted, held until its condition
// clears.
type evictedRecord struct {
	uid       types.UID
	condition v1.NodeConditionType
}
