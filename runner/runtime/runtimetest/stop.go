package runtimetest

import (
	"strings"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// waitLog polls the container's log until its stdout holds want.
func (h *harness) waitLog(id, want string) {
	h.t.Helper()
	h.eventually("log of "+id+" to hold "+want, func() bool {
		var out, errOut strings.Builder
		if err := h.rt.Logs(h.ctx(), id, runtime.LogOptions{Tail: -1}, &out, &errOut); err != nil {
			h.t.Fatalf("Logs(%s): %v", id, err)
		}
		return strings.Contains(out.String(), want)
	})
}

// stopTimed stops a container and returns how long it took.
func (h *harness) stopTimed(id string, grace time.Duration) time.Duration {
	h.t.Helper()
	start := time.Now()
	if err := h.rt.StopContainer(h.ctx(), id, grace); err != nil {
		h.t.Fatalf("StopContainer(%s, %v): %v", id, grace, err)
	}
	return time.Since(start)
}

// testStopGraceTrapped: a process that handles SIGTERM exits at once, long
// before the grace period, with its own exit code.
func testStopGraceTrapped(h *harness) {
	id := h.run("trap", "sh", "-c", `trap "exit 0" TERM; echo ready; sleep 3600 & wait`)
	h.waitLog(id, "ready")
	grace := 30 * time.Second
	took := h.stopTimed(id, grace)
	c := h.inspect(id)
	if c.State != runtime.StateExited || c.ExitCode != 0 {
		h.t.Errorf("after stop: state %v exit code %d, want exited, 0 (the trap's)", c.State, c.ExitCode)
	}
	if took > grace/3 {
		h.t.Errorf("stop of a process trapping SIGTERM took %v, want well under the grace %v", took, grace)
	}
}

// testStopGraceIgnored: a process that ignores SIGTERM is killed once the
// grace period is over.
func testStopGraceIgnored(h *harness) {
	id := h.run("ignore", "sh", "-c", `trap "" TERM; echo ready; sleep 3600 & wait`)
	h.waitLog(id, "ready")
	grace := 2 * time.Second
	took := h.stopTimed(id, grace)
	c := h.inspect(id)
	if c.State != runtime.StateExited || c.ExitCode != 137 {
		h.t.Errorf("after stop: state %v exit code %d, want exited, 137 (killed)", c.State, c.ExitCode)
	}
	if took < grace-grace/4 || took > grace+waitTimeout {
		h.t.Errorf("stop of a process ignoring SIGTERM took %v, want about the grace %v", took, grace)
	}
}

// testStopSignalFromSpec: StopContainer sends the spec's stop signal.
func testStopSignalFromSpec(h *harness) {
	spec := h.spec("usr1", "sh", "-c", `trap "exit 0" USR1; echo ready; sleep 3600 & wait`)
	spec.StopSignal = "SIGUSR1"
	id := h.create(spec)
	if err := h.rt.StartContainer(h.ctx(), id); err != nil {
		h.t.Fatalf("StartContainer: %v", err)
	}
	h.waitLog(id, "ready")
	grace := 30 * time.Second
	took := h.stopTimed(id, grace)
	if c := h.inspect(id); c.ExitCode != 0 || took > grace/3 {
		h.t.Errorf("stop with SIGUSR1 trapped: exit code %d after %v, want 0 well under %v", c.ExitCode, took, grace)
	}
}
