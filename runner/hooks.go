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

// Hooks: what a sandbox and a container need around them (volumes, the
// network, DNS files, lifecycle handlers, probes) is a list of small hooks,
// one file each (hook_*.go), each implementing the phases it cares about.
// The list is built once (newHooks); the workers run a phase over it in
// order, timing each hook.
//
//	sandbox:    prestart → [engine: create, start] → poststart … stop → [engine: stop, remove] → destroy (pod)
//	container:  prestart → [engine: create, start] → poststart … prekill → [engine: stop] … destroy
//
// Teardown phases (stop, prekill, destroy) must work without their setup
// having run in this process: after a restart of runner, a pod that is no
// longer desired is torn down from what its containers' labels say (the
// grace period, the preStop handler) and from what is kept under the root
// dir (the network's records). They run on a context of their own when the
// caller's is cancelled, and every hook runs even when one fails.
type hook interface {
	// Name names the hook in logs and errors.
	Name() string
}

// sandboxPrestartHook prepares what a pod's sandbox needs before it is
// created (the pod directory, volumes).
type sandboxPrestartHook interface {
	hook
	prestartSandbox(ctx context.Context, s *sandboxRun) error
}

// sandboxPoststartHook completes a started sandbox (its network, the DNS
// files that name its address). A failure removes the sandbox.
type sandboxPoststartHook interface {
	hook
	poststartSandbox(ctx context.Context, s *sandboxRun) error
}

// sandboxStopHook undoes what poststart did, before the sandbox is stopped
// or removed; safe when poststart never ran or failed.
type sandboxStopHook interface {
	hook
	stopSandbox(ctx context.Context, s *sandboxRun) error
}

// podDestroyHook removes what is left of a pod once all its containers and
// sandboxes are gone (the pod directory).
type podDestroyHook interface {
	hook
	destroyPod(ctx context.Context, s *sandboxRun) error
}

// containerPrestartHook adds to a container's spec what it needs from the
// host before it is created (mounts), preparing the host side.
type containerPrestartHook interface {
	hook
	prestartContainer(ctx context.Context, c *containerRun) error
}

// containerPoststartHook runs after a container started (postStart, probe
// registration). A failure kills the container.
type containerPoststartHook interface {
	hook
	poststartContainer(ctx context.Context, c *containerRun) error
}

// containerPrekillHook runs before runner stops a container (preStop,
// probes stopped); it may use part of the grace period, and returns how
// much of it is left. Failures are logged by the hook, never fatal.
type containerPrekillHook interface {
	hook
	prekillContainer(ctx context.Context, c *containerRun, grace time.Duration) time.Duration
}

// containerDestroyHook removes what a container instance left on the host
// once it is removed (its subPath mounts, its termination-log directory).
type containerDestroyHook interface {
	hook
	destroyContainer(ctx context.Context, c *containerRun) error
}

// sandboxRun is what sandbox hooks share about one sandbox.
type sandboxRun struct {
	log *slog.Logger
	ref podRef
	pod *v1.Pod // nil when the pod is no longer desired
	// sandbox is the pause container (nil before it is created).
	sandbox *runtime.Container
	// ip is the pod's address once the network hook gave it one.
	ip netip.Addr
}

// containerRun is what container hooks share about one container instance.
type containerRun struct {
	log *slog.Logger
	ref podRef
	pod *v1.Pod // nil when the pod is no longer desired
	// name and attempt identify the instance; spec is its pod-spec entry
	// (nil when the pod is no longer desired).
	name    string
	attempt int
	spec    *v1.Container
	// create is what the engine is asked to create (prestart adds to it).
	create *runtime.ContainerSpec
	// container is the engine's container once it exists.
	container *runtime.Container
	sandboxID string
	podIP     netip.Addr
	// env is the container's environment, for subPathExpr.
	env map[string]string
	// setupPending: the sandbox's setup (network, DNS files) still runs;
	// the container is created meanwhile and started only after it.
	setupPending bool
}

// hooks is the ordered hook list of a runner.
type hooks []hook

// newHooks is the hook list, in the order each phase runs it: the volumes
// (the pod directory first), then the network, then the DNS files that name
// the pod's address; for containers, probes are stopped before the preStop
// handler runs. Called once by New.
func (r *Runner) newHooks() hooks {
	return hooks{volumesHook{r}, networkHook{r}, dnsHook{r}, probesHook{r}, lifecycleHook{r}}
}

// run runs phase f over every hook of type T in order, timing each; it stops
// at the first error unless all is set, in which case it runs them all and
// joins their errors.
func runPhase[T hook](hs hooks, log *slog.Logger, phase string, all bool, f func(T) error) error {
	var errs []error
	for _, h := range hs {
		t, ok := h.(T)
		if !ok {
			continue
		}
		start := time.Now()
		err := f(t)
		log.Debug("hook", "hook", h.Name(), "phase", phase, "duration", time.Since(start).Round(time.Microsecond).String(), "error", err)
		if err != nil {
			err = fmt.Errorf("%s %s: %w", phase, h.Name(), err)
			if !all {
				return err
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// teardownCtx is the context of teardown phases: the caller's while it
// lives, else a fresh one bounded by timeout, so that what was set up is
// still undone while runner shuts down or a step was cancelled.
func teardownCtx(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return context.WithTimeout(ctx, timeout)
	}
	return context.WithTimeout(context.WithoutCancel(ctx), timeout)
}
