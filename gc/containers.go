package gc

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/runner/runtime"
)

// ContainerPolicy is the kubelet's container GC policy.
type ContainerPolicy struct {
	// MinAge: a dead container created less than MinAge ago is not
	// collected (--minimum-container-ttl-duration).
	MinAge time.Duration
	// MaxPerPodContainer is how many dead instances of each container of a
	// pod are kept (--maximum-dead-containers-per-container); <0: no limit.
	MaxPerPodContainer int
	// MaxContainers is how many dead containers are kept in all
	// (--maximum-dead-containers); <0: no limit.
	MaxContainers int
}

// DefaultContainerPolicy is the kubelet's default.
var DefaultContainerPolicy = ContainerPolicy{MinAge: 0, MaxPerPodContainer: 1, MaxContainers: -1}

// createdGrace is how long a container may sit in the created state before
// gc counts it as dead: a worker creates a container and starts it right
// after, and a pass must not remove it in between.
const createdGrace = 2 * time.Minute

// Reasons of container removals.
const (
	ReasonPodGone    = "pod is no longer desired"
	ReasonOldSandbox = "sandbox older than the pod's newest"
)

func reasonPerContainer(n int) string {
	return fmt.Sprintf("more than %d dead instances of the container", n)
}

func reasonTotal(n int) string {
	return fmt.Sprintf("more than %d dead containers in all", n)
}

// unitKey names the dead instances of one container of one pod.
type unitKey struct {
	uid  types.UID
	name string
}

// PlanContainers decides which of the engine's containers to remove: dead
// containers and sandboxes of this runner instance under the kubelet's
// policy p. It is pure; the removals come oldest first.
//
//   - Only containers labelled with instance; nothing of a pod in pods.Busy.
//   - Never a running container, nor one created less than p.MinAge ago (nor
//     one in the created state for less than two minutes).
//   - Once pods.Known, every dead container and sandbox of a pod that is not
//     desired.
//   - Of a desired pod, never the newest dead instance of each container,
//     nor its newest sandbox, nor a sandbox a remaining container refers to.
//   - Beyond that, the oldest dead instances of each container over
//     p.MaxPerPodContainer, then the oldest over p.MaxContainers in all (first
//     spread evenly over the containers, at least one each, then across).
func PlanContainers(list []runtime.Container, instance string, pods PodSet, p ContainerPolicy, now time.Time) []Removal {
	gone := func(uid types.UID) bool { return pods.Known && !pods.Desired[uid] }
	cutoff := now.Add(-p.MinAge)

	var mine, sandboxes []*runtime.Container
	for i := range list {
		c := &list[i]
		uid := types.UID(c.Labels[LabelPodUID])
		if instance == "" || c.Labels[LabelInstance] != instance || uid == "" || pods.Busy[uid] {
			continue
		}
		if c.Labels[LabelDockerType] == TypeSandbox {
			sandboxes = append(sandboxes, c)
		} else {
			mine = append(mine, c)
		}
	}
	rank := newestFirstRanks(append(slices.Clone(mine), sandboxes...))
	byRank := func(a, b *runtime.Container) int { return cmp.Compare(rank[a.ID], rank[b.ID]) }
	slices.SortFunc(mine, byRank)
	slices.SortFunc(sandboxes, byRank)

	// The newest dead instance of each container of a desired pod stays,
	// however old; the others dead long enough are candidates.
	protected := map[string]bool{}
	units := map[unitKey][]*runtime.Container{}
	var keys []unitKey
	for _, c := range mine {
		if !isDead(c, now) {
			continue
		}
		k := unitKey{types.UID(c.Labels[LabelPodUID]), c.Labels[LabelContainerName]}
		if _, seen := units[k]; !seen {
			units[k] = nil
			keys = append(keys, k)
			if !gone(k.uid) {
				protected[c.ID] = true
			}
		}
		if !c.CreatedAt.After(cutoff) {
			units[k] = append(units[k], c)
		}
	}
	slices.SortFunc(keys, func(a, b unitKey) int {
		return cmp.Or(cmp.Compare(a.uid, b.uid), cmp.Compare(a.name, b.name))
	})

	var out []Removal
	removed := map[string]bool{}
	remove := func(c *runtime.Container, kind Kind, reason string) {
		removed[c.ID] = true
		out = append(out, removalOf(c, kind, reason))
	}
	// trim keeps the newest limit instances of each unit (and the protected
	// one), removing the rest.
	trim := func(limit int, reason string) {
		for _, k := range keys {
			var kept []*runtime.Container
			for i, c := range units[k] {
				if i < limit || protected[c.ID] {
					kept = append(kept, c)
				} else {
					remove(c, KindContainer, reason)
				}
			}
			units[k] = kept
		}
	}
	count := func() (n, nonEmpty int) {
		for _, k := range keys {
			if len(units[k]) > 0 {
				n += len(units[k])
				nonEmpty++
			}
		}
		return n, nonEmpty
	}

	for _, k := range keys {
		if gone(k.uid) {
			for _, c := range units[k] {
				remove(c, KindContainer, ReasonPodGone)
			}
			units[k] = nil
		}
	}
	if p.MaxPerPodContainer >= 0 {
		trim(p.MaxPerPodContainer, reasonPerContainer(p.MaxPerPodContainer))
	}
	if n, nonEmpty := count(); p.MaxContainers >= 0 && n > p.MaxContainers {
		trim(max(p.MaxContainers/nonEmpty, 1), reasonTotal(p.MaxContainers))
		if n, _ = count(); n > p.MaxContainers {
			trimAcross(units, keys, protected, p.MaxContainers, byRank, func(c *runtime.Container) {
				remove(c, KindContainer, reasonTotal(p.MaxContainers))
			})
		}
	}

	out = append(out, planSandboxes(sandboxes, mine, removed, gone, cutoff, now)...)
	slices.SortFunc(out, func(a, b Removal) int { return cmp.Compare(rank[b.ID], rank[a.ID]) }) // oldest first
	return out
}

