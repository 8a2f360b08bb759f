package dockerd

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner/runtime"
)

const testRef = "runner.local/busybox:private-test"

// startDaemon starts a private daemon for t, removed in cleanup.
func startDaemon(t *testing.T, liveRestore bool) *Daemon {
	t.Helper()
	testenv.Integration(t, "dockerd, containerd and root")
	testenv.Root(t)
	_, err := exec.LookPath("dockerd")
	testenv.Need(t, "dockerd", err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The host's docker0 (the machine's dockerd) must outlive the private
	// daemon: dockerd deletes it when told to have no bridge.
	_, hostBridge := net.InterfaceByName("docker0")
	d, err := Start(ctx, Config{LiveRestore: liveRestore})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	checkHost := func(when string) {
		if _, err := net.InterfaceByName("docker0"); hostBridge == nil && err != nil {
			t.Errorf("the host's docker0 is gone %s the private dockerd: %v", when, err)
		}
	}
	checkHost("after starting")
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		assertGone(t, d.Dir())
		checkHost("after closing")
		if _, err := net.InterfaceByName(d.bridgeName()); err == nil {
			t.Errorf("bridge %s left after Close", d.bridgeName())
		}
	})
	if err := d.ImportBusybox(ctx, testRef); err != nil {
		t.Fatal(err)
	}
	return d
}

// assertGone checks that nothing of a closed daemon is left: no directory,
// no mount, no process naming it.
func assertGone(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Close (%v)", dir, err)
	}
	mounts, _ := mountinfo.GetMounts(func(m *mountinfo.Info) (bool, bool) {
		return !strings.HasPrefix(m.Mountpoint, dir+"/") && m.Mountpoint != dir, false
	})
	for _, m := range mounts {
		t.Errorf("mount left after Close: %s", m.Mountpoint)
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(cmd), dir+"/") && alive(atoi(e.Name()), "") {
			t.Errorf("process %s left after Close: %q", e.Name(), strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// runSleeper starts a container that exits on SIGTERM.
func runSleeper(t *testing.T, d *Daemon) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := d.Runtime().CreateContainer(ctx, runtime.ContainerSpec{
		Name: "sleeper", Image: testRef, NetworkMode: "none",
		Cmd: []string{"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Runtime().StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

func inspect(t *testing.T, d *Daemon, id string) runtime.Container {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := d.Runtime().InspectContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func restart(t *testing.T, d *Daemon) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d.Running() {
		t.Fatal("Running after Stop")
	}
	if _, err := os.Stat(d.path("docker.sock")); err == nil {
		if _, err := d.Runtime().Version(ctx); err == nil {
			t.Fatal("the engine answers after Stop")
		}
	}
	if err := d.Up(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestStopStopsContainers: without live-restore a stop of the engine stops
// its containers, and they stay stopped after Up.
func TestStopStopsContainers(t *testing.T) {
	d := startDaemon(t, false)
	id := runSleeper(t, d)
	restart(t, d)
	if c := inspect(t, d, id); c.State != runtime.StateExited {
		t.Errorf("after a restart without live-restore the container is %s, want exited", c.State)
	}
}

// TestLiveRestoreKeepsContainers: with live-restore the container runs on
// across the engine's restart, with the same process.
func TestLiveRestoreKeepsContainers(t *testing.T) {
	d := startDaemon(t, true)
	id := runSleeper(t, d)
	before := inspect(t, d, id)
	restart(t, d)
	after := inspect(t, d, id)
	if after.State != runtime.StateRunning || after.Pid != before.Pid {
		t.Errorf("after a live-restore restart: %s pid %d, want running pid %d", after.State, after.Pid, before.Pid)
	}
	// Close removes a running container of a live-restore daemon too.
}
