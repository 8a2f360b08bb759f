package runner

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/runner/restart"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// testImage is the image every test pod runs; the fake has it present.
const testImage = "runner.local/busybox:test"

// epoch is the start of every fake clock.
var epoch = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// loadPod loads one pod from a YAML manifest, as the file source would: with
// defaults, the static name, a content-derived UID and validation.
func loadPod(t *testing.T, yaml string) *v1.Pod {
	t.Helper()
	pods, problems := manifest.Load("/etc/runner/manifests/test.yaml", []byte(yaml), manifest.Options{
		Source: manifest.SourceFile,
		Now:    func() time.Time { return epoch },
	})
	if len(problems) > 0 {
		t.Fatalf("manifest.Load: %v", problems)
	}
	if len(pods) != 1 {
		t.Fatalf("manifest.Load: %d pods, want 1", len(pods))
	}
	return pods[0]
}

// podYAML is a pod manifest named name with one app container per entry of
// containers ("name" or "name:command"), under restartPolicy policy ("" for
// the default), running testImage.
func podYAML(name, policy string, containers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: ns\nspec:\n", name)
	if policy != "" {
		fmt.Fprintf(&b, "  restartPolicy: %s\n", policy)
	}
	b.WriteString("  containers:\n")
	for _, c := range containers {
		n, cmd, _ := strings.Cut(c, ":")
		fmt.Fprintf(&b, "  - name: %s\n    image: %s\n", n, testImage)
		if cmd != "" {
			fmt.Fprintf(&b, "    command: [%q]\n", cmd)
		}
	}
	return b.String()
}

func snapshotOf(pods ...*v1.Pod) manifest.Snapshot {
	s := manifest.Snapshot{Source: manifest.SourceFile}
	for _, p := range pods {
		s.Pods = append(s.Pods, manifest.Pod{Pod: p, Origin: "/etc/runner/manifests/test.yaml"})
	}
	return s
}

// observedSandbox is a sandbox of pod as the engine would report it, with
// the labels sandboxSpec gives it and ID "sb<attempt>".
func observedSandbox(pod *v1.Pod, attempt int, state runtime.State) *runtime.Container {
	c := &runtime.Container{
		ID:    "sb" + strconv.Itoa(attempt),
		Name:  sandboxName(pod, attempt),
		State: state,
		Labels: map[string]string{
			LabelPodName: pod.Name, LabelPodNamespace: pod.Namespace, LabelPodUID: string(pod.UID),
			LabelContainerName: SandboxContainerName, LabelDockerType: TypeSandbox,
			LabelAttempt: strconv.Itoa(attempt), LabelInstance: "test", LabelHashVersion: hashVersion,
			LabelSandboxHash: sandboxHash(pod),
		},
		CreatedAt: epoch.Add(time.Duration(attempt) * time.Minute),
	}
	stamp(c)
	return c
}

// observedContainer is container name of pod, attempt n, in sandbox sb, with
// the hash label hash, as the engine would report it; ID "<name><attempt>".
func observedContainer(pod *v1.Pod, name string, attempt int, sb *runtime.Container, hash string, state runtime.State, exitCode int) *runtime.Container {
	c := &runtime.Container{
		ID:       name + strconv.Itoa(attempt),
		Name:     containerName(name, pod, attempt),
		State:    state,
		ExitCode: exitCode,
		Labels: map[string]string{
			LabelPodName: pod.Name, LabelPodNamespace: pod.Namespace, LabelPodUID: string(pod.UID),
			LabelContainerName: name, LabelDockerType: TypeContainer, LabelSandboxID: sb.ID,
			LabelContainerHash: hash, LabelAttempt: strconv.Itoa(attempt), LabelHashVersion: hashVersion,
			LabelRestartCount: strconv.Itoa(attempt), LabelInstance: "test",
		},
		CreatedAt: sb.CreatedAt.Add(time.Duration(attempt+1) * time.Second),
	}
	stamp(c)
	return c
}

// stamp sets the start and finish times a container in its state has.
func stamp(c *runtime.Container) {
	if c.State == runtime.StateRunning || c.State == runtime.StateExited {
		c.StartedAt = c.CreatedAt.Add(100 * time.Millisecond)
	}
	if c.State == runtime.StateExited {
		c.FinishedAt = c.StartedAt.Add(time.Second)
	}
}

// fastBackoff keeps restart tests quick: the first restart is immediate, the
// next wait a few milliseconds.
var fastBackoff = restart.Policy{Initial: 20 * time.Millisecond, Max: 80 * time.Millisecond, Reset: time.Hour}

// newFakeRuntime is a fake engine with the pause image and testImage
// present.
func newFakeRuntime() *fake.Runtime {
	rt := fake.New()
	rt.AddImage(runtime.Image{RepoTags: []string{DefaultPauseImage}})
	rt.AddImage(runtime.Image{RepoTags: []string{testImage}})
	return rt
}

