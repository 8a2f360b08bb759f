package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/docker"
)

// testImage is imported by testdata/setup.sh (make setup).
const testImage = "runner.local/busybox:test"

var binary string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // every test skips: build nothing
	}
	dir, err := os.MkdirTemp("", "runner-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "runner")
	// As `make build` does: the small pause program first, embedded in runner.
	for _, args := range [][]string{
		{"build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join("..", "pause", "pause.bin"), "github.com/runner-dev/runner/runner/pause/cmd/pause"},
		{"build", "-tags", "pausebin", "-o", binary, "github.com/runner-dev/runner"},
	} {
		build := exec.Command("go", args...)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go %v: %v\n%s", args, err, out)
			return 1
		}
	}
	return m.Run()
}

// harness is one test's runner world.
type harness struct {
	t           *testing.T
	manifests   string
	root        string
	instance    string
	rt          *docker.Runtime
	mu          sync.Mutex
	procs       []*proc
	extraFlags  []string
	manifestOpt string
	// bridge and cidr are the test's own pod network.
	bridge string
	cidr   string
	// ipamDir is where runner keeps its network state.
	netDir string
	// endpoint is the engine's address ("": the machine's own).
	endpoint string
}

// proc is a running runner process.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func (p *proc) write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output is what the process printed so far.
func (p *proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

type procWriter struct{ p *proc }

func (w procWriter) Write(b []byte) (int, error) { return w.p.write(b) }

func newHarness(t *testing.T, flags ...string) *harness {
	t.Helper()
	return newHarnessOn(t, "", flags...)
}

// newHarnessOn is newHarness on the engine at endpoint (a private dockerd
// the test started); "" is the machine's own engine.
func newHarnessOn(t *testing.T, endpoint string, flags ...string) *harness {
	t.Helper()
	testenv.Integration(t, "Docker, root and the CNI plugins")
	testenv.Root(t)
	rt, err := docker.New(docker.Config{Endpoint: endpoint})
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = rt.Version(ctx)
	testenv.Need(t, "the Docker engine", err)
	_, err = rt.InspectImage(ctx, testImage)
	testenv.Need(t, "the test image "+testImage, err)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	h := &harness{
		t:          t,
		manifests:  t.TempDir(),
		root:       t.TempDir(),
		instance:   "e2e-" + hex.EncodeToString(b),
		rt:         rt,
		extraFlags: flags,
		endpoint:   endpoint,
		bridge:     "re" + hex.EncodeToString(b),
		cidr:       fmt.Sprintf("10.220.%d.0/24", b[0]),
	}
	h.netDir = filepath.Join(h.root, "net")
	t.Cleanup(h.cleanup)
	return h
}

// cleanup stops every runner this test started and removes every container
// carrying the test's instance label.
func (h *harness) cleanup() {
	h.mu.Lock()
	procs := h.procs
	h.mu.Unlock()
	for _, p := range procs {
		p.kill()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h.janitor(ctx)
	list, err := h.rt.ListContainers(ctx, map[string]string{runner.LabelInstance: h.instance})
	if err != nil {
		h.t.Logf("cleanup: list: %v", err)
		return
	}
	for _, c := range list {
		if err := h.rt.RemoveContainer(ctx, c.ID); err != nil {
			h.t.Logf("cleanup: remove %s: %v", c.Name, err)
		}
	}
	// The test's node set-up: its bridge and the firewall rules of its CIDR
	// (its veths went with the containers' namespaces), as an uninstall.
	if out, err := exec.Command(binary, "cleanup-network", "--root-dir", h.root, "--cni-bridge-name", h.bridge, "--pod-cidr", h.cidr).CombinedOutput(); err != nil {
		h.t.Logf("cleanup: cleanup-network: %v\n%s", err, out)
	}
	if h.t.Failed() {
		for i, p := range procs {
			h.t.Logf("runner %d output:\n%s", i, p.Output())
		}
	}
}

// janitor tears the test's pods down the way a user would, through runner
// with no manifests (so CNI DEL removes the host side of their network:
// iptables rules, veths, allocations), waiting up to 45s; what is left is
// then removed by force.
func (h *harness) janitor(ctx context.Context) {
	list, err := h.rt.ListContainers(ctx, map[string]string{runner.LabelInstance: h.instance})
	if err != nil || len(list) == 0 {
		return
	}
	empty, err := os.MkdirTemp("", "runner-e2e-empty")
	if err != nil {
		return
	}
	defer os.RemoveAll(empty)
	args := h.args()
	for i := range args {
		if args[i] == "--manifest-dir" {
			args[i+1] = empty
		}
	}
	cmd := exec.Command(binary, args...)
	if err := cmd.Start(); err != nil {
		return
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		left, err := h.rt.ListContainers(ctx, map[string]string{runner.LabelInstance: h.instance})
		if err == nil && len(left) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// args are the flags every runner of this test gets.
func (h *harness) args(extra ...string) []string {
	a := []string{
		"--manifest-dir", h.manifests,
		"--root-dir", h.root,
		"--instance-id", h.instance,
		"--node-name", "e2e",
		"--log-level", "debug",
		"--restart-backoff-initial", "1s",
		"--restart-backoff-max", "4s",
		"--pod-cidr", h.cidr,
		"--cni-bridge-name", h.bridge,
		"--cni-conf-dir", filepath.Join(h.root, "no-cni-conf"),
		// No API unless a test asks for one (see withAPI): runners of
		// different tests never compete for its ports.
		"--read-only-port", "0",
		"--healthz-port", "0",
	}
	if h.endpoint != "" {
		a = append(a, "--docker-endpoint", h.endpoint)
	}
	a = append(a, h.extraFlags...)
	return append(a, extra...)
}

// start starts a runner in the background.
func (h *harness) start(extra ...string) *proc {
	h.t.Helper()
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(binary, h.args(extra...)...)
	p.cmd.Stdout = procWriter{p}
	p.cmd.Stderr = procWriter{p}
	if err := p.cmd.Start(); err != nil {
		h.t.Fatalf("start runner: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	return p
}

// run runs a runner to completion (e.g. --runonce) and returns its exit
// code and output.
func (h *harness) run(timeout time.Duration, extra ...string) (int, string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, h.args(extra...)...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		h.t.Fatalf("run runner: %v\n%s", err, out)
	}
	return 0, string(out)
}

func (p *proc) signal(sig syscall.Signal) {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(sig)
	}
}

// kill stops the process with SIGKILL and waits for it.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("runner did not stop within 30s of SIGTERM")
	}
	if p.err != nil {
		t.Fatalf("runner exited with %v after SIGTERM", p.err)
	}
}

// awaitLog waits until the process printed a line containing s.
func (p *proc) awaitLog(t *testing.T, s string, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, "runner log line "+s, func() bool { return strings.Contains(p.Output(), s) })
}

// countLog counts the lines containing s.
func (p *proc) countLog(s string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(p.Output()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			n++
		}
	}
	return n
}

