package e2e

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
)

// apiserverManifest stands in for kubeadm's kube-apiserver.yaml: a
// control-plane pod in kube-system, with kubeadm's shape.
const apiserverManifest = `apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
  labels: {component: kube-apiserver, tier: control-plane}
spec:
  priorityClassName: system-node-critical
  terminationGracePeriodSeconds: 5
  containers:
  - name: kube-apiserver
    image: ` + testImage + `
    command: ["sh", "-c", "` + sleeper + `"]
    resources:
      requests: {cpu: 250m}
`

// TestRestartWithInvalidManifestKeepsThePod: runner is killed, the
// manifest is rewritten invalid (as a kubeadm upgrade half-way would), and
// a new runner starts: the pod keeps running with the same containers, and
// runner says it runs the last good version.
func TestRestartWithInvalidManifestKeepsThePod(t *testing.T) {
	h := newHarness(t)
	h.writeManifest("kube-apiserver.yaml", apiserverManifest)
	p := h.start()
	testenv.Eventually(t, 60*time.Second, "the apiserver running", func() bool { return h.running("kube-apiserver", "kube-apiserver") })
	p.awaitLog(t, "in sync", 30*time.Second)
	before := map[string]time.Time{}
	for _, c := range h.containers() {
		before[c.ID] = c.StartedAt
	}
	p.signal(syscall.SIGKILL)
	<-p.done

	// Half-written: the file ends in the middle of the container list.
	half := apiserverManifest[:strings.Index(apiserverManifest, "    command:")] + "    command: [\"sh\", \"-c"
	h.writeManifest("kube-apiserver.yaml", half)
	p2 := h.start()
	p2.awaitLog(t, "running its last good version", 30*time.Second)
	p2.awaitLog(t, "in sync", 30*time.Second)
	after := h.containers()
	if len(after) != len(before) {
		t.Fatalf("%d containers before, %d after the restart with an invalid manifest", len(before), len(after))
	}
	for _, c := range after {
		started, ok := before[c.ID]
		if !ok || !started.Equal(c.StartedAt) || !h.running("kube-apiserver", "kube-apiserver") {
			t.Errorf("%s was replaced or restarted", c.Name)
		}
	}
	if n := p2.countLog("reason=Killing"); n != 0 {
		t.Errorf("the restarted runner stopped %d containers", n)
	}
}

// TestRestartWithoutManifestDirKeepsThePods: a manifest directory that is
// missing when runner starts (an unmounted disk, a typo in a boot script)
// removes nothing; the pods run on from their checkpoints.
func TestRestartWithoutManifestDirKeepsThePods(t *testing.T) {
	h := newHarness(t)
	h.writeManifest("a.yaml", pod("a", "Always", sleeper))
	p := h.start()
	testenv.Eventually(t, 60*time.Second, "the pod running", func() bool { return h.running("a", "main") })
	p.awaitLog(t, "in sync", 30*time.Second)
	ids := h.containers()
	p.stop(t)

	moved := h.manifests + ".away"
	if err := os.Rename(h.manifests, moved); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Rename(moved, h.manifests) })
	p2 := h.start()
	p2.awaitLog(t, "in sync", 30*time.Second)
	if got := h.containers(); len(got) != len(ids) || !h.running("a", "main") {
		t.Errorf("with the manifest directory missing: %d containers (were %d), running %v", len(got), len(ids), h.running("a", "main"))
	}
	if n := p2.countLog("reason=Killing"); n != 0 {
		t.Errorf("runner stopped %d containers with its manifest directory missing", n)
	}
}
