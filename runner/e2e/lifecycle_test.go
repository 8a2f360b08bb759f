package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
)

const sleeper = "trap 'exit 0' TERM; while true; do sleep 0.2; done"

func TestPodStartsWithSandboxNamesAndLabels(t *testing.T) {
	h := newHarness(t)
	h.writeManifest("web.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: e2e-ns
spec:
  containers:
  - name: httpd
    image: `+testImage+`
    command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
  - name: side
    image: `+testImage+`
    command: ["sh", "-c", "`+sleeper+`"]
`)
	p := h.start()
	testenv.Eventually(t, 60*time.Second, "pod web running", func() bool { return h.running("web", "httpd", "side") })

	cs := h.podContainers("web")
	sb := cs["POD"][0]
	uid := sb.Labels[runner.LabelPodUID]
	if len(uid) != 32 {
		t.Fatalf("pod uid label %q: want 32 hex digits", uid)
	}
	if want := fmt.Sprintf("k8s_POD_web-e2e_e2e-ns_%s_0", uid); sb.Name != want {
		t.Errorf("sandbox name %q, want %q", sb.Name, want)
	}
	for k, want := range map[string]string{
		runner.LabelDockerType: runner.TypeSandbox, runner.LabelPodNamespace: "e2e-ns",
		runner.LabelPodName: "web-e2e", runner.LabelInstance: h.instance,
	} {
		if sb.Labels[k] != want {
			t.Errorf("sandbox label %s = %q, want %q", k, sb.Labels[k], want)
		}
	}
	for _, name := range []string{"httpd", "side"} {
		c := cs[name][0]
		if want := fmt.Sprintf("k8s_%s_web-e2e_e2e-ns_%s_0", name, uid); c.Name != want {
			t.Errorf("container name %q, want %q", c.Name, want)
		}
		for k, want := range map[string]string{
			runner.LabelDockerType: runner.TypeContainer, runner.LabelContainerName: name,
			runner.LabelSandboxID: sb.ID, runner.LabelRestartCount: "0", runner.LabelPodUID: uid,
		} {
			if c.Labels[k] != want {
				t.Errorf("%s label %s = %q, want %q", name, k, c.Labels[k], want)
			}
		}
		if c.Labels[runner.LabelContainerHash] == "" {
			t.Errorf("%s has no spec hash label", name)
		}
	}
	// Stopping the runner leaves the pod running.
	p.stop(t)
	if !h.running("web", "httpd", "side") {
		t.Fatalf("pod stopped with the runner")
	}
}

func TestKilledContainerRestartsWithBackoff(t *testing.T) {
	h := newHarness(t)
	h.writeManifest("crash.yaml", pod("crash", "Always", sleeper))
	h.start()
	testenv.Eventually(t, 60*time.Second, "pod running", func() bool { return h.running("crash", "main") })

	kill := func(attempt int) time.Time {
		t.Helper()
		for _, c := range h.podContainers("crash")["main"] {
			if c.State == runtime.StateRunning && c.Labels[runner.LabelRestartCount] == strconv.Itoa(attempt) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := h.rt.KillContainer(ctx, c.ID, "SIGKILL"); err != nil {
					t.Fatal(err)
				}
				return time.Now()
			}
		}
		t.Fatalf("no running attempt %d", attempt)
		return time.Time{}
	}
	startedAttempt := func(attempt int) (time.Time, bool) {
		for _, c := range h.podContainers("crash")["main"] {
			if c.Labels[runner.LabelRestartCount] == strconv.Itoa(attempt) && c.State == runtime.StateRunning {
				return c.StartedAt, true
			}
		}
		return time.Time{}, false
	}
	// First restart is immediate.
	kill(0)
	testenv.Eventually(t, 10*time.Second, "attempt 1 running", func() bool { _, ok := startedAttempt(1); return ok })
	// The second waits the initial backoff (1s here).
	killed := kill(1)
	testenv.Eventually(t, 15*time.Second, "attempt 2 running", func() bool { _, ok := startedAttempt(2); return ok })
	started, _ := startedAttempt(2)
	if d := started.Sub(killed); d < 900*time.Millisecond {
		t.Errorf("second restart after %v: want the 1s backoff", d)
	}
	// Only the latest dead instance is kept.
	testenv.Eventually(t, 10*time.Second, "old instances removed", func() bool { return len(h.podContainers("crash")["main"]) <= 2 })
}

func TestRestartPolicyMatrix(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		policy  string
		code    int
		restart bool
	}{
		{"Always", 0, true}, {"Always", 1, true},
		{"OnFailure", 0, false}, {"OnFailure", 1, true},
		{"Never", 0, false}, {"Never", 1, false},
	}
	name := func(i int) string { return fmt.Sprintf("m%d", i) }
	for i, c := range cases {
		h.writeManifest(name(i)+".yaml", pod(name(i), c.policy, fmt.Sprintf("sleep 0.5; exit %d", c.code)))
	}
	h.start()
	for i, c := range cases {
		what := fmt.Sprintf("%s exit %d", c.policy, c.code)
		if c.restart {
			testenv.Eventually(t, 60*time.Second, what+": restarted", func() bool {
				for _, ct := range h.podContainers(name(i))["main"] {
					if ct.Labels[runner.LabelRestartCount] != "0" {
						return true
					}
				}
				return false
			})
			continue
		}
		// A pod that runs to its end has its sandbox stopped, and its
		// container is never restarted.
		testenv.Eventually(t, 60*time.Second, what+": sandbox stopped", func() bool {
			cs := h.podContainers(name(i))
			return len(cs["POD"]) == 1 && cs["POD"][0].State == runtime.StateExited
		})
		cs := h.podContainers(name(i))["main"]
		if len(cs) != 1 || cs[0].ExitCode != c.code {
			t.Errorf("%s: containers %v, want one that exited %d", what, names(cs), c.code)
		}
	}
}

func names(cs []runtime.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name+"="+c.State.String())
	}
	return out
}

func TestEditedManifestStopsOldPodBeforeNewStarts(t *testing.T) {
	h := newHarness(t)
	h.writeManifest("edit.yaml", pod("edit", "Always", sleeper))
	h.start()
	testenv.Eventually(t, 60*time.Second, "v1 running", func() bool { return h.running("edit", "main") })
	oldUID := h.podContainers("edit")["POD"][0].Labels[runner.LabelPodUID]

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, _ := h.rt.Events(ctx, map[string]string{runner.LabelInstance: h.instance})
	h.writeManifest("edit.yaml", pod("edit", "Always", "echo v2; "+sleeper))

	var order []string
	deadline := time.After(60 * time.Second)
	for newStarted := false; !newStarted; {
		select {
		case ev := <-events:
			tag := "old"
			if ev.Labels[runner.LabelPodUID] != oldUID {
				tag = "new"
			}
			entry := tag + ":" + ev.Labels[runner.LabelContainerName] + ":" + string(ev.Action)
			order = append(order, entry)
			if entry == "new:main:start" {
				newStarted = true
			}
		case <-deadline:
			t.Fatalf("new pod did not start; events: %v", order)
		}
	}
	// Every event of the old pod comes before the first of the new one, and
	// the old pod's containers are destroyed by then.
	firstNew := -1
	for i, e := range order {
		if strings.HasPrefix(e, "new:") && firstNew < 0 {
			firstNew = i
		}
		if strings.HasPrefix(e, "old:") && firstNew >= 0 {
			t.Fatalf("old pod event after the new pod began: %v", order)
		}
	}
	for _, want := range []string{"old:main:destroy", "old:POD:destroy"} {
		found := false
		for _, e := range order[:firstNew] {
			found = found || e == want
		}
		if !found {
			t.Fatalf("%s not seen before the new pod began: %v", want, order)
		}
	}
}

func TestRemovedManifestHonoursGracePeriod(t *testing.T) {
	h := newHarness(t)
	h.writeManifest("polite.yaml", pod("polite", "Always", sleeper))
	h.writeManifest("stubborn.yaml", strings.Replace(pod("stubborn", "Always", "trap '' TERM; while true; do sleep 0.2; done"),
		"terminationGracePeriodSeconds: 5", "terminationGracePeriodSeconds: 3", 1))
	h.start()
	testenv.Eventually(t, 60*time.Second, "pods running", func() bool { return h.running("polite", "main") && h.running("stubborn", "main") })

	gone := func(name string) func() bool {
		return func() bool { return len(h.podContainers(name)) == 0 }
	}
	t0 := time.Now()
	h.removeManifest("polite.yaml")
	testenv.Eventually(t, 20*time.Second, "polite pod removed", gone("polite"))
	if d := time.Since(t0); d > 4*time.Second {
		t.Errorf("a container that exits on SIGTERM took %v to be removed: it waited for (most of) its 5s grace period", d)
	}
	t0 = time.Now()
	h.removeManifest("stubborn.yaml")
	testenv.Eventually(t, 60*time.Second, "stubborn pod removed", gone("stubborn"))
	if d := time.Since(t0); d < 3*time.Second {
		t.Errorf("a container that ignores SIGTERM was removed after %v, before its 3s grace period", d)
	}
}

func TestKill9AndRestartRestartsNothing(t *testing.T) {
	h := newHarness(t)
	for _, n := range []string{"a", "b", "c"} {
		h.writeManifest(n+".yaml", pod(n, "Always", sleeper))
	}
	p := h.start()
	testenv.Eventually(t, 60*time.Second, "pods running", func() bool {
		return h.running("a", "main") && h.running("b", "main") && h.running("c", "main")
	})
	before := map[string]time.Time{}
	for _, c := range h.containers() {
		before[c.ID] = c.StartedAt
	}
	p.signal(syscall.SIGKILL)
	<-p.done

	p2 := h.start()
	// The new runner has planned every pod and carried out what it had to
	// do once it says it is in sync.
	p2.awaitLog(t, "in sync", 20*time.Second)
	after := h.containers()
	if len(after) != len(before) {
		t.Fatalf("%d containers before, %d after the restart", len(before), len(after))
	}
	for _, c := range after {
		started, ok := before[c.ID]
		if !ok {
			t.Errorf("new container %s after the restart", c.Name)
			continue
		}
		if !started.Equal(c.StartedAt) || c.State != runtime.StateRunning {
			t.Errorf("%s restarted: StartedAt %v → %v, state %s", c.Name, started, c.StartedAt, c.State)
		}
	}
	if n := p2.countLog("reason=" + runner.ReasonKilling); n != 0 {
		t.Errorf("the restarted runner killed %d containers", n)
	}
}

func TestOrphansOfRemovedManifestsAreTornDown(t *testing.T) {
	h := newHarness(t)
	h.writeManifest("keep.yaml", pod("keep", "Always", sleeper))
	h.writeManifest("gone.yaml", pod("gone", "Always", sleeper))
	p := h.start()
	testenv.Eventually(t, 60*time.Second, "pods running", func() bool { return h.running("keep", "main") && h.running("gone", "main") })
	p.stop(t)
	h.removeManifest("gone.yaml")
	keep := h.podContainers("keep")["main"][0]

	h.start()
	testenv.Eventually(t, 60*time.Second, "orphan removed", func() bool { return len(h.podContainers("gone")) == 0 })
	now := h.podContainers("keep")["main"]
	if len(now) != 1 || now[0].ID != keep.ID || now[0].State != runtime.StateRunning {
		t.Fatalf("the desired pod was touched: %v", names(now))
	}
}

func TestRunOnce(t *testing.T) {
	t.Run("good pods exit 0", func(t *testing.T) {
		h := newHarness(t)
		h.writeManifest("svc.yaml", pod("svc", "Always", sleeper))
		h.writeManifest("job.yaml", pod("job", "Never", "echo done"))
		code, out := h.run(2*time.Minute, "--runonce", "--runonce-timeout", "60s")
		if code != 0 {
			t.Fatalf("runonce exit %d, want 0:\n%s", code, out)
		}
		for _, want := range []string{"svc-e2e", "job-e2e", "Running", "Completed"} {
			if !strings.Contains(out, want) {
				t.Errorf("runonce table lacks %q:\n%s", want, out)
			}
		}
		if !h.running("svc", "main") {
			t.Errorf("the pod did not stay running after runonce")
		}
	})
	t.Run("missing image with pull policy Never exits 1", func(t *testing.T) {
		h := newHarness(t)
		h.writeManifest("svc.yaml", pod("svc", "Always", sleeper))
		h.writeManifest("missing.yaml", strings.Replace(pod("missing", "Always", sleeper),
			"image: "+testImage, "image: runner.local/not-there:1\n    imagePullPolicy: Never", 1))
		start := time.Now()
		code, out := h.run(2*time.Minute, "--runonce", "--runonce-timeout", "60s")
		if code != 1 {
			t.Fatalf("runonce exit %d, want 1:\n%s", code, out)
		}
		if !strings.Contains(out, "ErrImageNeverPull") {
			t.Errorf("runonce output does not say ErrImageNeverPull:\n%s", out)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("runonce took %v: a missing image with policy Never is final, no need to wait", d)
		}
	})
	t.Run("usage error exits 2", func(t *testing.T) {
		h := newHarness(t)
		code, out := h.run(time.Minute, "--runonce", "--log-format", "xml")
		if code != 2 {
			t.Fatalf("exit %d, want 2:\n%s", code, out)
		}
	})
}
