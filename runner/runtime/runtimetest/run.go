// Package runtimetest is the contract suite of runtime.Runtime: the
// behaviour the reconcile loop relies on, checked the same way against the
// Docker adapter and the in-memory fake, so the fake stays a faithful
// stand-in. A test of an implementation calls Run.
package runtimetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// RunLabel marks every container the suite creates with the run's ID.
const RunLabel = "io.runner.test-run"

// caseLabel marks a container with the subtest that created it, so a
// subtest lists and watches only its own containers.
const caseLabel = "io.runner.test-case"

const (
	waitTimeout  = 30 * time.Second      // for a state, an event, a log line
	pollInterval = 20 * time.Millisecond // between two looks
)

// Options describe the implementation under test.
type Options struct {
	// Image is present in the engine and holds busybox (sh, sleep, touch,
	// echo...). Its containers are created with explicit commands.
	Image string
	// ImageCmd, when non-nil, is the Cmd InspectImage must report for Image.
	ImageCmd []string
	// Processes says the engine runs real processes, so that signal
	// handling and stop grace periods can be checked. A fake leaves it
	// false and implements Simulator instead.
	Processes bool
	// RunID labels the run's containers (RunLabel) and prefixes their names;
	// empty: a random one (NewRunID).
	RunID string
}

// Simulator is implemented by a runtime that runs no processes (the fake):
// the suite asks it to act out what the commands it starts would do. A
// runtime not implementing it must run the commands for real.
type Simulator interface {
	// WriteLog appends output to a container's log.
	WriteLog(id, stdout, stderr string) error
	// Exit makes a running container's process exit with code.
	Exit(id string, code int) error
	// HandleExec sets what Exec returns; fn gets Exec's context.
	HandleExec(fn func(ctx context.Context, id string, cmd []string) (runtime.ExecResult, error))
}

// NewRunID returns a random run ID: 12 lowercase hex digits, fit for
// container names, labels and image references.
func NewRunID() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Run runs the contract suite as parallel subtests of t. newRuntime is
// called once per subtest and should register its own cleanup.
func Run(t *testing.T, newRuntime func(t *testing.T) runtime.Runtime, opts Options) {
	if opts.RunID == "" {
		opts.RunID = NewRunID()
	}
	if opts.Image == "" {
		t.Fatal("runtimetest: Options.Image is required")
	}
	cases := []struct {
		name string
		fn   func(*harness)
		real bool // needs real processes
	}{
		{"Version", testVersion, false},
		{"Lifecycle", testLifecycle, false},
		{"ListByLabel", testListByLabel, false},
		{"NotFound", testNotFound, false},
		{"Conflict", testConflict, false},
		{"KillExitCode", testKillExitCode, false},
		{"ExitCode", testExitCode, false},
		{"StopGraceTrapped", testStopGraceTrapped, true},
		{"StopGraceIgnored", testStopGraceIgnored, true},
		{"StopSignalFromSpec", testStopSignalFromSpec, true},
		{"Exec", testExec, false},
		{"ExecDeadline", testExecDeadline, false},
		{"ExecOutputLimit", testExecOutputLimit, false},
		{"Logs", testLogs, false},
		{"LogsFollow", testLogsFollow, false},
		{"LogsFollowCancel", testLogsFollowCancel, false},
		{"Events", testEvents, false},
		{"EventsCancel", testEventsCancel, false},
		{"InspectImage", testInspectImage, false},
		{"PullMissing", testPullMissing, false},
		{"ImportImage", testImportImage, false},
		{"LoadImage", testLoadImage, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.real && !opts.Processes {
				t.Skip("needs an engine that runs processes (Options.Processes)")
			}
			t.Parallel()
			rt := newRuntime(t)
			sim, _ := rt.(Simulator)
			c.fn(&harness{t: t, rt: rt, sim: sim, opts: opts, caseName: c.name})
		})
	}
}

// harness holds one subtest's runtime and helpers.
type harness struct {
	t        *testing.T
	rt       runtime.Runtime
	sim      Simulator // nil: the engine runs processes itself
	opts     Options
	caseName string
}

// ctx is the context of the subtest's calls: ended with the test.
func (h *harness) ctx() context.Context {
	return h.t.Context()
}

// name is a container name unique to the run and subtest.
func (h *harness) name(suffix string) string {
	return "runnertest_" + h.opts.RunID + "_" + h.caseName + "_" + suffix
}

// labels are the labels every container of this subtest carries.
func (h *harness) labels() map[string]string {
	return map[string]string{RunLabel: h.opts.RunID, caseLabel: h.caseName}
}

// spec is a container of the test image running cmd.
func (h *harness) spec(suffix string, cmd ...string) runtime.ContainerSpec {
	return runtime.ContainerSpec{
		Name:   h.name(suffix),
		Image:  h.opts.Image,
		Labels: h.labels(),
		Cmd:    cmd,
	}
}

// create creates spec, removing the container when the test ends.
func (h *harness) create(spec runtime.ContainerSpec) string {
	h.t.Helper()
	id, err := h.rt.CreateContainer(h.ctx(), spec)
	if err != nil {
		h.t.Fatalf("CreateContainer(%s): %v", spec.Name, err)
	}
	h.t.Cleanup(func() { h.remove(id) })
	return id
}

// remove removes a container on a fresh context (the test's has ended).
func (h *harness) remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := h.rt.RemoveContainer(ctx, id); err != nil {
		h.t.Errorf("cleanup: RemoveContainer(%s): %v", id, err)
	}
}

// run creates and starts a container running cmd.
func (h *harness) run(suffix string, cmd ...string) string {
	h.t.Helper()
	id := h.create(h.spec(suffix, cmd...))
	if err := h.rt.StartContainer(h.ctx(), id); err != nil {
		h.t.Fatalf("StartContainer(%s): %v", id, err)
	}
	return id
}

// acts makes a simulated container do what its command would: write
// output, then exit with code. A real engine's container does it itself.
func (h *harness) acts(id, stdout, stderr string, code int) {
	h.t.Helper()
	if h.sim == nil {
		return
	}
	if err := h.sim.WriteLog(id, stdout, stderr); err != nil {
		h.t.Fatalf("simulate output of %s: %v", id, err)
	}
	if code >= 0 {
		if err := h.sim.Exit(id, code); err != nil {
			h.t.Fatalf("simulate exit of %s: %v", id, err)
		}
	}
}

// inspect inspects a container that must exist.
func (h *harness) inspect(id string) runtime.Container {
	h.t.Helper()
	c, err := h.rt.InspectContainer(h.ctx(), id)
	if err != nil {
		h.t.Fatalf("InspectContainer(%s): %v", id, err)
	}
	return c
}

// waitState polls until the container is in state.
func (h *harness) waitState(id string, state runtime.State) runtime.Container {
	h.t.Helper()
	var c runtime.Container
	h.eventually("container "+id+" to be "+state.String(), func() bool {
		c = h.inspect(id)
		return c.State == state
	})
	return c
}

// eventually polls cond until it holds, failing the test after waitTimeout.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(pollInterval)
	}
}

// wantErr fails unless err is (wraps) target.
func (h *harness) wantErr(call string, err, target error) {
	h.t.Helper()
	if !errors.Is(err, target) {
		h.t.Errorf("%s: got error %v, want %v", call, err, target)
	}
}

// hasLabels reports whether labels include all of want.
func hasLabels(labels, want map[string]string) bool {
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}
