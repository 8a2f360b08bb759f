package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
)

// tmpfsRoot mounts a tmpfs of size bytes on a new directory for t, and
// unmounts it after every other cleanup of the test (the harness's janitor
// still reads runner's state from it).
func tmpfsRoot(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0755", size), "runner-e2e-tmpfs", dir).CombinedOutput(); err != nil {
		testenv.Need(t, "mounting a tmpfs", fmt.Errorf("%v: %s", err, out))
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes into dir until its file system is full and returns the
// filler's path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
}

// stateFilesParse checks that every JSON file runner keeps under root parses
// (written atomically, never half) and that no temporary file of a failed
// write is left; it returns the problems.
func stateFilesParse(root string) []string {
	var problems []string
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if strings.HasPrefix(rel, "pods/") || rel == "filler" {
			return nil
		}
		if strings.Contains(d.Name(), ".tmp") {
			problems = append(problems, "temporary file left: "+rel)
		}
		if strings.HasSuffix(d.Name(), ".json") {
			data, err := os.ReadFile(path)
			if err == nil && !json.Valid(data) {
				problems = append(problems, fmt.Sprintf("%s does not parse (%d bytes)", rel, len(data)))
			}
		}
		return nil
	})
	return problems
}

// TestTortureFullRootDir puts --root-dir on a 4 MiB tmpfs and fills it
// while pods run: a new pod cannot start, runner says why (no space left),
// the running pods are not touched, also across a crash and restart of
// runner on the full disk, and no state file is ever half-written. Once
// space is freed the new pod runs.
func TestTortureFullRootDir(t *testing.T) {
	root := tmpfsRoot(t, 4<<20)
	// Eviction would rightly evict under this disk pressure: what is tested
	// here is that runner's own writes fail safely.
	h := newHarness(t, "--eviction-hard", "nodefs.available<0%")
	h.root, h.netDir = root, filepath.Join(root, "net")
	h.writeManifest("a.yaml", pod("a", "Always", sleeper))
	h.writeManifest("b.yaml", memPod("b"))
	p := h.start()
	want, _ := h.wantFromManifests()
	h.awaitInvariants(want, time.Minute)
	p.awaitLog(t, "in sync", 30*time.Second)
	before := appContainers(h.containers())

	filler := fill(t, root)
	mark := len(p.Output())
	h.writeManifest("c.yaml", pod("c", "Always", sleeper))
	p.awaitLog(t, "no space left on device", 30*time.Second)
	t.Logf("runner says: %s", lineWith(p.Output()[mark:], "no space left on device"))
	// A crash and a restart on the full disk.
	p.kill()
	p = h.start()
	p.awaitLog(t, "adopted containers", 30*time.Second)
	testenv.Eventually(t, 30*time.Second, "the restarted runner reports the full disk", func() bool {
		return strings.Contains(p.Output(), "no space left on device")
	})
	// c cannot start; a and b run on, untouched.
	p.awaitLog(t, "in sync", 30*time.Second)
	if !h.running("a", "main") || !h.running("b", "main") {
		t.Errorf("a or b does not run while the root dir is full")
	}
	after := appContainers(h.containers())
	for id, c := range before {
		if a, ok := after[id]; !ok || !a.StartedAt.Equal(c.StartedAt) || a.State != runtime.StateRunning {
			t.Errorf("%s was restarted or stopped while the root dir was full", c.Name)
		}
	}
	if problems := stateFilesParse(root); len(problems) > 0 {
		t.Errorf("state under the full root dir: %v", problems)
	}
	if n := p.countLog("reason=Killing"); n != 0 {
		t.Errorf("runner stopped %d containers while the root dir was full", n)
	}
	if n := p.countLog("sandbox started"); n > 10 {
		t.Errorf("runner started %d sandboxes for c in its first seconds on the full disk: retries without backoff", n)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	want, _ = h.wantFromManifests()
	took := h.awaitInvariants(want, 90*time.Second)
	t.Logf("pod c ran %v after space was freed", took.Round(time.Millisecond))
	if problems := stateFilesParse(root); len(problems) > 0 {
		t.Errorf("state after the root dir was freed: %v", problems)
	}
}

// podCounts counts the test's live sandboxes and app containers from one
// list.
func (h *harness) podCounts() (sandboxes, apps, all int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := h.rt.ListContainers(ctx, map[string]string{runner.LabelInstance: h.instance})
	if err != nil {
		return -1, -1, -1
	}
	for _, c := range list {
		if c.State != runtime.StateRunning {
			continue
		}
		if c.Labels[runner.LabelDockerType] == runner.TypeSandbox {
			sandboxes++
		} else {
			apps++
		}
	}
	return sandboxes, apps, len(list)
}

// cycle creates n pods at once, waits until they run, removes them and
// waits until they are gone.
func (h *harness) cycle(round, n int) {
	h.t.Helper()
	for i := range n {
		h.writeManifest(fmt.Sprintf("c%d.yaml", i), pod(fmt.Sprintf("c%d", i), "Always", sleeper))
	}
	testenv.Eventually(h.t, 2*time.Minute, fmt.Sprintf("round %d: %d pods running", round, n), func() bool {
		sb, apps, _ := h.podCounts()
		return sb == n && apps == n
	})
	for i := range n {
		h.removeManifest(fmt.Sprintf("c%d.yaml", i))
	}
	testenv.Eventually(h.t, 2*time.Minute, fmt.Sprintf("round %d: pods removed", round), func() bool {
		_, _, all := h.podCounts()
		return all == 0
	})
}

// goroutinesAtExit makes p dump its goroutines (SIGQUIT: Go prints every
// stack and exits, leaving the pods running) and counts them. Called at
// rest: every pod removed (the "pod removed" lines counted up to removed).
func goroutinesAtExit(t *testing.T, p *proc, removed int) int {
	t.Helper()
	testenv.Eventually(t, time.Minute, fmt.Sprintf("%d pods removed", removed), func() bool { return p.countLog("pod removed") >= removed })
	p.signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("runner did not exit on SIGQUIT")
	}
	n := 0
	for line := range strings.SplitSeq(p.Output(), "\n") {
		if strings.HasPrefix(line, "goroutine ") && strings.HasSuffix(line, ":") {
			n++
		}
	}
	return n
}

