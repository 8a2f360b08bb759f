package dockerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/runner-dev/runner/runner/runtime/docker"
)

// startTimeout bounds Up when the caller's context has no deadline.
const startTimeout = 90 * time.Second

// Config configures a Daemon.
type Config struct {
	// Dir holds everything of the daemon. Empty: a new directory under
	// os.TempDir. Close removes it either way.
	Dir string
	// LiveRestore starts dockerd with --live-restore: containers keep
	// running while it is stopped. SetLiveRestore changes it for the next Up.
	LiveRestore bool
}

// Daemon is a private dockerd. Its methods are safe for concurrent use, but
// Up, Stop and Close are meant to be called by one test goroutine in turn.
type Daemon struct {
	dir string
	rt  *docker.Runtime

	mu          sync.Mutex
	liveRestore bool
	cmd         *exec.Cmd
	exited      chan struct{} // closed when cmd has exited
	log         *os.File
}

// Start creates the daemon's directory and starts dockerd in it; it returns
// once the engine answers. Close undoes it, also after a failed Start.
func Start(ctx context.Context, cfg Config) (*Daemon, error) {
	dir := cfg.Dir
	if dir == "" {
		// A short path: the unix sockets below it must fit in 108 bytes.
		var err error
		if dir, err = os.MkdirTemp("", "rdockerd-"); err != nil {
			return nil, fmt.Errorf("private dockerd: %w", err)
		}
	}
	d := &Daemon{dir: dir, liveRestore: cfg.LiveRestore}
	if err := d.prepare(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := d.Up(ctx); err != nil {
		return d, errors.Join(err, d.Close())
	}
	return d, nil
}

// prepare writes the empty configuration (and where dockerd keeps its
// engine key, so that /etc/docker is never written) and the client.
func (d *Daemon) prepare() error {
	conf := fmt.Sprintf("{\"deprecated-key-path\": %q}\n", filepath.Join(d.dir, "key.json"))
	if err := os.WriteFile(d.path("daemon.json"), []byte(conf), 0o600); err != nil {
		return fmt.Errorf("private dockerd: %w", err)
	}
	rt, err := docker.New(docker.Config{Endpoint: d.Endpoint(), CallTimeout: 20 * time.Second})
	if err != nil {
		return fmt.Errorf("private dockerd: %w", err)
	}
	d.rt = rt
	return d.addBridge()
}

// bridgeName is the daemon's own bridge. dockerd's default network needs
// one, and with --bridge=none dockerd deletes the host's docker0 (it takes
// it for a leftover of its own), which would cut the machine's dockerd off
// its containers.
func (d *Daemon) bridgeName() string {
	sum := sha256.Sum256([]byte(d.dir))
	return "rdk" + hex.EncodeToString(sum[:4])
}

// bridgeCIDR is the address of the daemon's bridge, a /24 of 10.231/16
// chosen by its directory (dockerd takes its default network from it).
func (d *Daemon) bridgeCIDR() string {
	sum := sha256.Sum256([]byte(d.dir))
	return fmt.Sprintf("10.231.%d.1/24", sum[4])
}

// addBridge creates the daemon's bridge (dockerd creates only docker0
// itself); one left by an earlier daemon of the same directory is reused.
func (d *Daemon) addBridge() error {
	name := d.bridgeName()
	if _, err := net.InterfaceByName(name); err == nil {
		return nil
	}
	for _, args := range [][]string{
		{"link", "add", name, "type", "bridge"},
		{"addr", "add", d.bridgeCIDR(), "dev", name},
		{"link", "set", name, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			_ = d.deleteBridge()
			return fmt.Errorf("private dockerd: ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// deleteBridge removes the daemon's bridge if it is there.
func (d *Daemon) deleteBridge() error {
	name := d.bridgeName()
	if _, err := net.InterfaceByName(name); err != nil {
		return nil
	}
	if out, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil {
		return fmt.Errorf("private dockerd: delete bridge %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func (d *Daemon) path(name string) string { return filepath.Join(d.dir, name) }

// Dir is the daemon's directory.
func (d *Daemon) Dir() string { return d.dir }

// Endpoint is the daemon's address for --docker-endpoint and DOCKER_HOST.
func (d *Daemon) Endpoint() string { return "unix://" + d.path("docker.sock") }

// Runtime is a client of the daemon (the runtime seam's Docker adapter).
func (d *Daemon) Runtime() *docker.Runtime { return d.rt }

// LogPath is the file dockerd's output goes to.
func (d *Daemon) LogPath() string { return d.path("dockerd.log") }

// SetLiveRestore says whether the next Up starts dockerd with --live-restore.
func (d *Daemon) SetLiveRestore(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.liveRestore = on
}

// args are dockerd's flags.
func (d *Daemon) args(liveRestore bool) []string {
	a := []string{
		"--config-file", d.path("daemon.json"),
		"--data-root", d.path("data"),
		"--exec-root", d.path("exec"),
		"--pidfile", d.path("dockerd.pid"),
		"--host", d.Endpoint(),
		"--bridge", d.bridgeName(), "--iptables=false", "--ip-forward=false", "--ip-masq=false",
		"--storage-driver", "overlay2",
	}
	if liveRestore {
		a = append(a, "--live-restore")
	}
	return a
}

// Up starts dockerd and returns once it answers (the moment it answered is
// when Up returns). It fails when dockerd exits first or ctx (at most 90 s
// when it has no deadline) ends; dockerd is then stopped again.
func (d *Daemon) Up(ctx context.Context) error {
	d.mu.Lock()
	if d.cmd != nil {
		d.mu.Unlock()
		return errors.New("private dockerd: already running")
	}
	log, err := os.OpenFile(d.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		d.mu.Unlock()
		return fmt.Errorf("private dockerd: %w", err)
	}
	cmd := exec.Command("dockerd", d.args(d.liveRestore)...)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own session, so that a terminal's ^C reaches the test only; and
	// SIGTERM (a clean stop) should the test process die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		log.Close()
		d.mu.Unlock()
		return fmt.Errorf("private dockerd: start: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		log.Close()
		close(exited)
	}()
	d.cmd, d.exited, d.log = cmd, exited, log
	d.mu.Unlock()

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := d.rt.Version(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			d.forget()
			return fmt.Errorf("private dockerd exited while starting (see %s): %s", d.LogPath(), d.tail(10))
		case <-ctx.Done():
			_, serr := d.Stop(context.Background())
			return errors.Join(fmt.Errorf("private dockerd did not answer: %w (see %s)", ctx.Err(), d.LogPath()), serr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// forget drops the record of a dockerd that has exited.
func (d *Daemon) forget() {
	d.mu.Lock()
	d.cmd, d.exited = nil, nil
	d.mu.Unlock()
}

// Running reports whether dockerd has been started and has not exited.
func (d *Daemon) Running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// Stop sends dockerd SIGTERM, as systemd stops it, and waits until it and
// the containerd it started have exited; without live-restore dockerd first
// stops every container. It returns how long that took. Stopping a daemon
// that does not run does nothing.
func (d *Daemon) Stop(ctx context.Context) (time.Duration, error) {
	d.mu.Lock()
	cmd, exited := d.cmd, d.exited
	d.mu.Unlock()
	if cmd == nil {
		return 0, nil
	}
	start := time.Now()
	containerd := readPid(filepath.Join(d.path("exec"), "containerd", "containerd.pid"))
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-ctx.Done():
		return time.Since(start), fmt.Errorf("private dockerd did not stop: %w", ctx.Err())
	}
	d.forget()
	// dockerd stops its containerd on the way out; wait for that too, so
	// that the next Up starts a fresh one.
	for containerd > 0 && alive(containerd, "containerd") {
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("the private dockerd's containerd (pid %d) did not stop: %w", containerd, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return time.Since(start), nil
}

// readPid reads a pid file; 0 when there is none.
func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// alive reports whether process pid exists and its command line contains
// name (a reused pid of another program is not it).
func alive(pid int, name string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil && strings.Contains(string(st), ") Z ") {
		return false // a zombie has exited
	}
	return strings.Contains(string(b), name)
}

// tail is the end of dockerd's log.
func (d *Daemon) tail(lines int) string {
	b, err := os.ReadFile(d.LogPath())
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}
