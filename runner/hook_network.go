package runner

import (
	"context"

	"github.com/runner-dev/runner/net/podnet"
	"github.com/runner-dev/runner/runner/runtime"
)

// networkHook gives the sandbox of a pod that is not on the host network
// its address (Config.Network: PodCIDR IPAM and CNI) once the pause process
// runs, and takes it back before the sandbox is stopped or removed. The
// network keeps its own records under the root dir, so a restarted runner
// detaches what an earlier one attached.
type networkHook struct{ r *Runner }

func (networkHook) Name() string { return "network" }

func (h networkHook) poststartSandbox(ctx context.Context, s *sandboxRun) error {
	if !h.r.podNetworked(s.pod) {
		return nil
	}
	sb := s.sandbox
	ip, err := h.r.cfg.Network.Attach(ctx, podnet.Sandbox{
		ID: sb.ID, Pid: sb.Pid, Pod: s.ref.key, PodUID: string(s.ref.uid), Ports: hostPorts(s.pod),
	})
	if err != nil {
		return err
	}
	s.ip = ip
	s.log.Info("sandbox network ready", "sandbox_id", shortID(sb.ID), "pod_ip", ip.String())
	return nil
}

func (h networkHook) stopSandbox(ctx context.Context, s *sandboxRun) error {
	if h.r.cfg.Network == nil || s.sandbox == nil {
		return nil
	}
	pid := 0
	if s.sandbox.State == runtime.StateRunning {
		pid = s.sandbox.Pid
	}
	return h.r.cfg.Network.Detach(ctx, s.sandbox.ID, pid)
}