// trimAcross keeps the newest max dead containers over all units, the
// protected ones counted first, and hands the others to remove.
func trimAcross(units map[unitKey][]*runtime.Container, keys []unitKey, protected map[string]bool, limit int,
	newestFirst func(a, b *runtime.Container) int, remove func(*runtime.Container)) {
	var flat []*runtime.Container
	quota := limit
	for _, k := range keys {
		for _, c := range units[k] {
			if protected[c.ID] {
				quota--
			} else {
				flat = append(flat, c)
			}
		}
	}
	slices.SortFunc(flat, newestFirst)
	for i, c := range flat {
		if i >= quota {
			remove(c)
		}
	}
}

// planSandboxes decides the sandboxes to remove: every dead one of a pod
// that is gone, the dead ones older than the newest of a desired pod; never
// one that a remaining container refers to.
func planSandboxes(sandboxes, containers []*runtime.Container, removed map[string]bool, gone func(types.UID) bool, cutoff, now time.Time) []Removal {
	referenced := map[string]bool{}
	for _, c := range containers {
		if !removed[c.ID] {
			referenced[c.Labels[LabelSandboxID]] = true
		}
	}
	var out []Removal
	newest := map[types.UID]bool{}
	for _, sb := range sandboxes { // newest first
		uid := types.UID(sb.Labels[LabelPodUID])
		first := !newest[uid]
		newest[uid] = true
		if (first && !gone(uid)) || !isDead(sb, now) || sb.CreatedAt.After(cutoff) || referenced[sb.ID] {
			continue
		}
		reason := ReasonOldSandbox
		if gone(uid) {
			reason = ReasonPodGone
		}
		out = append(out, removalOf(sb, KindSandbox, reason))
	}
	return out
}

// isDead: exited, or created (or in a state the engine does not name)
// long enough ago that no worker is about to start it.
func isDead(c *runtime.Container, now time.Time) bool {
	switch c.State {
	case runtime.StateExited:
		return true
	case runtime.StateRunning:
		return false
	default:
		return now.Sub(c.CreatedAt) >= createdGrace
	}
}

// newestFirstRanks numbers containers by creation, newest first (0); the
// attempt label and the ID break ties (the engine's list has whole seconds).
func newestFirstRanks(list []*runtime.Container) map[string]int {
	type keyed struct {
		c       *runtime.Container
		attempt int
	}
	ks := make([]keyed, len(list))
	for i, c := range list {
		n, _ := strconv.Atoi(c.Labels[LabelAttempt])
		ks[i] = keyed{c, n}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		return cmp.Or(b.c.CreatedAt.Compare(a.c.CreatedAt), cmp.Compare(b.attempt, a.attempt), cmp.Compare(b.c.ID, a.c.ID))
	})
	rank := make(map[string]int, len(ks))
	for i, k := range ks {
		rank[k.c.ID] = i
	}
	return rank
}

func removalOf(c *runtime.Container, kind Kind, reason string) Removal {
	return Removal{
		Kind:      kind,
		ID:        c.ID,
		Name:      c.Name,
		Pod:       c.Labels[LabelPodNamespace] + "/" + c.Labels[LabelPodName],
		PodUID:    types.UID(c.Labels[LabelPodUID]),
		Container: c.Labels[LabelContainerName],
		Reason:    reason,
	}
}
