package runner

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/runner/runtime"
)

// workOrder is a plan handed to a worker.
type workOrder struct {
	uid      types.UID
	pod      *v1.Pod // nil for a teardown
	observed []*runtime.Container
	actions  []action
	hashes   map[string]string
}

// workResult is what a worker reports back to the loop.
type workResult struct {
	uid        types.UID
	containers []runtime.Container // as inspected after the actions
	removed    []string
	// waiting: container name → why it is not running ("" reason clears).
	waiting map[string]waitingReason
	// pullFailed: containers whose image could not be had (pull backoff).
	pullFailed []string
	sandboxErr string
	err        error
	// seq numbers the worker's final engine read (see Runner.nextSeq).
	seq uint64
}

// podLogger is the logger of one pod.
func (r *Runner) podLogger(pod *v1.Pod) *slog.Logger {
	return r.log.With("pod", podKey(pod), "uid", string(pod.UID))
}

// work carries out one pod's actions in order and reports to results. It
// runs on its own goroutine, started by the loop, which waits for its report
// before it plans the pod again; it stops at the first action that fails
// (a container that cannot start does not stop its siblings from starting).
func (r *Runner) work(ctx context.Context, o workOrder, results chan<- workResult) {
	res := workResult{uid: o.uid, waiting: map[string]waitingReason{}}
	defer func() { results <- res }()
	var log *slog.Logger
	if o.pod != nil {
		log = r.podLogger(o.pod)
	} else {
		key := ""
		for _, c := range o.observed {
			key = nameKeyOf(c)
		}
		log = r.log.With("pod", key, "uid", string(o.uid))
	}
	sandboxID := ""
	for _, c := range o.observed {
		if isSandbox(c) && c.State == runtime.StateRunning {
			sandboxID = c.ID
		}
	}
	var podIP netip.Addr
	if o.pod != nil {
		podIP, _ = r.sandboxIP(o.pod, sandboxID)
	}
	touched := map[string]bool{}
	for _, a := range o.actions {
		if ctx.Err() != nil {
			res.err = ctx.Err()
			break
		}
		log.Debug("action", "action", a.kind.String(), "container", a.container, "id", shortID(a.id), "reason", a.reason)
		var err error
		switch a.kind {
		case actKillPod:
			var removed []string
			removed, err = r.killPod(ctx, log, o.observed)
			res.removed = append(res.removed, removed...)
		case actStopContainer:
			err = r.stopContainer(ctx, log, findContainer(o.observed, a.id), o.pod)
			touched[a.id] = true
		case actStopSandbox:
			err = r.stopSandbox(ctx, log, findContainer(o.observed, a.id))
			touched[a.id] = true
		case actRemoveContainer:
			err = r.detachNetwork(ctx, findContainer(o.observed, a.id))
			if err == nil {
				err = r.removeContainer(ctx, a.id)
			}
			if err == nil {
				res.removed = append(res.removed, a.id)
			}
		case actCreateSandbox:
			var id string
			id, podIP, err = r.createSandbox(ctx, log, o.pod, a.attempt, o.hashes[sandboxHashKey])
			if err != nil {
				res.sandboxErr = err.Error()
			} else {
				sandboxID = id
				touched[id] = true
			}
		case actStartContainer:
			if sandboxID == "" {
				continue
			}
			var id string
			var w waitingReason
			pod := o.pod
			if podIP.IsValid() {
				pod = withPodIP(o.pod, podIP)
			}
			id, w, err = r.startContainer(ctx, log, pod, a, sandboxID, o.hashes[a.container])
			res.waiting[a.container] = w
			if id != "" {
				touched[id] = true
			}
			if err != nil {
				if w.reason == reasonErrImagePull || w.reason == reasonImagePullBackOff || w.reason == reasonErrImageNeverPull {
					res.pullFailed = append(res.pullFailed, a.container)
				}
				log.Warn("Failed", "reason", w.reason, "container", a.container, "error", err)
				err = nil // siblings still start
			}
		}
		if err != nil {
			res.err = err
			break
		}
	}
	// Report the containers touched as they are now, so the loop does not
	// plan on stale state while the engine's events are on their way.
	res.seq = r.nextSeq()
	for id := range touched {
		c, err := r.inspect(context.WithoutCancel(ctx), id)
		if errors.Is(err, runtime.ErrNotFound) {
			res.removed = append(res.removed, id)
			continue
		}
		if err == nil {
			res.containers = append(res.containers, c)
		}
	}
}

func findContainer(list []*runtime.Container, id string) *runtime.Container {
	for _, c := range list {
		if c.ID == id {
			return c
		}
	}
	return &runtime.Container{ID: id}
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// withPodIP is a copy of pod whose status carries its IP, for the
// status.podIP downward-API field.
func withPodIP(pod *v1.Pod, ip netip.Addr) *v1.Pod {
	cp := *pod
	cp.Status.PodIP = ip.String()
	cp.Status.PodIPs = []v1.PodIP{{IP: ip.String()}}
	return &cp
}
