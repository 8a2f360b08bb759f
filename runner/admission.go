package runner

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/eviction"
	"github.com/runner-dev/runner/gc"
	"github.com/runner-dev/runner/runner/runtime"
)

// Admission, eviction and garbage collection, on the loop's side. A pod
// that is not running yet starts only once it is admitted: the eviction
// manager (Config.Admitter) says no under node pressure, and --max-pods
// caps the pods that run. An evicted pod is stopped and held, and admitted
// again once the pressure is gone (unlike the kubelet, which leaves it
// failed: a manifest on disk is desired state). GC and eviction read the
// loop's pods through ask.

// Admitter says whether a pod may start now (eviction.Manager).
type Admitter interface {
	Admit(pod *v1.Pod) eviction.Admission
}

// SetAdmitter sets Config.Admitter when it can only be made once the
// Runner exists (the eviction manager needs the Runner). Call it before Run.
func (r *Runner) SetAdmitter(a Admitter) { r.cfg.Admitter = a }

// held is a pod the loop does not start: not admitted, or evicted.
type held struct {
	reason, message string
	evicted         bool
	// grace overrides the pod's grace period for the eviction's stop.
	grace *int64
	// stopped is closed once the pod has no running container (Evict
	// waits for it).
	stopped chan struct{}
}

// ReasonOutOfPods is the reason of a pod that waits because --max-pods
// pods run already (the kubelet's admission reason).
const ReasonOutOfPods = "OutOfpods"

// admit decides, for a desired pod that does not run yet, whether it may
// start; a pod with a running sandbox (adopted, or already started) is
// admitted. Called by dispatch on the loop goroutine.
func (l *loop) admit(uid types.UID, st *podState, v *podView) {
	if st.admitted || v.desired == nil {
		return
	}
	evicted := st.held != nil && st.held.evicted
	for _, c := range v.observed {
		if !evicted && isSandbox(c) && c.State == runtime.StateRunning {
			st.admitted, st.held = true, nil
			return
		}
	}
	if evicted {
		// Stopping: admitted again once stopped and the pressure is gone.
		for _, c := range v.observed {
			if c.State == runtime.StateRunning {
				return
			}
		}
	}
	if max := l.r.cfg.MaxPods; max > 0 {
		n := 0
		for u, s := range l.pods {
			if u != uid && s.admitted && l.desired[u] != nil {
				n++
			}
		}
		if n >= max {
			st.held = &held{reason: ReasonOutOfPods,
				message: fmt.Sprintf("Node didn't have enough resource: pods, requested: 1, used: %d, capacity: %d", n, max)}
			return
		}
	}
	if a := l.r.cfg.Admitter; a != nil {
		if ad := a.Admit(v.desired); !ad.Admit {
			if st.held == nil || st.held.reason != ad.Reason || st.held.message != ad.Message {
				l.r.record(l.r.podLogger(v.desired), refOf(v.desired), EventWarning, ad.Reason, "", ad.Message)
			}
			if evicted {
				return // keeps the eviction's reason and message
			}
			st.held = &held{reason: ad.Reason, message: ad.Message}
			return
		}
	}
	st.admitted, st.held = true, nil
}

// evictInput asks the loop to stop a pod and hold it (eviction.Loop.Evict).
type evictInput struct {
	e    eviction.Eviction
	done chan<- chan struct{} // receives the channel closed once stopped
}

func (in evictInput) apply(l *loop) {
	uid := in.e.Pod.UID
	if l.desired[uid] == nil {
		stopped := make(chan struct{})
		close(stopped)
		in.done <- stopped
		return
	}
	st := l.podState(uid)
	grace := in.e.GracePeriod
	st.admitted = false
	st.held = &held{reason: in.e.Reason, message: in.e.Message, evicted: true, grace: &grace, stopped: make(chan struct{})}
	st.urgent = true
	l.dirty[uid] = true
	pod := l.desired[uid]
	l.r.record(l.r.podLogger(pod), refOf(pod), EventWarning, ReasonEvicted, "", in.e.Message)
	in.done <- st.held.stopped
}

