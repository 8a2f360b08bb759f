package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/docker"
)

// Helpers of the health tests (probes, hooks, termination, etcd): reading
// runner's log, container instances by restart count, test images.

// linesWith are the lines the process printed that contain every one of
// parts.
func (p *proc) linesWith(parts ...string) []string {
	var out []string
	for _, line := range strings.Split(p.Output(), "\n") {
		match := line != ""
		for _, s := range parts {
			match = match && strings.Contains(line, s)
		}
		if match {
			out = append(out, line)
		}
	}
	return out
}

// awaitLines waits until at least n lines contain every one of parts.
func (p *proc) awaitLines(t *testing.T, timeout time.Duration, n int, parts ...string) {
	t.Helper()
	testenv.Eventually(t, timeout, strconv.Itoa(n)+" log lines with "+strings.Join(parts, " & "), func() bool {
		return len(p.linesWith(parts...)) >= n
	})
}

// podField is how runner's log names a pod of the default namespace.
func podField(pod string) string { return "pod=default/" + pod + "-e2e " }

// attempt is the instance of container name in pod with restart count n.
func (h *harness) attempt(pod, name string, n int) (runtime.Container, bool) {
	for _, c := range h.podContainers(pod)[name] {
		if c.Labels[runner.LabelRestartCount] == strconv.Itoa(n) {
			return c, true
		}
	}
	return runtime.Container{}, false
}

// restarts is the highest restart count among the instances of container
// name in pod (-1: none yet).
func (h *harness) restarts(pod, name string) int {
	n := -1
	for _, c := range h.podContainers(pod)[name] {
		if r, err := strconv.Atoi(c.Labels[runner.LabelRestartCount]); err == nil && r > n {
			n = r
		}
	}
	return n
}

// execIn runs cmd in the running instance of pod's container and fails the
// test unless it exits 0.
func (h *harness) execIn(pod, container string, cmd ...string) {
	h.t.Helper()
	c, ok := h.attempt(pod, container, h.restarts(pod, container))
	if !ok || c.State != runtime.StateRunning {
		h.t.Fatalf("no running instance of %s in pod %s", container, pod)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := h.rt.Exec(ctx, c.ID, cmd)
	if err != nil || res.ExitCode != 0 {
		h.t.Fatalf("exec %v in %s/%s: exit %d, %v: %s%s", cmd, pod, container, res.ExitCode, err, res.Stdout, res.Stderr)
	}
}

// grpcImage builds runner/probe/testdata/grpchealth static (a gRPC health
// server whose status SIGUSR1 toggles) and imports it as the only file of
// an image of this test. Call it before newHarness: the image is removed
// after the harness removed the containers that use it.
func grpcImage(t *testing.T) string {
	t.Helper()
	testenv.Integration(t, "Docker, root and the CNI plugins")
	bin := filepath.Join(t.TempDir(), "grpchealth")
	build := exec.Command("go", "build", "-o", bin, "../probe/testdata/grpchealth")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build grpchealth: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var rootfs bytes.Buffer
	tw := tar.NewWriter(&rootfs)
	if err := tw.WriteHeader(&tar.Header{Name: "grpchealth", Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return importImage(t, "grpchealth", &rootfs, `ENTRYPOINT ["/grpchealth"]`)
}

// importImage imports rootfs (a tar) as runner.local/<name>-<random>:e2e,
// labelled as a test image, and removes it when the test ends (after the
// cleanups registered later, such as the harness's).
func importImage(t *testing.T, name string, rootfs *bytes.Buffer, changes ...string) string {
	t.Helper()
	rt, err := docker.New(docker.Config{})
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	ref := "runner.local/" + name + "-" + id + ":e2e"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = rt.Version(ctx)
	testenv.Need(t, "the Docker engine", err)
	changes = append(changes, "LABEL io.runner.e2e.image="+id)
	if err := rt.ImportImage(ctx, ref, rootfs, changes); err != nil {
		t.Fatalf("import %s: %v", ref, err)
	}
	t.Cleanup(func() {
		defer rt.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := rt.RemoveImage(ctx, ref); err != nil {
			t.Errorf("cleanup: remove image %s: %v", ref, err)
		}
	})
	return ref
}

// freePorts are n TCP ports that were free on 127.0.0.1 when asked (held
// open together, so that they differ), for host-network pods.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
