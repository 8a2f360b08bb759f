package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/probe"
)

// postStartTimeout bounds a postStart handler: the kubelet sets none, but a
// hook that never returns must not hold the pod's worker forever.
const postStartTimeout = 2 * time.Minute

// lifecycleHook runs a container's lifecycle handlers, as the kubelet does:
// postStart right after the container started (the worker starts the pod's
// next container only after it; a failure kills the container, which then
// restarts per the pod's policy), preStop before every stop runner makes
// (pod removal, manifest edit, liveness kill, eviction), its time counted
// against the grace period. The preStop handler is read from the
// container's label, so that a pod removed while runner was down still gets
// it.
type lifecycleHook struct{ r *Runner }

func (lifecycleHook) Name() string { return "lifecycle" }

func (h lifecycleHook) poststartContainer(ctx context.Context, c *containerRun) error {
	if c.spec == nil || c.spec.Lifecycle == nil || c.spec.Lifecycle.PostStart == nil {
		return nil
	}
	hctx, cancel := context.WithTimeout(ctx, postStartTimeout)
	defer cancel()
	err := h.r.handlers.RunHook(hctx, h.r.target(c), c.spec.Lifecycle.PostStart)
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf("PostStartHook failed: %v", err)
	h.r.record(c.log, c.ref, EventWarning, ReasonFailedPostStart, c.name, msg)
	return errPostStart{msg}
}

// errPostStart is a failed postStart handler: the worker kills the
// container.
type errPostStart struct{ msg string }

func (e errPostStart) Error() string { return e.msg }

func (h lifecycleHook) prekillContainer(ctx context.Context, c *containerRun, grace time.Duration) time.Duration {
	raw := c.container.Labels[LabelPreStopHandler]
	if raw == "" || grace <= 0 {
		return grace
	}
	var handler v1.LifecycleHandler
	if err := json.Unmarshal([]byte(raw), &handler); err != nil {
		c.log.Warn("the container's preStop handler label does not decode; stopping it without", "container", c.name, "error", err)
		return grace
	}
	start := time.Now()
	hctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	if err := h.r.handlers.RunHook(hctx, h.r.target(c), &handler); err != nil {
		reason := "PreStopHook failed"
		if errors.Is(err, context.DeadlineExceeded) {
			reason = "PreStopHook did not finish within the grace period"
		}
		h.r.record(c.log, c.ref, EventWarning, ReasonFailedPreStop, c.name, fmt.Sprintf("%s: %v", reason, err))
	}
	return max(grace-time.Since(start), 0)
}

// target is what a handler needs to reach container c: its ID (exec), the
// pod's address or the host's network, its ports (named ports); from the
// pod when it is desired, else from the container's labels.
func (r *Runner) target(c *containerRun) probe.Target {
	t := probe.Target{ContainerID: c.container.ID}
	if c.spec != nil {
		t.Ports = c.spec.Ports
	} else if raw := c.container.Labels[LabelContainerPorts]; raw != "" {
		_ = json.Unmarshal([]byte(raw), &t.Ports)
	}
	switch {
	case c.pod != nil && c.pod.Spec.HostNetwork, c.pod == nil && c.container.Labels[LabelHostNetwork] == "true":
		t.HostNetwork = true
	case c.podIP.IsValid():
		t.PodIP = c.podIP.String()
	case r.cfg.Network != nil && c.sandboxID != "":
		if ip, ok := r.cfg.Network.IP(c.sandboxID); ok {
			t.PodIP = ip.String()
		}
	}
	return t
}
