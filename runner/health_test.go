package runner

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// execSwitch answers the fake engine's execs: a command's exit code as the
// test sets it (by the command's first word after "sh -c"), 0 by default,
// and records the commands in order.
type execSwitch struct {
	mu    sync.Mutex
	codes map[string]int
	calls []string
}

func newExecSwitch(rt interface {
	HandleExec(func(context.Context, string, []string) (runtime.ExecResult, error))
}) *execSwitch {
	e := &execSwitch{codes: map[string]int{}}
	rt.HandleExec(func(_ context.Context, _ string, cmd []string) (runtime.ExecResult, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		key := strings.Join(cmd, " ")
		e.calls = append(e.calls, key)
		return runtime.ExecResult{ExitCode: e.codes[key], Stdout: []byte("out of " + key)}, nil
	})
	return e
}

func (e *execSwitch) set(cmd string, code int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.codes[cmd] = code
}

func (e *execSwitch) seen(cmd string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.calls {
		if c == cmd {
			n++
		}
	}
	return n
}

const probedPod = `
apiVersion: v1
kind: Pod
metadata: {name: probed, namespace: ns}
spec:
  containers:
  - name: app
    image: runner.local/busybox:test
    livenessProbe: {exec: {command: [live]}, periodSeconds: 1, failureThreshold: 2}
    readinessProbe: {exec: {command: [ready]}, periodSeconds: 1}
`

func readyOf(st *v1.Pod) (podReady bool, containerReady bool) {
	for _, c := range st.Status.Conditions {
		if c.Type == v1.PodReady {
			podReady = c.Status == v1.ConditionTrue
		}
	}
	if len(st.Status.ContainerStatuses) > 0 {
		containerReady = st.Status.ContainerStatuses[0].Ready
	}
	return
}

// TestHealthLivenessRestarts: a container whose liveness probe fails past
// its threshold is killed and restarted; its restart count and last state
// say so, and the events name the probe.
func TestHealthLivenessRestarts(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		ex := newExecSwitch(rt)
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, probedPod)
		h.send(pod)
		waitFor(t, "the pod Ready", func() bool {
			st := h.status(pod)
			ready, _ := readyOf(st)
			return st != nil && ready
		})
		first, _ := latestOf(t, rt, pod, "app")
		ex.set("live", 1)
		waitFor(t, "a restart", func() bool {
			c, _ := latestOf(t, rt, pod, "app")
			return attemptOf(&c) == 1 && c.State == runtime.StateRunning
		})
		ex.set("live", 0)
		st := h.status(pod)
		cs := containerStatusNamed(t, st.Status.ContainerStatuses, "app")
		if cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ContainerID != "docker://"+first.ID {
			t.Errorf("restartCount %d, lastState %+v; want 1 and the killed container", cs.RestartCount, cs.LastTerminationState)
		}
		var unhealthy, killing, killings bool
		for _, e := range h.r.Events() {
			unhealthy = unhealthy || e.Reason == ReasonUnhealthy && strings.Contains(e.Message, "Liveness probe failed")
			killing = killing || e.Reason == ReasonKilling && strings.Contains(e.Message, "failed liveness probe, will be restarted")
			killings = killings || e.Reason == ReasonKilling && !strings.Contains(e.Message, "probe")
		}
		if !unhealthy || !killing || killings {
			t.Errorf("events %+v: want Unhealthy (liveness) and one Killing that names the probe", h.r.Events())
		}
	})
}

// TestHealthReadiness: readiness follows the probe both ways; the pod is
// not Ready until its first success.
func TestHealthReadiness(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		ex := newExecSwitch(rt)
		ex.set("ready", 1)
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, probedPod)
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if p, c := readyOf(h.status(pod)); p || c {
			t.Fatalf("ready (pod %v, container %v) while the readiness probe fails", p, c)
		}
		ex.set("ready", 0)
		waitFor(t, "Ready", func() bool { p, c := readyOf(h.status(pod)); return p && c })
		ex.set("ready", 1)
		waitFor(t, "not Ready again", func() bool { p, c := readyOf(h.status(pod)); return !p && !c })
		if c, _ := latestOf(t, rt, pod, "app"); attemptOf(&c) != 0 {
			t.Errorf("a readiness failure restarted the container")
		}
	})
}

// TestHealthStartupGatesLiveness: while the startup probe has not
// succeeded, liveness does not run and the container is not started.
func TestHealthStartupGatesLiveness(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		ex := newExecSwitch(rt)
		ex.set("started", 1)
		ex.set("live", 1)
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, strings.Replace(probedPod, "    readinessProbe: {exec: {command: [ready]}, periodSeconds: 1}",
			"    startupProbe: {exec: {command: [started]}, periodSeconds: 1, failureThreshold: 30}", 1))
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := ex.seen("live"); n != 0 {
			t.Fatalf("liveness ran %d times before the startup probe succeeded", n)
		}
		cs := containerStatusNamed(t, h.status(pod).Status.ContainerStatuses, "app")
		if cs.Started == nil || *cs.Started || cs.Ready {
			t.Errorf("started %v ready %v before the startup probe succeeded", cs.Started, cs.Ready)
		}
		ex.set("started", 0)
		waitFor(t, "liveness to run, fail and restart the container", func() bool {
			c, _ := latestOf(t, rt, pod, "app")
			return ex.seen("live") > 0 && attemptOf(&c) == 1
		})
	})
}

