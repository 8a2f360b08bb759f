package eviction

import (
	"cmp"
	"slices"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
)

// Candidate is a running pod as Rank sees it.
type Candidate struct {
	Pod      *v1.Pod
	Priority int32
	// Usage is the pod's usage; HasUsage is false when the source had none
	// for it (such pods go first, as for the kubelet).
	Usage    PodUsage
	HasUsage bool
}

// Candidates joins pods with their priorities and usage.
func Candidates(pods []*v1.Pod, usage map[types.UID]PodUsage, priority func(*v1.Pod) int32) []Candidate {
	out := make([]Candidate, 0, len(pods))
	for _, p := range pods {
		u, ok := usage[p.UID]
		out = append(out, Candidate{Pod: p, Priority: priority(p), Usage: u, HasUsage: ok})
	}
	return out
}

// Rank orders candidates for eviction under pressure of signal, first to
// go first, as the kubelet ranks them. It is pure and sorts a copy.
//
//   - memory: pods using more than they request first, then lower priority,
//     then more use above the request;
//   - nodefs/imagefs available: the same with ephemeral-storage on that file
//     system;
//   - inodes and PIDs: lower priority first, then more inodes or processes.
//
// Pods with no usage go before all others; equal pods by namespace/name.
// Critical pods are ranked too: the manager skips them.
func Rank(signal Signal, candidates []Candidate) []Candidate {
	out := slices.Clone(candidates)
	var order []func(a, b *Candidate) int
	switch signal {
	case SignalMemoryAvailable:
		use := func(c *Candidate) int64 { return c.Usage.Memory }
		order = overRequest(use, v1.ResourceMemory)
	case SignalNodeFsAvailable:
		order = overRequest(func(c *Candidate) int64 { return c.Usage.NodeFS.Bytes }, v1.ResourceEphemeralStorage)
	case SignalImageFsAvailable:
		order = overRequest(func(c *Candidate) int64 { return c.Usage.ImageFS.Bytes }, v1.ResourceEphemeralStorage)
	case SignalNodeFsInodesFree:
		order = byPriorityThen(func(c *Candidate) int64 { return c.Usage.NodeFS.Inodes })
	case SignalImageFsInodesFree:
		order = byPriorityThen(func(c *Candidate) int64 { return c.Usage.ImageFS.Inodes })
	default:
		order = byPriorityThen(func(c *Candidate) int64 { return c.Usage.Processes })
	}
	slices.SortStableFunc(out, func(a, b Candidate) int {
		if c := cmpBool(!a.HasUsage, !b.HasUsage); c != 0 {
			return c
		}
		for _, f := range order {
			if c := f(&a, &b); c != 0 {
				return c
			}
		}
		return cmp.Or(cmp.Compare(a.Pod.Namespace, b.Pod.Namespace), cmp.Compare(a.Pod.Name, b.Pod.Name))
	})
	return out
}

// overRequest: over its request first, lower priority, more above request.
func overRequest(use func(*Candidate) int64, name v1.ResourceName) []func(a, b *Candidate) int {
	above := func(c *Candidate) int64 { return use(c) - podRequest(c.Pod, name) }
	return []func(a, b *Candidate) int{
		func(a, b *Candidate) int { return cmpBool(above(a) > 0, above(b) > 0) },
		byPriority,
		func(a, b *Candidate) int { return cmp.Compare(above(b), above(a)) },
	}
}

// byPriorityThen: lower priority, then more use.
func byPriorityThen(use func(*Candidate) int64) []func(a, b *Candidate) int {
	return []func(a, b *Candidate) int{
		byPriority,
		func(a, b *Candidate) int { return cmp.Compare(use(b), use(a)) },
	}
}

func byPriority(a, b *Candidate) int { return cmp.Compare(a.Priority, b.Priority) }

// cmpBool puts true before false.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// amount renders n of what signal measures: bytes as a binary quantity,
// inodes and PIDs as a number.
func amount(s Signal, n int64) string {
	switch s {
	case SignalMemoryAvailable, SignalNodeFsAvailable, SignalImageFsAvailable:
		return resource.NewQuantity(n, resource.BinarySI).String()
	}
	return resource.NewQuantity(n, resource.DecimalSI).String()
}
