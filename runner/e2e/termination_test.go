package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
)

// Lifecycle hooks, termination messages and deadlines on the real engine.
// What a container sees is written to a hostPath directory of the test,
// read after the container is gone.

// TestPreStopRunsBeforeSIGTERM: removing the manifest runs the preStop
// handler to its end before the container gets SIGTERM: the TERM trap,
// inside the container, finds everything the handler wrote, including what
// it wrote after a 2 s sleep.
func TestPreStopRunsBeforeSIGTERM(t *testing.T) {
	h := newHarness(t)
	out := t.TempDir()
	h.writeManifest("polite.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: polite
spec:
  terminationGracePeriodSeconds: 10
  volumes: [{name: out, hostPath: {path: `+out+`}}]
  containers:
  - name: main
    image: `+testImage+`
    volumeMounts: [{name: out, mountPath: /out}]
    command: ["sh", "-c", "trap 'cat /out/prestop > /out/at-term; exit 0' TERM; sleep 3600 & wait"]
    lifecycle:
      preStop: {exec: {command: ["sh", "-c", "echo begun > /out/prestop; sleep 2; echo done >> /out/prestop"]}}
`)
	p := h.start()
	testenv.Eventually(t, time.Minute, "polite running", func() bool { return h.running("polite", "main") })
	h.removeManifest("polite.yaml")
	testenv.Eventually(t, time.Minute, "polite removed", func() bool { return len(h.podContainers("polite")) == 0 })

	got, err := os.ReadFile(filepath.Join(out, "at-term"))
	if err != nil {
		t.Fatalf("the TERM trap left nothing (%v): SIGTERM never came, or came before preStop began", err)
	}
	if string(got) != "begun\ndone\n" {
		t.Errorf("at SIGTERM the preStop handler had written %q, want its whole output %q", got, "begun\ndone\n")
	}
	if lines := p.linesWith(podField("polite"), "reason=FailedPreStopHook"); len(lines) != 0 {
		t.Errorf("preStop reported failed: %q", lines)
	}
}

// TestFailingPostStartRestarts: a postStart handler that fails (the first
// time only) gets the container killed (FailedPostStartHook with the
// handler's exit and output) and restarted; the new instance's postStart
// passes and it keeps running.
func TestFailingPostStartRestarts(t *testing.T) {
	h := newHarness(t)
	out := t.TempDir()
	h.writeManifest("post.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: post
spec:
  terminationGracePeriodSeconds: 2
  volumes: [{name: out, hostPath: {path: `+out+`}}]
  containers:
  - name: main
    image: `+testImage+`
    volumeMounts: [{name: out, mountPath: /out}]
    command: ["sh", "-c", "`+sleeper+`"]
    lifecycle:
      postStart: {exec: {command: ["sh", "-c", "test -f /out/seen && exit 0; touch /out/seen; echo not yet; exit 3"]}}
`)
	p := h.start()
	testenv.Eventually(t, time.Minute, "the second instance running", func() bool {
		c, ok := h.attempt("post", "main", 1)
		return ok && c.State == runtime.StateRunning
	})
	p.awaitLines(t, 10*time.Second, 1, podField("post"), "reason="+runner.ReasonFailedPostStart, "container=main", "exited with code 3", "not yet")
	if c, _ := h.attempt("post", "main", 0); c.State != runtime.StateExited {
		t.Errorf("the first instance, whose postStart failed, is %s", c.State)
	}
	p.awaitLog(t, "in sync", 10*time.Second)
	if n := len(p.linesWith("reason=" + runner.ReasonFailedPostStart)); n != 1 || h.restarts("post", "main") != 1 {
		t.Errorf("%d postStart failures, %d restarts; want 1 and 1", n, h.restarts("post", "main"))
	}
}

