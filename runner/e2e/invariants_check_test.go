package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
)

// memPod is a sleeper pod with a memory-backed emptyDir (a mount under
// --root-dir).
func memPod(name string) string {
	return pod(name, "Always", sleeper) + `    volumeMounts: [{name: scratch, mountPath: /scratch}]
  volumes: [{name: scratch, emptyDir: {medium: Memory}}]
`
}

// TestInvariantCheckerSeesLeaks: the checker is only worth what it catches.
// With runner killed, a sandbox removed behind its back (no CNI DEL) and a
// manifest deleted, the checker names the lost sandbox, the address, record,
// iptables rules, CNI cache, pod directory and mount left behind, the
// undesired pod and the stale checkpoint; a restarted runner repairs all of
// it and the checker agrees.
func TestInvariantCheckerSeesLeaks(t *testing.T) {
	h := newHarness(t)
	h.writeManifest("a.yaml", memPod("a"))
	h.writeManifest("b.yaml", pod("b", "Always", sleeper))
	p := h.start()
	want, _ := h.wantFromManifests()
	h.awaitInvariants(want, time.Minute)
	if v := h.violations(want); len(v) != 0 {
		t.Fatalf("violations in a converged world: %v", v)
	}
	p.kill()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sb := h.podContainers("a")[runner.SandboxContainerName][0]
	// Where the network keeps iptables rules per sandbox, they are left too.
	rules, err := exec.Command("iptables-save").Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.rt.RemoveContainer(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
	h.removeManifest("b.yaml")
	wantA, _ := h.wantFromManifests()
	got := strings.Join(h.violations(wantA), "\n")
	expects := []string{
		"pod a-e2e has 0 live sandboxes",
		"is allocated to sandbox " + shortID(sb.ID) + ", which is not live",
		"network record of sandbox " + shortID(sb.ID),
		"CNI cache",
		"pod directory " + sb.Labels[runner.LabelPodUID] + " has no live pod",
		"/volumes/empty-dir/scratch has no live pod",
		"pod b-e2e is not desired",
		"b.yaml, which is gone",
	}
	if strings.Contains(string(rules), sb.ID) {
		expects = append(expects, "iptables rule of a sandbox that is not live")
	}
	for _, expect := range expects {
		if !strings.Contains(got, expect) {
			t.Errorf("the checker does not see %q; it says:\n%s", expect, got)
		}
	}

	h.start()
	h.awaitInvariants(wantA, time.Minute)
	for _, c := range h.containers() {
		if c.Labels[runner.LabelDockerType] == runner.TypeSandbox && c.State == runtime.StateRunning && c.ID == sb.ID {
			t.Errorf("the removed sandbox runs again")
		}
	}
}
