package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
)

// killPod tears a pod down: its app containers get their prekill hooks
// (preStop), their stop signal, the grace period and then SIGKILL, all in
// parallel; then the containers are removed (and what they left on the
// host), then the sandboxes (after their hooks' stop phase: the network),
// and last what the pod left (its directory). A container that cannot be
// stopped or removed does not hold the rest hostage: every step is tried,
// the network of the sandboxes is released in any case, and the error says
// what is stuck (the worker's retry tries again, with backoff). It returns
// the IDs it removed. pod is nil when the pod is no longer desired: the
// containers' labels then say what teardown needs. Called by a worker.
func (r *Runner) killPod(ctx context.Context, log *slog.Logger, pod *v1.Pod, ref podRef, observed []*runtime.Container) ([]string, error) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, c := range observed {
		if isSandbox(c) || c.State != runtime.StateRunning {
			continue
		}
		wg.Go(func() {
			if err := r.stopContainer(ctx, log, c, pod, nil, ""); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var removed []string
	for _, sandboxes := range []bool{false, true} {
		for _, c := range observed {
			if isSandbox(c) != sandboxes {
				continue
			}
			if err := r.removeContainer(ctx, log, c, pod); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, c.ID)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("%d of %d containers of the pod are not removed yet: %w", len(observed)-len(removed), len(observed), err)
	}
	run := &sandboxRun{log: log, ref: ref, pod: pod}
	if err := runPhase(r.hooks, log, "destroy pod", true, func(h podDestroyHook) error { return h.destroyPod(ctx, run) }); err != nil {
		return removed, err
	}
	log.Info("pod removed", "containers", len(removed))
	return removed, nil
}

// stopContainer stops one container: its prekill hooks (preStop), then
// its stop signal and, after what is left of the grace period, SIGKILL. The
// grace period is the override's when given (a probe's), else the pod's,
// from the pod when it is still desired, else from the container's label.
func (r *Runner) stopContainer(ctx context.Context, log *slog.Logger, c *runtime.Container, pod *v1.Pod, override *int64, why string) error {
	if c.State == runtime.StateExited {
		return nil
	}
	grace := int64(30)
	switch {
	case override != nil:
		grace = *override
	case pod != nil:
		grace = gracePeriod(pod)
	default:
		if g, err := strconv.ParseInt(c.Labels[LabelGracePeriod], 10, 64); err == nil {
			grace = g
		}
	}
	name, attempt := instanceOf(c.Labels)
	if why == "" {
		why = "Stopping container " + name
	}
	r.record(log, refOfContainer(c), EventNormal, ReasonKilling, name, why, "grace_period", grace)
	run := &containerRun{log: log, ref: refOfContainer(c), pod: pod, name: name, attempt: attempt, container: c, sandboxID: c.Labels[LabelSandboxID]}
	if pod != nil {
		run.spec, _ = findSpec(pod, name)
	}
	full := time.Duration(grace) * time.Second
	d := full
	_ = runPhase(r.hooks, log, "prekill container", true, func(h containerPrekillHook) error {
		d = h.prekillContainer(ctx, run, d)
		return nil
	})
	// The stop signal gets what the prekill hooks left of the grace period,
	// and at least 2 s of it, as the kubelet gives.
	d = max(d, min(full, 2*time.Second))
	cctx, cancel := context.WithTimeout(ctx, d+r.cfg.CallTimeout)
	defer cancel()
	if err := r.cfg.Runtime.StopContainer(cctx, c.ID, d); err != nil {
		return fmt.Errorf("stop container %s (%s): %w", name, shortID(c.ID), err)
	}
	return nil
}

// removeContainer removes a container: a sandbox after its hooks' stop
// phase (its network released), a container followed by its destroy phase
// (what it left on the host). One that is gone is success.
func (r *Runner) removeContainer(ctx context.Context, log *slog.Logger, c *runtime.Container, pod *v1.Pod) error {
	if isSandbox(c) {
		// The network goes first, and even when the removal then fails.
		run := &sandboxRun{log: log, ref: refOfContainer(c), pod: pod, sandbox: c}
		if err := runPhase(r.hooks, log, "stop sandbox", true, func(h sandboxStopHook) error { return h.stopSandbox(ctx, run) }); err != nil {
			return err
		}
	}
	cctx, cancel := r.call(ctx)
	defer cancel()
	if err := r.cfg.Runtime.RemoveContainer(cctx, c.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("remove container %s: %w", shortID(c.ID), err)
	}
	if isSandbox(c) {
		return nil
	}
	name, attempt := instanceOf(c.Labels)
	run := &containerRun{log: log, ref: refOfContainer(c), pod: pod, name: name, attempt: attempt, container: c}
	return runPhase(r.hooks, log, "destroy container", true, func(h containerDestroyHook) error { return h.destroyContainer(ctx, run) })
}
