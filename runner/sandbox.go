package runner

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/net/dns"
	"github.com/runner-dev/runner/runner/runtime"
)

// podDir is where runner keeps a pod's files (volumes, termination logs).
func (r *Runner) podDir(uid types.UID) string {
	return filepath.Join(r.cfg.RootDir, "pods", string(uid))
}

// createSandbox creates and starts the pod's pause container, attempt n,
// and gives it its network. A sandbox that fails to start or to get its
// network is removed before the error is returned. It returns the sandbox
// as it is now. Called by a worker.
func (r *Runner) createSandbox(ctx context.Context, log *slog.Logger, pod *v1.Pod, attempt int, hash string) (sb seen, ip netip.Addr, err error) {
	if err := r.ensurePauseImage(ctx, log); err != nil {
		return sb, ip, err
	}
	if err := os.MkdirAll(r.podDir(pod.UID), 0o750); err != nil {
		return sb, ip, fmt.Errorf("create pod directory: %w", err)
	}
	spec := r.sandboxSpec(pod, attempt, hash)
	cctx, cancel := r.call(ctx)
	id, err := r.cfg.Runtime.CreateContainer(cctx, spec)
	cancel()
	if err != nil {
		return sb, ip, fmt.Errorf("create sandbox %s: %w", spec.Name, err)
	}
	defer func() {
		if err != nil {
			r.rollback(id)
		}
	}()
	cctx, cancel = r.call(ctx)
	err = r.cfg.Runtime.StartContainer(cctx, id)
	cancel()
	if err != nil {
		return sb, ip, fmt.Errorf("start sandbox %s: %w", spec.Name, err)
	}
	log.Info("sandbox started", "sandbox_id", shortID(id), "attempt", attempt)
	if !r.podNetworked(pod) {
		return seen{c: started(id, spec, "", time.Now()), seq: r.nextSeq()}, ip, nil
	}
	// The network needs the pause process' pid.
	seq := r.nextSeq()
	c, err := r.inspect(ctx, id)
	if err != nil {
		return sb, ip, err
	}
	if ip, err = r.attachNetwork(ctx, log, pod, c); err != nil {
		return sb, ip, err
	}
	return seen{c: c, seq: seq}, ip, nil
}

// rollback removes a half-made container on a fresh context: the caller's
// may be what failed.
func (r *Runner) rollback(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.CallTimeout)
	defer cancel()
	if err := r.cfg.Runtime.RemoveContainer(ctx, id); err != nil {
		r.log.Warn("rollback: remove container failed", "container_id", shortID(id), "error", err)
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

// stopSandbox stops a finished pod's pause container, after its network is
// released.
func (r *Runner) stopSandbox(ctx context.Context, log *slog.Logger, sb *runtime.Container) error {
	if err := r.detachNetwork(ctx, sb); err != nil {
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