// harness runs a Runner over a fake engine on its own goroutine.
type harness struct {
	t      *testing.T
	rt     *fake.Runtime
	r      *Runner
	snaps  chan manifest.Snapshot
	cancel context.CancelFunc
	done   chan error
	// firstCall is the index in rt.Calls() of the first call this runner
	// could have made.
	firstCall int
}

// startRunner starts a Runner over rt (or over cfg.Runtime, a wrapper of
// rt, when set) with instance id "inst" (unless cfg says otherwise), a fast
// backoff and a temporary root dir, and returns once it has adopted what
// the engine holds; it is stopped in t.Cleanup if the test did not stop it.
// Call it inside a testing/synctest bubble (see bubble): the loop then runs
// in virtual time.
func startRunner(t *testing.T, rt *fake.Runtime, cfg Config) *harness {
	t.Helper()
	if cfg.Runtime == nil {
		cfg.Runtime = rt
	}
	if cfg.RootDir == "" {
		cfg.RootDir = t.TempDir()
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = "inst"
	}
	if cfg.Backoff == (restart.Policy{}) {
		cfg.Backoff = fastBackoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, rt: rt, r: r, snaps: make(chan manifest.Snapshot), cancel: cancel, done: make(chan error, 1), firstCall: len(rt.Calls())}
	go func() { h.done <- r.Run(ctx, h.snaps) }()
	t.Cleanup(func() { h.stop() })
	synctest.Wait() // adopted: the loop waits for its first input
	return h
}

// bubble runs f in a testing/synctest bubble: time is virtual, and the test
// fails if a goroutine started in it outlives it (a leak).
func bubble(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	synctest.Test(t, f)
}

// send hands the runner a snapshot of pods, failing the test if the loop
// does not take it within the deadline.
func (h *harness) send(pods ...*v1.Pod) {
	h.t.Helper()
	select {
	case h.snaps <- snapshotOf(pods...):
	case err := <-h.done:
		h.done <- err
		h.t.Fatalf("runner ended before taking the snapshot: %v", err)
	case <-time.After(waitDeadline):
		h.t.Fatal("runner did not take the snapshot")
	}
}

// stop cancels the runner and waits for Run to return; stopping twice is a
// no-op.
func (h *harness) stop() {
	h.t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(waitDeadline):
		h.t.Fatal("Run did not return within the deadline after cancel")
	}
}

// calls are the engine calls this runner (and the test) made since it
// started.
func (h *harness) calls() []fake.Call { return h.rt.Calls()[h.firstCall:] }

// callsOf are the calls of one method since the runner started.
func (h *harness) callsOf(method string) []fake.Call {
	var out []fake.Call
	for _, c := range h.calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// status is the status of pod, or nil.
func (h *harness) status(pod *v1.Pod) *v1.Pod {
	for _, p := range h.r.Statuses().List() {
		if p.UID == pod.UID {
			return p
		}
	}
	return nil
}

// testWriter sends a runner's log to the test's log, shown when it fails.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

const waitDeadline = 10 * time.Second

// waitFor waits, in virtual time, until cond holds, failing the test with
// what when the deadline passes first. Each look comes after every
// goroutine of the bubble has settled (synctest.Wait).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitDeadline)
	for {
		synctest.Wait()
		if cond() {
			return
		}
		if !time.Now().Before(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listed is every container in the fake engine whose labels include match.
func listed(t *testing.T, rt *fake.Runtime, match map[string]string) []runtime.Container {
	t.Helper()
	list, err := rt.ListContainers(context.Background(), match)
	if err != nil {
		t.Fatalf("ListContainers: %v", err)
	}
	out := make([]runtime.Container, 0, len(list))
	for _, c := range list {
		full, err := rt.InspectContainer(context.Background(), c.ID)
		if err != nil {
			continue
		}
		out = append(out, full)
	}
	return out
}

// podContainers are the containers of pod in the engine.
func podContainers(t *testing.T, rt *fake.Runtime, pod *v1.Pod) []runtime.Container {
	t.Helper()
	return listed(t, rt, map[string]string{LabelPodUID: string(pod.UID)})
}

// running reports whether pod has a running sandbox and a running container
// of each of names.
func running(t *testing.T, rt *fake.Runtime, pod *v1.Pod, names ...string) bool {
	t.Helper()
	up := map[string]bool{}
	for _, c := range podContainers(t, rt, pod) {
		if c.State == runtime.StateRunning {
			up[c.Labels[LabelContainerName]] = true
		}
	}
	if !up[SandboxContainerName] {
		return false
	}
	for _, n := range names {
		if !up[n] {
			return false
		}
	}
	return true
}

// latestOf is the container of pod named name with the highest attempt.
func latestOf(t *testing.T, rt *fake.Runtime, pod *v1.Pod, name string) (runtime.Container, bool) {
	t.Helper()
	var best runtime.Container
	found := false
	for _, c := range podContainers(t, rt, pod) {
		if c.Labels[LabelContainerName] == name && (!found || attemptOf(&c) > attemptOf(&best)) {
			best, found = c, true
		}
	}
	return best, found
}
