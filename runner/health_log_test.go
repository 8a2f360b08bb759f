package runner

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// logBuffer is a runner's log kept for a test to read, safe for the
// runner's goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines are the lines logged so far that contain every one of parts.
func (b *logBuffer) lines(parts ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, line := range strings.Split(b.buf.String(), "\n") {
		match := true
		for _, p := range parts {
			match = match && strings.Contains(line, p)
		}
		if match && line != "" {
			out = append(out, line)
		}
	}
	return out
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestHealthProbeChangesLogged: each change of a probe's status is one log
// line naming the container, the probe and the new status, so that readiness
// flipping either way can be read from the log (as the kubelet's
// "SyncLoop (probe)" line); attempts that change nothing add none.
func TestHealthProbeChangesLogged(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		ex := newExecSwitch(rt)
		ex.set("ready", 1)
		var log logBuffer
		h := startRunner(t, rt, Config{Logger: log.logger()})
		pod := loadPod(t, probedPod)
		h.send(pod)
		waitFor(t, "the readiness probe to fail", func() bool { return ex.seen("ready") >= 3 })
		changed := func(status string) []string {
			return log.lines(`msg="probe status changed"`, "container=app", "probe=Readiness", "status="+status)
		}
		if got := changed(""); len(got) != 0 {
			t.Fatalf("a readiness probe failing from the start (its initial status) logged a change: %q", got)
		}
		ex.set("ready", 0)
		waitFor(t, "the line of readiness turning success", func() bool { return len(changed("success")) == 1 })
		ex.set("ready", 1)
		waitFor(t, "the line of readiness turning failure", func() bool { return len(changed("failure")) == 1 })
		if got := changed("success"); len(got) != 1 || !strings.Contains(got[0], "pod=ns/probed") {
			t.Errorf("readiness success lines %q: want one, naming the pod", got)
		}
	})
}

// TestHealthTerminationMessageLogged: a termination message read back is
// logged (debug) with its container, beside going into the status.
func TestHealthTerminationMessageLogged(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		var log logBuffer
		h := startRunner(t, rt, Config{Logger: log.logger()})
		pod := loadPod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: msg, namespace: ns}\nspec:\n  restartPolicy: Never\n  containers:\n  - {name: app, image: runner.local/busybox:test, terminationMessagePolicy: FallbackToLogsOnError}\n")
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		c, _ := latestOf(t, rt, pod, "app")
		if err := rt.WriteLog(c.ID, "fatal: out of cheese\n", ""); err != nil {
			t.Fatal(err)
		}
		rt.Exit(c.ID, 3)
		waitFor(t, "the message's log line", func() bool {
			return len(log.lines(`msg="termination message read"`, "container=app", `out of cheese`)) == 1
		})
	})
}
