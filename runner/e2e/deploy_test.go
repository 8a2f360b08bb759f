package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/docker"
	"github.com/runner-dev/runner/runner/runtime/runtimetest"
)

// TestAirgapImageDir: a pod whose image exists only as a docker save
// tarball waits (ErrImagePull naming the image dir it looked in) until the
// tarball is dropped into --image-dir; then it starts at once, long before
// its ten-minute backoff, with no registry anywhere.
func TestAirgapImageDir(t *testing.T) {
	var ref string
	t.Cleanup(func() { // runs after the harness removed the containers
		if ref == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rt, err := docker.New(docker.Config{})
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		if err := rt.RemoveImage(ctx, ref); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("cleanup: remove image %s: %v", ref, err)
		}
	})
	h := newHarness(t)
	ref = "runner.local/airgap-" + h.instance + ":1"
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("no static /bin/busybox to build the image from: %v", err)
	}
	var tarball bytes.Buffer
	if _, err := runtimetest.WriteSaveTarball(&tarball, ref, []string{"/bin/busybox", "sh", "-c", "sleep 3600"}, map[string]string{"bin/busybox": string(busybox)}); err != nil {
		t.Fatal(err)
	}
	imageDir := filepath.Join(h.root, "shipped-images")
	h.writeManifest("airgap.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: airgap
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: `+ref+`
    imagePullPolicy: IfNotPresent
`)
	p := h.start("--image-dir", imageDir, "--restart-backoff-initial", "10m", "--restart-backoff-max", "10m")
	p.awaitLog(t, "waiting_reason=ErrImagePull", time.Minute)
	if !strings.Contains(p.Output(), "no tarball in "+imageDir+" holds it") {
		t.Errorf("the pull error does not name the image dir:\n%s", p.Output())
	}
	tmp := filepath.Join(imageDir, ".airgap.tar.partial")
	if err := os.WriteFile(tmp, tarball.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(imageDir, "airgap.tar")); err != nil {
		t.Fatal(err)
	}
	p.awaitLog(t, "loaded image tarball", time.Minute)
	testenv.Eventually(t, time.Minute, "the airgap pod to run", func() bool { return h.running("airgap", "main") })
}

// TestConfigFileKubeletStyle: a KubeletConfiguration with fields runner
// implements drives them (the pod's resolv.conf from clusterDNS and
// clusterDomain) and names the one it does not implement in one warning.
func TestConfigFileKubeletStyle(t *testing.T) {
	h := newHarness(t)
	config := filepath.Join(h.root, "config.yaml")
	if err := os.WriteFile(config, []byte(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
clusterDNS: [10.96.0.10]
clusterDomain: edge.local
containerLogMaxFiles: 2
cgroupDriver: systemd
syncFrequency: 0s
`), 0o644); err != nil {
		t.Fatal(err)
	}
	h.writeManifest("dns.yaml", pod("dns", "Always", "sleep 3600"))
	p := h.start("--config", config)
	testenv.Eventually(t, time.Minute, "the dns pod to run", func() bool { return h.running("dns", "main") })
	var id string
	for _, c := range h.podContainers("dns")["main"] {
		if c.State == runtime.StateRunning {
			id = c.ID
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := h.rt.Exec(ctx, id, []string{"cat", "/etc/resolv.conf"})
	if err != nil {
		t.Fatal(err)
	}
	if out := string(res.Stdout); !strings.Contains(out, "nameserver 10.96.0.10") || !strings.Contains(out, "default.svc.edge.local") {
		t.Errorf("resolv.conf does not follow the config file:\n%s", out)
	}
	if n := p.countLog("level=WARN"); n != 1 || p.countLog("cgroupDriver (line 6)") != 1 {
		t.Errorf("%d warnings, want one naming cgroupDriver:\n%s", n, p.Output())
	}
	if !strings.Contains(p.Output(), `fields=clusterDNS,clusterDomain,containerLogMaxFiles`) {
		t.Errorf("the log does not say which fields were taken:\n%s", p.Output())
	}
}

// TestPodPidsLimit: --pod-pids-limit reaches the kernel: the pids cgroup of
// the pod's container allows that many processes, and a loop that forks 30
// sleeps gets no more than that.
func TestPodPidsLimit(t *testing.T) {
	h := newHarness(t, "--pod-pids-limit", "10")
	// The loop runs in a subshell: a shell that cannot fork gives up.
	h.writeManifest("a.yaml", pod("a", "Always", `(for i in $(seq 1 30); do sleep 600 & done) 2>/dev/null; exec sleep 600`))
	p := h.start()
	defer p.stop(t)
	var c runtime.Container
	testenv.Eventually(t, 60*time.Second, "pod a running", func() bool {
		for _, m := range h.podContainers("a")["main"] {
			if m.State == runtime.StateRunning {
				c = m
				return true
			}
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := h.rt.InspectContainer(ctx, c.ID)
	if err != nil || c.Pid == 0 {
		t.Fatalf("inspect %s: pid %d, %v", c.ID, c.Pid, err)
	}
	dir := pidsCgroup(t, c.Pid)
	read := func(name string) int {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return n
	}
	if got := read("pids.max"); got != 10 {
		t.Errorf("pids.max of the container = %d, want 10", got)
	}
	// The shell and the sleeps it could fork (the subshell has ended).
	testenv.Eventually(t, 30*time.Second, "the loop to have forked up to the limit", func() bool { return read("pids.current") >= 8 })
	if got := read("pids.current"); got > 10 {
		t.Errorf("%d processes in the container, past its limit of 10", got)
	}
	if !h.running("a", "main") {
		t.Error("the container stopped")
	}
}

// pidsCgroup is the directory of the pids cgroup of process pid (cgroup v1's
// pids hierarchy, or the unified one of v2).
func pidsCgroup(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if slices.Contains(strings.Split(parts[1], ","), "pids") {
			return filepath.Join("/sys/fs/cgroup/pids", parts[2])
		}
		if parts[0] == "0" && parts[1] == "" {
			return filepath.Join("/sys/fs/cgroup", parts[2])
		}
	}
	t.Fatalf("no pids cgroup in /proc/%d/cgroup:\n%s", pid, data)
	return ""
}
