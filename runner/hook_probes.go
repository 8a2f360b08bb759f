package runner

import (
	"context"
	"time"
)

// probesHook stops a container's probe workers before runner stops the
// container, so that no probe of a container being killed is reported. The
// loop starts them (see syncProbes): for containers this process started
// and for those it adopted running.
type probesHook struct{ r *Runner }

func (probesHook) Name() string { return "probes" }

func (h probesHook) prekillContainer(_ context.Context, c *containerRun, grace time.Duration) time.Duration {
	h.r.probes.Stop(c.container.ID)
	return grace
}
