package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
)

// findSpec finds a container of the pod spec by name.
func findSpec(pod *v1.Pod, name string) (*v1.Container, bool) {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i], true
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i], false
		}
	}
	return nil, false
}

// startContainer makes a container's image present, creates the container
// in the pod's sandbox between its hooks' prestart (mounts) and poststart,
// and starts it. It returns the container as it is now (none when it could
// not be created) and, on failure, the waiting reason kubectl would show; a
// container that was created but failed to start is kept, its state (the
// engine's error, exit code 128) being the status and the reason for the
// backoff. Called by a worker.
func (r *Runner) startContainer(ctx context.Context, log *slog.Logger, pod *v1.Pod, a action, sandboxID, hash string, setup *sandboxSetup) (c seen, w waitingReason, err error) {
	spec, _ := findSpec(pod, a.container)
	if spec == nil {
		return c, w, fmt.Errorf("container %s is not in the pod spec", a.container)
	}
	// The container is created while its sandbox's setup runs, unless its
	// environment names the pod's address (it must be known first).
	if setup != nil && needsPodIP(spec) {
		ip, err := setup.wait()
		if err != nil {
			return c, w, &errSetup{err}
		}
		pod, setup = withPodIP(pod, ip), nil
	}
	failed := func(reason string, err error) (seen, waitingReason, error) {
		return c, waitingReason{reason: reason, message: err.Error()}, err
	}
	// The engine gone is no failure of the container (no start backoff, no
	// ErrImagePull): the worker stops and the loop waits for the engine.
	engineGone := func(err error) (seen, waitingReason, error) {
		return c, waitingReason{reason: reasonContainerCreating}, &errSandboxGone{err: err}
	}
	img, reason, err := r.ensureImage(ctx, log, pod, spec)
	if errors.Is(err, runtime.ErrUnavailable) {
		return engineGone(err)
	}
	if err != nil {
		return failed(reason, err)
	}
	env, err := r.containerEnv(pod, spec)
	if err != nil {
		return failed(reasonCreateConfigError, fmt.Errorf("container %s of pod %s: %w", spec.Name, podKey(pod), err))
	}
	create, err := r.containerSpec(pod, spec, a, sandboxID, hash, env, img)
	if err != nil {
		return failed(reasonCreateConfigError, err)
	}
	run := &containerRun{log: log, ref: refOf(pod), pod: pod, name: spec.Name, attempt: a.attempt, spec: spec,
		create: &create, sandboxID: sandboxID, podIP: podIPOf(pod), env: envMap(env), setupPending: setup != nil && !setup.finished()}
	undo := func() {
		tctx, cancel := teardownCtx(ctx, r.cfg.CallTimeout)
		defer cancel()
		if err := runPhase(r.hooks, log, "destroy container", true, func(h containerDestroyHook) error { return h.destroyContainer(tctx, run) }); err != nil {
			log.Warn("undoing the preparation of a container that was not created failed", "container", spec.Name, "error", err)
		}
	}
	if err := runPhase(r.hooks, log, "prestart container", false, func(h containerPrestartHook) error { return h.prestartContainer(ctx, run) }); err != nil {
		undo()
		return failed(reasonCreateError, fmt.Errorf("container %s of pod %s: %w", spec.Name, podKey(pod), err))
	}
	cctx, cancel := r.call(ctx)
	id, err := r.cfg.Runtime.CreateContainer(cctx, create)
	cancel()
	if err != nil {
		undo()
		err = fmt.Errorf("create container %s of pod %s: %w", spec.Name, podKey(pod), err)
		if errors.Is(err, runtime.ErrUnavailable) {
			return engineGone(err)
		}
		return failed(reasonCreateError, err)
	}
	r.record(log, run.ref, EventNormal, ReasonCreated, spec.Name, "Created container "+spec.Name, "container_id", shortID(id), "attempt", a.attempt)
	if setup != nil {
		ip, err := setup.wait()
		if err != nil {
			r.rollbackContainer(ctx, log, run, id)
			return c, w, &errSetup{err}
		}
		run.podIP = ip
	}
	cctx, cancel = r.call(ctx)
	err = r.cfg.Runtime.StartContainer(cctx, id)
	cancel()
	if err != nil {
		err = fmt.Errorf("start container %s of pod %s: %w", spec.Name, podKey(pod), err)
		if gone := r.sandboxGone(ctx, sandboxID, err); gone != nil {
			// The container never ran: its sandbox (or the engine) went
			// away. It is no attempt of the container: removed, its attempt
			// number used again, and the sandbox replaced.
			r.rollbackContainer(ctx, log, run, id)
			return c, waitingReason{reason: reasonContainerCreating}, gone
		}
		seq := r.nextSeq()
		if c, ierr := r.inspect(context.WithoutCancel(ctx), id); ierr == nil {
			return seen{c: c, seq: seq}, waitingReason{reason: reasonRunError, message: err.Error()}, err
		}
		return failed(reasonRunError, err)
	}
	r.record(log, run.ref, EventNormal, ReasonStarted, spec.Name, "Started container "+spec.Name, "container_id", shortID(id))
	c = seen{c: started(id, create, img.ID, time.Now()), seq: r.nextSeq()}
	run.container = &c.c
	if err := runPhase(r.hooks, log, "poststart container", false, func(h containerPoststartHook) error { return h.poststartContainer(ctx, run) }); err != nil {
		// A container whose postStart failed is killed; it then restarts
		// per the pod's policy, as with the kubelet.
		if serr := r.stopContainer(ctx, log, &c.c, pod, nil, ""); serr != nil {
			err = errors.Join(err, serr)
		}
		return c, waitingReason{}, err
	}
	return c, waitingReason{}, nil
}