// conditionsInput hands the node conditions to the loop, which asks
// admission again for every held pod.
type conditionsInput struct{ conds []v1.NodeCondition }

func (in conditionsInput) apply(l *loop) {
	for uid, st := range l.pods {
		if st.held != nil && l.desired[uid] != nil {
			l.dirty[uid] = true
			st.urgent = true
		}
	}
}

// noteStopped closes the eviction's stopped channel of a held pod once none
// of its containers runs. Called by dispatch.
func noteStopped(st *podState, v *podView) {
	if st.held == nil || st.held.stopped == nil {
		return
	}
	for _, c := range v.observed {
		if c.State == runtime.StateRunning {
			return
		}
	}
	select {
	case <-st.held.stopped:
	default:
		close(st.held.stopped)
	}
}

// nodeConditions is what the eviction manager last said of the node.
type nodeConditions struct {
	mu    sync.Mutex
	conds []v1.NodeCondition
}

// NodeConditions are the node's pressure conditions (MemoryPressure,
// DiskPressure, PIDPressure) with their transition times, as the eviction
// manager last set them; nil without one. Safe from any goroutine.
func (r *Runner) NodeConditions() []v1.NodeCondition {
	r.conditions.mu.Lock()
	defer r.conditions.mu.Unlock()
	return slices.Clone(r.conditions.conds)
}

// SetNodeConditions implements eviction.Loop: the conditions are kept for
// the status and the API, and every held pod is admitted again. Called on
// the eviction manager's goroutine.
func (r *Runner) SetNodeConditions(ctx context.Context, conds []v1.NodeCondition) {
	r.conditions.mu.Lock()
	r.conditions.conds = slices.Clone(conds)
	r.conditions.mu.Unlock()
	r.submit(ctx, conditionsInput{conds})
}

// ActivePods implements eviction.Loop: copies of the pods the loop admitted
// and runs, with their status. Called on the eviction manager's goroutine.
func (r *Runner) ActivePods(ctx context.Context) ([]*v1.Pod, error) {
	var uids map[types.UID]bool
	err := r.ask(ctx, func(l *loop) {
		uids = map[types.UID]bool{}
		for uid, st := range l.pods {
			if st.admitted && st.held == nil && l.desired[uid] != nil {
				uids[uid] = true
			}
		}
	})
	if err != nil {
		return nil, err
	}
	var out []*v1.Pod
	for _, p := range r.status.List() {
		if uids[p.UID] && p.Status.Phase != v1.PodSucceeded && p.Status.Phase != v1.PodFailed {
			out = append(out, p.DeepCopy())
		}
	}
	return out, nil
}

// Evict implements eviction.Loop: the pod is stopped with e.GracePeriod
// and held (phase Failed, reason Evicted) until admitted again. It returns
// once the pod's containers are stopped, or with ctx's error. Called on the
// eviction manager's goroutine.
func (r *Runner) Evict(ctx context.Context, e eviction.Eviction) error {
	done := make(chan chan struct{}, 1)
	if !r.submit(ctx, evictInput{e: e, done: done}) {
		return ctx.Err()
	}
	var stopped chan struct{}
	select {
	case stopped = <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PodsForGC implements gc.Pods: which pods are desired and which a worker
// is acting on. Called on the garbage collector's goroutine.
func (r *Runner) PodsForGC(ctx context.Context) (gc.PodSet, error) {
	var set gc.PodSet
	err := r.ask(ctx, func(l *loop) {
		set.Known = l.synced && !l.partial
		set.Desired = make(map[types.UID]bool, len(l.desired))
		for uid := range maps.Keys(l.desired) {
			set.Desired[uid] = true
		}
		set.Busy = map[types.UID]bool{}
		for uid, st := range l.pods {
			if st.busy {
				set.Busy[uid] = true
			}
		}
	})
	return set, err
}

var (
	_ gc.Pods       = (*Runner)(nil)
	_ eviction.Loop = (*Runner)(nil)
)