// TestHealthHooks: postStart runs after the start and before the pod's next
// container starts; a failing postStart kills the container (which restarts);
// preStop runs before the stop when the pod is removed.
func TestHealthHooks(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		ex := newExecSwitch(rt)
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, `
apiVersion: v1
kind: Pod
metadata: {name: hooks, namespace: ns}
spec:
  containers:
  - name: a
    image: runner.local/busybox:test
    lifecycle:
      postStart: {exec: {command: [post-a]}}
      preStop: {exec: {command: [pre-a]}}
  - name: b
    image: runner.local/busybox:test
`)
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "a", "b") })
		calls := h.calls()
		a, _ := latestOf(t, rt, pod, "a")
		startA := callIndex(calls, "StartContainer", a.ID)
		execA := slices.IndexFunc(calls, func(c fake.Call) bool { return c.Method == "Exec" && c.Arg == a.ID })
		b, _ := latestOf(t, rt, pod, "b")
		createB := callIndex(calls, "CreateContainer", b.Name)
		if !(startA >= 0 && startA < execA && execA < createB) {
			t.Errorf("start of a at %d, its postStart at %d, creation of b at %d: want in that order", startA, execA, createB)
		}

		h.send()
		waitFor(t, "the pod to go", func() bool { return len(podContainers(t, rt, pod)) == 0 })
		calls = h.calls()
		pre := -1
		for i := execA + 1; i < len(calls); i++ {
			if calls[i].Method == "Exec" && calls[i].Arg == a.ID {
				pre = i
				break
			}
		}
		stop := callIndex(calls, "StopContainer", a.ID)
		if ex.seen("pre-a") != 1 || pre < 0 || stop < pre {
			t.Errorf("preStop ran %d times (call %d), stop at %d: want preStop once, before the stop", ex.seen("pre-a"), pre, stop)
		}
	})
}

func TestHealthFailedPostStartRestarts(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		ex := newExecSwitch(rt)
		ex.set("post", 1)
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers:\n  - name: app\n    image: runner.local/busybox:test\n    lifecycle: {postStart: {exec: {command: [post]}}}\n")
		h.send(pod)
		waitFor(t, "a restart after the failed postStart", func() bool {
			c, _ := latestOf(t, rt, pod, "app")
			return attemptOf(&c) >= 1
		})
		found := false
		for _, e := range h.r.Events() {
			found = found || e.Reason == ReasonFailedPostStart
		}
		if !found {
			t.Errorf("no %s event: %+v", ReasonFailedPostStart, h.r.Events())
		}
	})
}

// TestHealthTerminationMessage: the termination-log file is read back after
// the exit; FallbackToLogsOnError uses the log's tail when it is empty.
func TestHealthTerminationMessage(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, `
apiVersion: v1
kind: Pod
metadata: {name: msgs, namespace: ns}
spec:
  restartPolicy: Never
  containers:
  - {name: file, image: runner.local/busybox:test}
  - {name: logs, image: runner.local/busybox:test, terminationMessagePolicy: FallbackToLogsOnError}
`)
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "file", "logs") })
		logFile := filepath.Join(h.r.cfg.RootDir, "pods", string(pod.UID), "containers", "file", "0", "termination-log")
		if err := os.WriteFile(logFile, []byte("bye from file"), 0o644); err != nil {
			t.Fatal(err)
		}
		f, _ := latestOf(t, rt, pod, "file")
		l, _ := latestOf(t, rt, pod, "logs")
		if err := rt.WriteLog(l.ID, "line 1\nfatal: the end\n", ""); err != nil {
			t.Fatal(err)
		}
		rt.Exit(f.ID, 0)
		rt.Exit(l.ID, 2)
		waitFor(t, "both messages", func() bool {
			st := h.status(pod)
			m := map[string]string{}
			for _, cs := range st.Status.ContainerStatuses {
				if cs.State.Terminated != nil {
					m[cs.Name] = cs.State.Terminated.Message
				}
			}
			return m["file"] == "bye from file" && strings.Contains(m["logs"], "fatal: the end")
		})
	})
}

// TestHealthActiveDeadline: a pod active longer than activeDeadlineSeconds
// fails with DeadlineExceeded and its containers are stopped, not restarted.
func TestHealthActiveDeadline(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  activeDeadlineSeconds: 30\n  containers:\n  - {name: app, image: runner.local/busybox:test}\n")
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if !running(t, rt, pod, "app") {
			t.Fatal("stopped before its deadline")
		}
		time.Sleep(2 * time.Second)
		waitFor(t, "Failed with DeadlineExceeded", func() bool {
			st := h.status(pod)
			return st.Status.Phase == v1.PodFailed && st.Status.Reason == ReasonDeadline
		})
		synctest.Wait()
		for _, c := range podContainers(t, rt, pod) {
			if c.State == runtime.StateRunning {
				t.Errorf("%s still runs after the deadline", c.Name)
			}
		}
		n := 0
		for _, e := range h.r.Events() {
			if e.Reason == ReasonDeadline {
				n += e.Count
			}
		}
		if n != 1 {
			t.Errorf("%d DeadlineExceeded events, want 1", n)
		}
		if c, _ := latestOf(t, rt, pod, "app"); attemptOf(&c) != 0 {
			t.Error("restarted after the deadline")
		}
	})
}
