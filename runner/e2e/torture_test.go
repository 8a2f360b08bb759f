package e2e

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
)

// The torture (issue 17): crashes, restarts and bad input, with the
// invariant checker after each. `make test` runs a short variant of each
// (the whole within 3 minutes on two cores); `make torture` the full one
// (RUNNER_TORTURE=full). RUNNER_TORTURE_SEED repeats a run's random choices.

// tortureFull reports whether the full variant runs.
func tortureFull() bool { return os.Getenv("RUNNER_TORTURE") == "full" }

// tortureSize is short in the short variant, full in the full one.
func tortureSize(short, full int) int {
	if tortureFull() {
		return full
	}
	return short
}

// tortureSeed is the seed of a torture's random choices, logged so that a
// failing run can be repeated.
func tortureSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("RUNNER_TORTURE_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("RUNNER_TORTURE_SEED: %v", err)
		}
	}
	t.Logf("seed %d (RUNNER_TORTURE_SEED=%d repeats this run)", seed, seed)
	return seed
}

// convergeWithin is how long the invariants may take to hold after a crash
// (issue 17: 10 s). The short variant, run on a loaded machine inside
// `make test`, fails only past convergeLimit and reports the worst time.
const (
	convergeWithin = 10 * time.Second
	convergeLimit  = 45 * time.Second
)

// TestTortureCrashChurn kills runner with SIGKILL at random moments while
// manifest files and the URL body change at random (add, edit, remove,
// invalid, half-written; new bodies, invalid bodies, errors), restarts it,
// and checks the invariants after each crash: runner must converge on
// exactly what the model says, leaving nothing behind. 200 crashes in the
// full variant.
func TestTortureCrashChurn(t *testing.T) {
	h := newHarness(t)
	c := newChurn(h, tortureSeed(t), tortureSize(6, 10), tortureSize(3, 4))
	h.extraFlags = append(h.extraFlags, c.urlFlags()...)
	h.extraFlags = append(h.extraFlags, "--log-level", "info")
	iterations := tortureSize(20, 200)

	p, a, _ := h.startWithAPI()
	var times []time.Duration
	for i := range iterations {
		// Churn for up to 2 s, with the crash somewhere in it; what comes
		// after the crash is seen by the next runner at its start.
		window := time.Duration(c.rng.IntN(2000)) * time.Millisecond
		killAt := time.Duration(c.rng.Int64N(int64(window) + 1))
		ops := make([]time.Duration, 1+c.rng.IntN(3))
		for j := range ops {
			ops[j] = time.Duration(c.rng.Int64N(int64(window) + 1))
		}
		slices.Sort(ops)
		start, killed := time.Now(), false
		for _, at := range ops {
			if !killed && at >= killAt {
				time.Sleep(time.Until(start.Add(killAt)))
				p.kill()
				killed = true
			}
			time.Sleep(time.Until(start.Add(at)))
			c.step()
		}
		if !killed {
			time.Sleep(time.Until(start.Add(killAt)))
			p.kill()
		}
		p, a, _ = h.startWithAPI()
		took := h.awaitInvariants(c.want(), convergeLimit)
		testenv.Eventually(t, convergeLimit, "/pods consistent with the engine", func() bool { return len(h.statusViolations(a, c.want())) == 0 })
		c.settle()
		times = append(times, took)
		if took > convergeWithin {
			msg := fmt.Sprintf("crash %d: the invariants held %v after the restart, more than %v", i, took.Round(time.Millisecond), convergeWithin)
			if tortureFull() {
				t.Error(msg)
			} else {
				t.Log(msg)
			}
		}
	}
	slices.Sort(times)
	t.Logf("%d crashes under churn (%s): invariants held after each; convergence after the restart median %v, p90 %v, worst %v",
		iterations, opsSummary(c.ops), times[len(times)/2].Round(time.Millisecond), times[len(times)*9/10].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))

	// Everything goes: nothing may be left.
	c.clear()
	h.awaitInvariants(c.want(), convergeLimit)
	fds, threads := procStats(p)
	t.Logf("the last runner: %d open files, %d threads", fds, threads)
}

// opsSummary is "add 12, edit 30, ..." in a stable order.
func opsSummary(ops map[string]int) string {
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, ops[k]))
	}
	return strings.Join(parts, ", ")
}

// procStats reads a running process's open file descriptors and threads.
func procStats(p *proc) (fds, threads int) {
	pid := p.cmd.Process.Pid
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err == nil {
		fds = len(entries)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err == nil {
		for line := range strings.SplitSeq(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "Threads:"); ok {
				threads, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
	}
	return fds, threads
}