// writeManifest writes a manifest atomically (temp file and rename).
func (h *harness) writeManifest(name, content string) {
	h.t.Helper()
	tmp := filepath.Join(h.manifests, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(h.manifests, name)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) removeManifest(name string) {
	h.t.Helper()
	if err := os.Remove(filepath.Join(h.manifests, name)); err != nil {
		h.t.Fatal(err)
	}
}

// containers lists this test's containers, inspected.
func (h *harness) containers() []runtime.Container {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := h.rt.ListContainers(ctx, map[string]string{runner.LabelInstance: h.instance})
	if err != nil {
		h.t.Fatalf("list containers: %v", err)
	}
	out := make([]runtime.Container, 0, len(list))
	for _, c := range list {
		full, err := h.rt.InspectContainer(ctx, c.ID)
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, full)
	}
	return out
}

// podContainers are the containers of pod name (without the node suffix)
// by container name ("POD" for sandboxes), all attempts.
func (h *harness) podContainers(pod string) map[string][]runtime.Container {
	out := map[string][]runtime.Container{}
	for _, c := range h.containers() {
		if c.Labels[runner.LabelPodName] == pod+"-e2e" {
			name := c.Labels[runner.LabelContainerName]
			out[name] = append(out[name], c)
		}
	}
	return out
}

// running reports whether pod's sandbox and every named container have a
// running instance.
func (h *harness) running(pod string, names ...string) bool {
	cs := h.podContainers(pod)
	for _, n := range append([]string{runner.SandboxContainerName}, names...) {
		ok := false
		for _, c := range cs[n] {
			if c.State == runtime.StateRunning {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// pod renders a one-container pod manifest.
func pod(name, restartPolicy, script string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  restartPolicy: %s
  terminationGracePeriodSeconds: 5
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", %q]
`, name, restartPolicy, testImage, script)
}
