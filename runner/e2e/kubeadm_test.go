package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
)

// TestKubeadmHostNetworkPod runs kubeadm's kube-scheduler manifest from the
// shared conformance corpus, with the image swapped for the local test image
// and the hostPath moved into the test's directory.
func TestKubeadmHostNetworkPod(t *testing.T) {
	h := newHarness(t)
	src := filepath.Join(testenv.ConformanceDir(t), "kubeadm-1.32-kind-kube-scheduler.yaml")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("conformance manifest: %v", err)
	}
	conf := filepath.Join(t.TempDir(), "etc", "scheduler.conf")
	m := string(data)
	for old, repl := range map[string]string{
		"registry.k8s.io/kube-scheduler:v1.32.2": testImage,
		"path: /etc/kubernetes/scheduler.conf":   "path: " + conf,
		// The scheduler's own flags become sh's positional arguments.
		"    - kube-scheduler\n": "    - sh\n    - -c\n    - test -f /etc/kubernetes/scheduler.conf && " + sleeper + "\n",
	} {
		if !strings.Contains(m, old) {
			t.Fatalf("the conformance manifest no longer contains %q", old)
		}
		m = strings.Replace(m, old, repl, 1)
	}
	h.writeManifest("kube-scheduler.yaml", m)
	h.start()
	testenv.Eventually(t, 60*time.Second, "kube-scheduler running", func() bool { return h.running("kube-scheduler", "kube-scheduler") })

	if st, err := os.Stat(conf); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("hostPath FileOrCreate did not create %s: %v", conf, err)
	}
	c := h.podContainers("kube-scheduler")["kube-scheduler"][0]
	if !strings.HasPrefix(c.Name, "k8s_kube-scheduler_kube-scheduler-e2e_kube-system_") {
		t.Errorf("container name %s", c.Name)
	}
	// hostNetwork: the container sees the host's hostname and interfaces.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := h.rt.Exec(ctx, c.ID, []string{"hostname"})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if got := strings.TrimSpace(string(res.Stdout)); got != host {
		t.Errorf("hostname in a hostNetwork pod is %q, want the host's %q", got, host)
	}
}
