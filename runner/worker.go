package runner

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"time"

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

// ref names the order's pod.
func (o workOrder) ref() podRef {
	if o.pod != nil {
		return refOf(o.pod)
	}
	for _, c := range o.observed {
		return refOfContainer(c)
	}
	return podRef{uid: o.uid}
}

// seen is a container as a worker knows it after its actions, with the
// number of the engine read (or call) that made it known (Runner.nextSeq).
type seen struct {
	c   runtime.Container
	seq uint64
}

// workResult is what a worker reports back to the loop, as an input.
type workResult struct {
	uid        types.UID
	containers []seen // created, started or inspected after the actions
	removed    []seen // only ID and seq are set
	// waiting: container name → why it is not running ("" reason clears).
	waiting map[string]waitingReason
	// startFailed: containers that could not be started before they ran
	// (no image, not creatable): they wait for their start backoff.
	startFailed []string
	err         error
	errReason   string // the kubelet's event reason for err
	// acted: the containers the actions touched (see noteNews).
	acted map[string]bool
	// destroyed: the pod, not desired, is gone with all it left.
	destroyed bool
}

// Event reasons of failed steps, as the kubelet names them.
const (
	reasonFailedCreateSandbox = "FailedCreatePodSandBox"
	reasonFailedKillPod       = "FailedKillPod"
	reasonFailedSync          = "FailedSync"
)

// Retry of a pod after a failed step: 1 s doubling to 30 s, with ±20 %
// jitter so that pods failing together do not retry in lock-step (the
// kubelet requeues a failed sync after 10 s).
const (
	retryInitial = time.Second
	retryMax     = 30 * time.Second
)