// errSandboxGone says that a container could not start because its sandbox
// no longer runs, or the engine stopped answering: the worker stops there
// and reports the sandbox as it is (sandbox is nil when the engine did not
// answer).
type errSandboxGone struct {
	sandbox *seen
	err     error
}

func (e *errSandboxGone) Error() string { return e.err.Error() }
func (e *errSandboxGone) Unwrap() error { return e.err }

// sandboxGone tells whether a start that failed with err failed because the
// engine or the container's sandbox is gone, with what is known of the
// sandbox; nil for any other failure (the container's own: a bad command,
// a mount), which is an attempt of the container like any exit.
func (r *Runner) sandboxGone(ctx context.Context, sandboxID string, err error) *errSandboxGone {
	if errors.Is(err, runtime.ErrUnavailable) {
		return &errSandboxGone{err: err}
	}
	seq := r.nextSeq()
	sb, ierr := r.inspect(context.WithoutCancel(ctx), sandboxID)
	switch {
	case errors.Is(ierr, runtime.ErrNotFound):
		return &errSandboxGone{sandbox: &seen{c: runtime.Container{ID: sandboxID}, seq: seq}, err: err}
	case errors.Is(ierr, runtime.ErrUnavailable):
		return &errSandboxGone{err: err}
	case ierr == nil && sb.State != runtime.StateRunning:
		return &errSandboxGone{sandbox: &seen{c: sb, seq: seq}, err: err}
	}
	return nil
}

// rollbackContainer removes a container that never ran, and what its
// prestart hooks made.
func (r *Runner) rollbackContainer(ctx context.Context, log *slog.Logger, run *containerRun, id string) {
	tctx, cancel := teardownCtx(ctx, r.cfg.CallTimeout)
	defer cancel()
	if err := r.cfg.Runtime.RemoveContainer(tctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		log.Warn("a container that never ran could not be removed", "container", run.name, "container_id", shortID(id), "error", err)
		return
	}
	if err := runPhase(r.hooks, log, "destroy container", true, func(h containerDestroyHook) error { return h.destroyContainer(tctx, run) }); err != nil {
		log.Warn("undoing the preparation of a container that never ran failed", "container", run.name, "error", err)
	}
}

// needsPodIP reports whether a container's environment names the pod's
// address (the downward API's status.podIP or status.podIPs).
func needsPodIP(c *v1.Container) bool {
	for _, e := range c.Env {
		if f := e.ValueFrom; f != nil && f.FieldRef != nil && (f.FieldRef.FieldPath == "status.podIP" || f.FieldRef.FieldPath == "status.podIPs") {
			return true
		}
	}
	return false
}

// podIPOf is the pod IP a worker put in the pod's status (withPodIP).
func podIPOf(pod *v1.Pod) netip.Addr {
	ip, _ := netip.ParseAddr(pod.Status.PodIP)
	return ip
}

func findVolume(pod *v1.Pod, name string) *v1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}