// TestTortureCreateDeleteCycles creates and deletes pods, ten at a time
// (1,000 cycles in the full variant), and measures runner's open files and
// goroutines: after the cycles, at rest with no pod, there must be no more
// than after the first round. Goroutines are counted from a SIGQUIT dump:
// one of a runner after its first round, one of a runner after them all.
func TestTortureCreateDeleteCycles(t *testing.T) {
	h := newHarness(t, "--log-level", "info")
	const perRound = 10
	rounds := tortureSize(4, 101)

	warm := h.start()
	h.cycle(0, perRound)
	warmGoroutines := goroutinesAtExit(t, warm, perRound)

	p := h.start()
	p.awaitLog(t, "in sync", 30*time.Second)
	h.cycle(1, perRound)
	testenv.Eventually(t, time.Minute, "the first round removed", func() bool { return p.countLog("pod removed") >= perRound })
	fds0, threads0 := procStats(p)
	start := time.Now()
	for r := 2; r <= rounds; r++ {
		h.cycle(r, perRound)
	}
	cycles := (rounds - 1) * perRound
	testenv.Eventually(t, time.Minute, "every pod removed", func() bool { return p.countLog("pod removed") >= rounds*perRound })
	// Idle connections to the engine come and go: allow a few.
	deadline := time.Now().Add(10 * time.Second)
	fds, threads := procStats(p)
	for fds > fds0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		fds, threads = procStats(p)
	}
	goroutines := goroutinesAtExit(t, p, rounds*perRound)
	t.Logf("%d create/delete cycles in %v: open files %d → %d, threads %d → %d; goroutines at rest %d (a runner after one round: %d)",
		cycles, time.Since(start).Round(time.Second), fds0, fds, threads0, threads, goroutines, warmGoroutines)
	if fds > fds0+4 {
		t.Errorf("%d open files after %d cycles, %d after the first round", fds, cycles, fds0)
	}
	if goroutines > warmGoroutines+3 {
		t.Errorf("%d goroutines at rest after %d cycles, %d after one round: a leak", goroutines, cycles, warmGoroutines)
	}
	h.start()
	h.awaitInvariants(nil, time.Minute)
}