// retryDelay is the wait before the next attempt after failures failed
// steps in a row.
func retryDelay(failures int) time.Duration {
	d := retryInitial
	for i := 1; i < failures && d < retryMax; i++ {
		d *= 2
	}
	d = min(d, retryMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// apply folds a worker's report into the loop's state. Called on the loop
// goroutine.
func (res workResult) apply(l *loop) {
	l.running--
	st := l.podState(res.uid)
	st.busy = false
	l.dirty[res.uid] = true
	now := time.Now()
	for name, w := range res.waiting {
		if w.reason == "" {
			delete(st.waiting, name)
			delete(st.startBackoff, name)
		} else {
			st.waiting[name] = w
		}
	}
	for _, name := range res.startFailed {
		_, next := l.r.cfg.Backoff.Next(st.startBackoff[name], now, now)
		st.startBackoff[name] = next
		st.notBefore[name] = now.Add(next.Delay)
	}
	for _, s := range res.containers {
		l.putContainer(s.c, s.seq)
		if l.cache != nil && s.c.State == runtime.StateRunning {
			l.cache.put(s.c) // a relist need not inspect what a worker started
		}
	}
	for _, s := range res.removed {
		l.removeContainer(s.c.ID, s.seq)
		if l.cache != nil {
			l.cache.forget(s.c.ID)
		}
	}
	st.acted = res.acted
	st.destroyed = st.destroyed || res.destroyed
	for id := range st.news {
		if !res.acted[id] {
			st.urgent = true // news of another container came meanwhile
		}
	}
	st.news = nil
	log := l.r.log.With("uid", string(res.uid))
	if pod := l.desired[res.uid]; pod != nil {
		log = l.r.podLogger(pod)
	}
	switch {
	case errors.Is(res.err, runtime.ErrUnavailable):
		// The engine is gone: one line for every pod (engineLost), no event
		// per pod, and the pod is planned again when the engine answers.
		st.syncErr = syncError{reason: res.errReason, message: res.err.Error()}
		log.Debug(res.errReason, "reason", res.errReason, "error", res.err)
		l.engineLost(res.err)
	case res.err != nil && !errors.Is(res.err, context.Canceled):
		// Retry after a pause that grows with each failure rather than
		// spinning on the echoes of the failed step; what changed meanwhile
		// stays dirty and is seen then, a change of the desired pod at once.
		st.failures++
		delay := retryDelay(st.failures)
		st.retryAt = now.Add(delay)
		se := syncError{reason: res.errReason, message: res.err.Error()}
		if se != st.syncErr {
			ref := podRef{uid: res.uid}
			if pod := l.desired[res.uid]; pod != nil {
				ref = refOf(pod)
			}
			l.r.record(log, ref, EventWarning, res.errReason, "", res.err.Error(), "retry_in", delay.Round(time.Millisecond).String())
		} else {
			log.Debug(res.errReason, "reason", res.errReason, "error", res.err, "failures", st.failures, "retry_in", delay.Round(time.Millisecond).String())
		}
		st.syncErr = se
		if l.desired[res.uid] == nil {
			// A pod being torn down keeps its last status, which says what
			// is stuck.
			if old := l.r.status.get(res.uid); old != nil {
				cp := old.DeepCopy()
				cp.Status.Reason, cp.Status.Message = se.reason, se.message
				l.r.status.put(res.uid, cp)
			}
		}
	case res.err == nil:
		if st.syncErr != (syncError{}) {
			log.Info("pod synced again", "after_failures", st.failures)
		}
		st.failures, st.syncErr = 0, syncError{}
	}
}

// podLogger is the logger of one pod.
func (r *Runner) podLogger(pod *v1.Pod) *slog.Logger {
	return r.log.With("pod", podKey(pod), "uid", string(pod.UID))
}

// work carries out one pod's actions in order and reports to the loop. It
// runs on its own goroutine, started by the loop, which waits for its report
// before it plans the pod again; it stops at the first action that fails
// (a container that cannot start does not stop its siblings from starting).
func (r *Runner) work(ctx context.Context, o workOrder) {
	res := workResult{uid: o.uid, waiting: map[string]waitingReason{}, acted: map[string]bool{}}
	// The loop waits for this report even while shutting down.
	defer func() { r.inbox <- res }()
	if done := r.cfg.WorkerDone; done != nil {
		defer func(start time.Time) { done(o.operation(), time.Since(start)) }(time.Now())
	}
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
	// touched: containers stopped by this worker, inspected at the end for
	// their exit code.
	touched := map[string]bool{}
	removed := func(id string) {
		res.removed = append(res.removed, seen{c: runtime.Container{ID: id}, seq: r.nextSeq()})
	}
	// setup: the completion of a sandbox this worker created (network, DNS
	// files), running while it creates the first container.
	var setup *sandboxSetup
	// unremoved: removals of dead containers that failed; reported once
	// everything else was done, so that the pod is planned again.
	var unremoved error
	setupFailed := func(err error) {
		res.err, res.errReason = err, reasonFailedCreateSandbox
		removed(setup.sandboxID)
		// Made and removed again: the engine's events of it are echoes of
		// this step, not news (see noteNews).
		res.acted[setup.sandboxID] = true
	}
actions:
	for _, a := range o.actions {
		if ctx.Err() != nil {
			res.err = ctx.Err()
			break
		}
		log.Debug("action", "action", a.kind.String(), "container", a.container, "id", shortID(a.id), "reason", a.reason)
		if a.id != "" {
			res.acted[a.id] = true
		}
		if a.kind == actKillPod {
			for _, c := range o.observed {
				res.acted[c.ID] = true
			}
		}
		var err error
		switch a.kind {
		case actKillPod:
			var gone []string
			gone, err = r.killPod(ctx, log, o.pod, o.ref(), o.observed)
			for _, id := range gone {
				removed(id)
			}
			if err != nil {
				res.errReason = reasonFailedKillPod
			} else if o.pod == nil {
				res.destroyed = true
			}
		case actStopContainer:
			err = r.stopContainer(ctx, log, findContainer(o.observed, a.id), o.pod, a.grace, a.event)
			touched[a.id] = true
		case actStopSandbox:
			err = r.stopSandbox(ctx, log, o.pod, findContainer(o.observed, a.id))
			touched[a.id] = true
		case actRemoveContainer:
			err = r.removeContainer(ctx, log, findContainer(o.observed, a.id), o.pod)
			if err == nil {
				removed(a.id)
			} else if !errors.Is(err, runtime.ErrUnavailable) {
				// A dead container the engine will not remove (Docker:
				// "failed to remove root filesystem: device or resource
				// busy", for minutes) keeps no pod from running: the
				// rest goes on, and the pod's retry removes it later.
				log.Warn("a dead container cannot be removed yet; the pod goes on without waiting", "id", shortID(a.id), "reason", a.reason, "error", err)
				unremoved = errors.Join(unremoved, err)
				err = nil
			}
		case actCreateSandbox:
			var sb seen
			sb, setup, err = r.createSandbox(ctx, log, o.pod, a.attempt, o.hashes[sandboxHashKey])
			if err != nil {
				res.errReason = reasonFailedCreateSandbox
				if sb.c.ID != "" {
					// Made and removed again: the engine's events of it
					// are echoes of this step, not news (see noteNews).
					res.acted[sb.c.ID] = true
				}
			} else {
				sandboxID = sb.c.ID
				res.containers = append(res.containers, sb)
			}
		case actStartContainer:
			if sandboxID == "" {
				continue
			}
			pod := o.pod
			if podIP.IsValid() {
				pod = withPodIP(o.pod, podIP)
			}
			c, w, err := r.startContainer(ctx, log, pod, a, sandboxID, o.hashes[a.container], setup)
			if setup != nil && setup.finished() && setup.err == nil {
				podIP = setup.ip
			}
			var failedSetup *errSetup
			if errors.As(err, &failedSetup) {
				setupFailed(failedSetup.err)
				break actions
			}
			res.waiting[a.container] = w
			if c.c.ID != "" {
				res.containers = append(res.containers, c)
			}
			var gone *errSandboxGone
			if errors.As(err, &gone) {
				// Nothing more starts in a sandbox that is gone; the loop
				// replaces it (or waits for the engine) at its next plan.
				log.Info("the pod's sandbox or the engine went away; its containers wait for a new sandbox", "container", a.container, "error", err)
				switch {
				case gone.sandbox == nil:
				case gone.sandbox.c.Labels == nil:
					res.removed = append(res.removed, *gone.sandbox) // removed meanwhile
				default:
					res.containers = append(res.containers, *gone.sandbox)
				}
				if errors.Is(err, runtime.ErrUnavailable) {
					res.err, res.errReason = err, reasonFailedSync
				}
				break actions
			}
			if err != nil {
				if c.c.ID == "" {
					res.startFailed = append(res.startFailed, a.container)
				}
				r.record(log, refOf(o.pod), EventWarning, ReasonFailed, a.container, err.Error(), "waiting_reason", w.reason)
			}
			continue // siblings still start
		}
		if err != nil {
			res.err = err
			if res.errReason == "" {
				res.errReason = reasonFailedSync
			}
			break
		}
	}
	// A sandbox set up beside no container start: its setup must be done
	// before the worker reports.
	if setup != nil && res.err == nil {
		if _, err := setup.wait(); err != nil {
			setupFailed(err)
		}
	}
	if unremoved != nil && res.err == nil {
		res.err, res.errReason = unremoved, reasonFailedSync
	}
	// Report the containers stopped as they are now, so the loop does not
	// plan on stale state while the engine's events are on their way.
	for id := range touched {
		seq := r.nextSeq()
		c, err := r.inspect(context.WithoutCancel(ctx), id)
		if errors.Is(err, runtime.ErrNotFound) {
			res.removed = append(res.removed, seen{c: runtime.Container{ID: id}, seq: seq})
			continue
		}
		if err == nil {
			res.containers = append(res.containers, seen{c: c, seq: seq})
		}
	}
}

// Worker operations, as kubelet_pod_worker_duration_seconds names them.
const (
	WorkerCreate = "create" // the pod had no container yet
	WorkerSync   = "sync"
	WorkerKill   = "kill" // the pod is torn down
)

// operation is what the order does, for WorkerDone.
func (o workOrder) operation() string {
	switch {
	case o.pod == nil || (len(o.actions) > 0 && o.actions[0].kind == actKillPod):
		return WorkerKill
	case len(o.observed) == 0:
		return WorkerCreate
	}
	return WorkerSync
}

// started is the record of a container this runner has just created and
// started from spec: what the loop needs without a look at the engine.
func started(id string, spec runtime.ContainerSpec, imageID string, at time.Time) runtime.Container {
	return runtime.Container{
		ID: id, Name: spec.Name, Image: spec.Image, ImageID: imageID, Labels: spec.Labels,
		State: runtime.StateRunning, CreatedAt: at, StartedAt: at,
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