// TestTerminationMessages: a container's terminationMessagePath is read
// back after it exits; with FallbackToLogsOnError, a failed container with
// no message gets its log's tail, one with a message keeps it, and one that
// succeeded gets none.
func TestTerminationMessages(t *testing.T) {
	h := newHarness(t)
	job := func(name, extra, script string) string {
		return pod(name, "Never", script) + extra
	}
	fallback := "    terminationMessagePolicy: FallbackToLogsOnError\n"
	h.writeManifest("file.yaml", job("file", "    terminationMessagePath: /tmp/why\n", "printf 'bye from file' > /tmp/why"))
	h.writeManifest("logs.yaml", job("logs", fallback, "echo line one; echo 'fatal: boom'; exit 1"))
	h.writeManifest("both.yaml", job("both", fallback, "echo 'from the log'; printf 'from the file' > /dev/termination-log; exit 1"))
	h.writeManifest("fine.yaml", job("fine", fallback, "echo all good"))
	p := h.start()
	read := func(pod string, parts ...string) []string {
		return p.linesWith(append([]string{podField(pod), `msg="termination message read"`, "container=main"}, parts...)...)
	}
	testenv.Eventually(t, time.Minute, "the messages read back", func() bool {
		return len(read("file")) > 0 && len(read("logs")) > 0 && len(read("both")) > 0
	})
	if got := read("file"); !strings.Contains(got[0], `message="bye from file"`) {
		t.Errorf("message of the file at terminationMessagePath: %q", got)
	}
	if got := read("logs"); !strings.Contains(got[0], `line one\nfatal: boom\n`) {
		t.Errorf("fallback to the log's tail: %q", got)
	}
	if got := read("both"); !strings.Contains(got[0], `message="from the file"`) {
		t.Errorf("a failed container with a message keeps it: %q", got)
	}
	testenv.Eventually(t, time.Minute, "every pod finished", func() bool {
		for _, name := range []string{"file", "logs", "both", "fine"} {
			sb := h.podContainers(name)[runner.SandboxContainerName]
			if len(sb) != 1 || sb[0].State != runtime.StateExited {
				return false
			}
		}
		return true
	})
	if got := read("fine"); len(got) != 0 {
		t.Errorf("a container that succeeded got its log as a message: %q", got)
	}
}

// TestActiveDeadline: a pod with activeDeadlineSeconds is stopped when it
// has run that long (its sandbox too) and not restarted, though its policy
// is Always; --runonce then finds it failed at once (exit 1).
func TestActiveDeadline(t *testing.T) {
	h := newHarness(t)
	h.writeManifest("brief.yaml", strings.Replace(pod("brief", "Always", sleeper),
		"  terminationGracePeriodSeconds: 5\n", "  terminationGracePeriodSeconds: 5\n  activeDeadlineSeconds: 4\n", 1))
	p := h.start()
	testenv.Eventually(t, time.Minute, "brief running", func() bool { return h.running("brief", "main") })
	testenv.Eventually(t, time.Minute, "brief stopped", func() bool {
		cs := h.podContainers("brief")
		sb, main := cs[runner.SandboxContainerName], cs["main"]
		return len(sb) == 1 && sb[0].State == runtime.StateExited && len(main) == 1 && main[0].State == runtime.StateExited
	})
	p.awaitLines(t, 10*time.Second, 1, podField("brief"), "reason=Killing", "container=main")
	if got := p.linesWith(podField("brief"), "the pod's active deadline passed"); len(got) == 0 {
		t.Errorf("no action logged for the deadline")
	}
	p.stop(t)

	start := time.Now()
	code, out := h.run(time.Minute, "--runonce", "--runonce-timeout", "30s")
	if code != 1 || !strings.Contains(out, "brief-e2e") {
		t.Errorf("runonce exit %d, want 1 with the failed pod:\n%s", code, out)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("runonce waited %v for a pod past its deadline: it has failed, that is final", d)
	}
	if n := h.restarts("brief", "main"); n != 0 {
		t.Errorf("restarted %d times after its deadline", n)
	}
}
