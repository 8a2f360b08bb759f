package e2e

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
)

// Issue 19 on a real engine: a private dockerd stopped and started under a
// runner with 20 pods.

const (
	engineDownLine = "the container engine does not answer"
	engineUpLine   = "the container engine answers again"
)

// writePods writes n one-container pods p00, p01, ... and returns what the
// invariants expect of them.
func (h *harness) writePods(n int) []wantPod {
	h.t.Helper()
	for i := range n {
		name := fmt.Sprintf("p%02d", i)
		h.writeManifest(name+".yaml", pod(name, "Always", sleeper))
	}
	want, invalid := h.wantFromManifests()
	if len(invalid) > 0 || len(want) != n {
		h.t.Fatalf("%d pods from %d manifests (invalid: %v)", len(want), n, invalid)
	}
	return want
}

// failedCallsLogged are the warnings and errors runner logged from offset
// on, up to the line saying the engine answers again.
func failedCallsLogged(out string, offset int) []string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(out[offset:]))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, engineUpLine) {
			break
		}
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			lines = append(lines, line)
		}
	}
	return lines
}

// appContainers are the test's containers that are not sandboxes, by ID.
func appContainers(cs []runtime.Container) map[string]runtime.Container {
	out := map[string]runtime.Container{}
	for _, c := range cs {
		if c.Labels[runner.LabelDockerType] == runner.TypeContainer {
			out[c.ID] = c
		}
	}
	return out
}

// TestEngineRestart: dockerd stopped (its containers with it) and started
// again under 20 pods. While it is down runner says so and waits (a
// handful of failures logged, not a storm); once it answers every pod runs
// again, each container restarted at most once, and nothing of the old
// sandboxes' network is left.
func TestEngineRestart(t *testing.T) {
	h, d := privateHarness(t, false)
	want := h.writePods(20)
	p := h.start()
	took := h.awaitInvariants(want, 3*time.Minute)
	t.Logf("20 pods converged %v after runner started", took.Round(time.Millisecond))

	mark := len(p.Output())
	stopped := stopEngine(t, d)
	t.Logf("dockerd stopped in %v", stopped.Round(time.Millisecond))
	p.awaitLog(t, engineDownLine, 30*time.Second)
	// Down for a while, as during a package upgrade: runner must wait calmly.
	time.Sleep(5 * time.Second)
	startEngine(t, d)
	took = h.awaitInvariants(want, 2*time.Minute)
	t.Logf("every pod Running again %v after the engine answered", took.Round(time.Millisecond))
	p.awaitLog(t, engineUpLine, 10*time.Second)

	failed := failedCallsLogged(p.Output(), mark)
	t.Logf("%d warnings logged while the engine was down:\n%s", len(failed), strings.Join(failed, "\n"))
	if len(failed) > 8 {
		t.Errorf("%d warnings logged while the engine was down, want a handful", len(failed))
	}
	for _, c := range appContainers(h.containers()) {
		if c.State != runtime.StateRunning {
			continue
		}
		if n, _ := strconv.Atoi(c.Labels[runner.LabelRestartCount]); n > 1 {
			t.Errorf("%s runs as restart %d after one engine restart, want at most 1", c.Name, n)
		}
	}
}

// TestEngineRestartLiveRestore: with live-restore the containers run on
// while dockerd restarts; runner reconnects and restarts nothing.
func TestEngineRestartLiveRestore(t *testing.T) {
	h, d := privateHarness(t, true)
	want := h.writePods(20)
	p := h.start()
	h.awaitInvariants(want, 3*time.Minute)
	p.awaitLog(t, "in sync", 30*time.Second)
	before := appContainers(h.containers())

	mark := len(p.Output())
	stopEngine(t, d)
	p.awaitLog(t, engineDownLine, 30*time.Second)
	startEngine(t, d)
	p.awaitLog(t, engineUpLine, 30*time.Second)
	h.awaitInvariants(want, time.Minute)
	// Whatever runner would wrongly do after replanning, it does at once:
	// watch for a while.
	time.Sleep(5 * time.Second)
	h.awaitInvariants(want, time.Second)

	after := appContainers(h.containers())
	if len(after) != len(before) {
		t.Errorf("%d app containers before the engine restart, %d after", len(before), len(after))
	}
	for id, c := range before {
		a, ok := after[id]
		if !ok || a.State != runtime.StateRunning {
			t.Errorf("%s is gone or stopped after a live-restore restart", c.Name)
		}
	}
	if n := strings.Count(p.Output()[mark:], "reason=Killing"); n != 0 {
		t.Errorf("runner stopped %d containers across a live-restore restart", n)
	}
	if n := strings.Count(p.Output()[mark:], "reason=Started"); n != 0 {
		t.Errorf("runner started %d containers across a live-restore restart", n)
	}
}
