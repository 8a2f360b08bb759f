package e2e

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
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

// restartCounts is the highest restart count of each pod's app containers.
func (h *harness) restartCounts() map[string]int {
	out := map[string]int{}
	for _, c := range appContainers(h.containers()) {
		n, _ := strconv.Atoi(c.Labels[runner.LabelRestartCount])
		pod := c.Labels[runner.LabelPodName]
		out[pod] = max(out[pod], n)
	}
	return out
}

// awaitLogFrom waits until p printed a line containing s after offset.
func (p *proc) awaitLogFrom(t *testing.T, offset int, s string, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, "runner log line "+s, func() bool { return strings.Contains(p.Output()[offset:], s) })
}

// TestEngineRestart: dockerd stopped (its containers with it) and started
// again under 20 pods (5 times in the full torture). While it is down
// runner says so and waits (a handful of warnings logged, not a storm);
// once it answers every pod runs again, each container restarted at most
// once, and the invariants hold: nothing of the old sandboxes' network is
// left.
func TestEngineRestart(t *testing.T) {
	h, d := privateHarness(t, false)
	want := h.writePods(20)
	p := h.start()
	took := h.awaitInvariants(want, 3*time.Minute)
	t.Logf("20 pods converged %v after runner started", took.Round(time.Millisecond))

	for i := range tortureSize(1, 5) {
		before := h.restartCounts()
		mark := len(p.Output())
		stopped := stopEngine(t, d)
		p.awaitLogFrom(t, mark, engineDownLine, 30*time.Second)
		// Down for a while, as during a package upgrade: runner must wait
		// calmly.
		time.Sleep(5 * time.Second)
		startEngine(t, d)
		took = h.awaitInvariants(want, 2*time.Minute)
		p.awaitLogFrom(t, mark, engineUpLine, 10*time.Second)
		failed := failedCallsLogged(p.Output(), mark)
		t.Logf("restart %d: dockerd stopped in %v; every pod Running again and the invariants held %v after it answered; %d warnings logged while it was down:\n%s",
			i+1, stopped.Round(time.Millisecond), took.Round(time.Millisecond), len(failed), strings.Join(failed, "\n"))
		if len(failed) > 8 {
			t.Errorf("%d warnings logged while the engine was down, want a handful", len(failed))
		}
		for pod, n := range h.restartCounts() {
			if n > before[pod]+1 {
				t.Errorf("%s restarted %d times in one engine restart, want at most once", pod, n-before[pod])
			}
		}
	}
}

// TestEngineRestartLiveRestore: with live-restore the containers run on
// while dockerd restarts (3 times in the full torture); runner reconnects
// and restarts nothing.
func TestEngineRestartLiveRestore(t *testing.T) {
	h, d := privateHarness(t, true)
	want := h.writePods(20)
	p := h.start()
	h.awaitInvariants(want, 3*time.Minute)
	p.awaitLog(t, "in sync", 30*time.Second)
	before := appContainers(h.containers())

	mark := len(p.Output())
	for range tortureSize(1, 3) {
		from := len(p.Output())
		stopEngine(t, d)
		p.awaitLogFrom(t, from, engineDownLine, 30*time.Second)
		startEngine(t, d)
		p.awaitLogFrom(t, from, engineUpLine, 30*time.Second)
		h.awaitInvariants(want, time.Minute)
	}
	// Whatever runner would wrongly do after replanning, it does at once:
	// watch for a while.
	time.Sleep(5 * time.Second)
	h.awaitInvariants(want, time.Second)

	after := appContainers(h.containers())
	if len(after) != len(before) {
		t.Errorf("%d app containers before the engine restarts, %d after", len(before), len(after))
	}
	for id, c := range before {
		a, ok := after[id]
		if !ok || a.State != runtime.StateRunning {
			t.Errorf("%s is gone or stopped after a live-restore restart", c.Name)
		}
	}
	if n := strings.Count(p.Output()[mark:], "reason=Killing"); n != 0 {
		t.Errorf("runner stopped %d containers across live-restore restarts", n)
	}
	if n := strings.Count(p.Output()[mark:], "reason=Started"); n != 0 {
		t.Errorf("runner started %d containers across live-restore restarts", n)
	}
}
