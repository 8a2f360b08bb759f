package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/net/dns"
	"github.com/runner-dev/runner/runner/runtime"
)

// createSandbox creates and starts the pod's pause container, attempt n,
// after its hooks' prestart (pod directory, volumes), and begins their
// poststart (network, DNS files) on a goroutine of its own: the worker
// creates the pod's first container meanwhile and starts it only once the
// setup is done (the kubelet's rule: a container starts after its sandbox's
// network is ready). A sandbox that fails to start, or whose setup fails,
// is taken down again (its hooks' stop phase, then removal); when that
// happens before the setup began, sb holds only the ID of that sandbox. It
// returns the sandbox as it is now. Called by a worker.
func (r *Runner) createSandbox(ctx context.Context, log *slog.Logger, pod *v1.Pod, attempt int, hash string) (sb seen, setup *sandboxSetup, err error) {
	if err := r.ensurePauseImage(ctx, log); err != nil {
		return sb, nil, err
	}
	run := &sandboxRun{log: log, ref: refOf(pod), pod: pod}
	if err := runPhase(r.hooks, log, "prestart sandbox", false, func(h sandboxPrestartHook) error { return h.prestartSandbox(ctx, run) }); err != nil {
		return sb, nil, err
	}
	spec := r.sandboxSpec(pod, attempt, hash)
	cctx, cancel := r.call(ctx)
	id, err := r.cfg.Runtime.CreateContainer(cctx, spec)
	cancel()
	if err != nil {
		return sb, nil, fmt.Errorf("create sandbox %s: %w", spec.Name, err)
	}
	defer func() {
		if err != nil {
			r.rollbackSandbox(ctx, run, id)
			// Only its ID: the engine's events of it are this step's echoes.
			sb = seen{c: runtime.Container{ID: id}}
		}
	}()
	cctx, cancel = r.call(ctx)
	err = r.cfg.Runtime.StartContainer(cctx, id)
	cancel()
	if err != nil {
		return sb, nil, fmt.Errorf("start sandbox %s: %w", spec.Name, err)
	}
	log.Info("sandbox started", "sandbox_id", shortID(id), "attempt", attempt)
	if r.podNetworked(pod) {
		// The network needs the pause process' pid.
		seq := r.nextSeq()
		c, err := r.inspect(ctx, id)
		if err != nil {
			return sb, nil, err
		}
		sb = seen{c: c, seq: seq}
	} else {
		sb = seen{c: started(id, spec, "", time.Now()), seq: r.nextSeq()}
	}
	c := sb.c
	run.sandbox = &c
	setup = &sandboxSetup{done: make(chan struct{}), sandboxID: id}
	go func() {
		defer close(setup.done)
		if err := runPhase(r.hooks, log, "poststart sandbox", false, func(h sandboxPoststartHook) error { return h.poststartSandbox(ctx, run) }); err != nil {
			r.rollbackSandbox(ctx, run, id)
			setup.err = err
			return
		}
		setup.ip = run.ip
	}()
	return sb, setup, nil
}

// sandboxSetup is the completion of a started sandbox (its poststart
// hooks: the network, the DNS files), which runs while the worker creates
// the pod's first container. It is owned by the worker that created the
// sandbox, which waits for it before it starts a container or reports.
type sandboxSetup struct {
	done      chan struct{}
	sandboxID string
	// ip and err are set before done is closed; on err the sandbox was
	// taken down again.
	ip  netip.Addr
	err error
}

// finished reports whether the setup is done.
func (s *sandboxSetup) finished() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// errSetup is a sandbox setup that failed while a container of the pod was
// being created: the container is removed, the sandbox was taken down.
type errSetup struct{ err error }

func (e *errSetup) Error() string { return e.err.Error() }
func (e *errSetup) Unwrap() error { return e.err }

// wait returns the pod's address once the setup is done. It waits even when
// ctx ends (the setup's own steps are bounded), so that the worker never
// reports while the setup still runs.
func (s *sandboxSetup) wait() (netip.Addr, error) {
	<-s.done
	return s.ip, s.err
}

// rollbackSandbox takes down a sandbox that failed half-way: its hooks'
// stop phase, then its removal, on a context of their own when ctx is done
// (ctx may be what failed).
func (r *Runner) rollbackSandbox(ctx context.Context, run *sandboxRun, id string) {
	tctx, cancel := teardownCtx(ctx, r.cfg.CallTimeout)
	defer cancel()
	if run.sandbox == nil {
		run.sandbox = &runtime.Container{ID: id, State: runtime.StateCreated}
	}
	if err := runPhase(r.hooks, run.log, "stop sandbox", true, func(h sandboxStopHook) error { return h.stopSandbox(tctx, run) }); err != nil {
		run.log.Warn("rollback of a failed sandbox: its hooks failed", "sandbox_id", shortID(id), "error", err)
	}
	if err := r.cfg.Runtime.RemoveContainer(tctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		run.log.Warn("rollback of a failed sandbox: remove failed", "sandbox_id", shortID(id), "error", err)
	}
}

// sandboxSpec is the pause container of a pod. Pure.
func (r *Runner) sandboxSpec(pod *v1.Pod, attempt int, hash string) runtime.ContainerSpec {
	labels := r.podLabels(pod)
	labels[LabelSandboxHash] = hash
	labels[LabelHashVersion] = hashVersion
	labels[LabelContainerName] = SandboxContainerName
	labels[LabelDockerType] = TypeSandbox
	labels[LabelAttempt] = strconv.Itoa(attempt)
	s := runtime.ContainerSpec{
		Name:        sandboxName(pod, attempt),
		Image:       r.cfg.PauseImage,
		Labels:      labels,
		NetworkMode: "none",
		IPCMode:     "shareable",
		StopSignal:  "SIGTERM",
		LogMaxSize:  r.cfg.LogMaxSize,
		LogMaxFiles: r.cfg.LogMaxFiles,
		Resources:   runtime.Resources{OOMScoreAdj: max(-998, r.oomFloor)},
	}
	if pod.Spec.HostNetwork {
		s.NetworkMode = "host"
		s.UTSMode = "host"
	} else {
		s.Hostname = dns.PodHostname(pod.Name, pod.Spec.Hostname)
	}
	if pod.Spec.HostIPC {
		s.IPCMode = "host"
	}
	if pod.Spec.HostPID {
		s.PIDMode = "host"
	}
	if sc := pod.Spec.SecurityContext; sc != nil && len(sc.Sysctls) > 0 {
		s.Sysctls = map[string]string{}
		for _, kv := range sc.Sysctls {
			s.Sysctls[kv.Name] = kv.Value
		}
	}
	return s
}

// stopSandbox stops a finished pod's pause container, after its hooks'
// stop phase (its network released).
func (r *Runner) stopSandbox(ctx context.Context, log *slog.Logger, pod *v1.Pod, sb *runtime.Container) error {
	run := &sandboxRun{log: log, ref: refOfContainer(sb), pod: pod, sandbox: sb}
	if err := runPhase(r.hooks, log, "stop sandbox", true, func(h sandboxStopHook) error { return h.stopSandbox(ctx, run) }); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout+2*time.Second)
	defer cancel()
	if err := r.cfg.Runtime.StopContainer(cctx, sb.ID, 2*time.Second); err != nil {
		return fmt.Errorf("stop sandbox %s: %w", shortID(sb.ID), err)
	}
	log.Info("sandbox stopped", "sandbox_id", shortID(sb.ID))
	return nil
}
