package cni

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hangingBinDir holds plugins that start a child and wait for it forever,
// each appending its own pid and its child's to pidFile: a plugin wedged in
// a kernel call or on a lock, as far as its caller can tell.
func hangingBinDir(t *testing.T, pidFile string, plugins ...string) string {
	t.Helper()
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\necho $$ >> %[1]s\nsleep 3600 &\necho $! >> %[1]s\nwait\n", pidFile)
	for _, p := range plugins {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakeNetNS makes p accept any namespace path but runner's own, without
// real namespaces.
func fakeNetNS(p *Plugin) {
	p.nsIdentity = func(path string) (nsIdent, error) {
		if path == ownNetNSPath {
			return nsIdent{dev: 1, ino: 1}, nil
		}
		return nsIdent{dev: 1, ino: 2}, nil
	}
}

// readPids returns the pids written to pidFile so far.
func readPids(t *testing.T, pidFile string) []int {
	t.Helper()
	data, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("pid file %s: %v", pidFile, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// alive reports whether pid runs (a zombie awaiting its reaper does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// assertAllDead waits until no pid of pidFile runs: the plugins and their
// children were killed, not left behind.
func assertAllDead(t *testing.T, pidFile string, wantAtLeast int) {
	t.Helper()
	pids := readPids(t, pidFile)
	if len(pids) < wantAtLeast {
		t.Fatalf("%d plugin processes ran, want at least %d", len(pids), wantAtLeast)
	}
	eventually(t, 10*time.Second, "the hung plugins and their children to be gone", func() bool {
		for _, pid := range pids {
			if alive(pid) {
				return false
			}
		}
		return true
	})
}

// returnsWithin runs f and fails the test when it has not returned after
// limit: a guard against a hang, far above the timeouts under test.
func returnsWithin(t *testing.T, limit time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("still running after %v: a hung plugin wedged the caller", limit)
		return nil
	}
}

// noHostIPTables puts first in PATH an iptables that answers "no such
// rule" to everything: runner's own network's DEL looks for left-over rules,
// and a unit test must touch nothing of the host.
func noHostIPTables(t *testing.T) {
	t.Helper()
	t.Setenv("PATH", fakeBinDir(t, "iptables")+":"+os.Getenv("PATH"))
}

func newHangingPlugin(t *testing.T, pidFile string) *Plugin {
	t.Helper()
	noHostIPTables(t)
	p, err := New(Config{
		BinDirs: []string{hangingBinDir(t, pidFile, allPlugins...)}, CacheDir: t.TempDir(),
		CIDR: netip.MustParsePrefix("10.218.0.0/24"), Timeout: 200 * time.Millisecond, RollbackTimeout: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	fakeNetNS(p)
	return p
}

// A plugin that never returns fails the ADD at the deadline, is killed with
// its children, and its rollback DEL is bounded too.
func TestHungPluginAttachEndsAtDeadline(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pids")
	p := newHangingPlugin(t, pidFile)
	err := returnsWithin(t, 20*time.Second, func() error {
		_, err := p.Attach(t.Context(), AttachRequest{ID: "hung", NetNS: "/run/netns/x", IP: netip.MustParseAddr("10.218.0.5")})
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Attach = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "hung") || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("error %q names neither the sandbox nor the plugin", err)
	}
	// The ADD of loopback and the rollback's DEL of the list ran.
	assertAllDead(t, pidFile, 4)
}

// SIGTERM: the caller's context is cancelled while the plugin hangs. Attach
// returns (after at most the rollback's bound), and no plugin is left.
func TestHungPluginAttachEndsOnCancel(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pids")
	p := newHangingPlugin(t, pidFile)
	p.cfg.Timeout = time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for len(readPids(t, pidFile)) < 2 && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	err := returnsWithin(t, 20*time.Second, func() error {
		_, err := p.Attach(ctx, AttachRequest{ID: "term", NetNS: "/run/netns/x", IP: netip.MustParseAddr("10.218.0.5")})
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Attach = %v, want an error wrapping context.Canceled", err)
	}
	assertAllDead(t, pidFile, 2)
}

func TestHungPluginDetachEndsAtDeadline(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pids")
	p := newHangingPlugin(t, pidFile)
	err := returnsWithin(t, 20*time.Second, func() error {
		return p.Detach(t.Context(), DetachRequest{ID: "hung", IP: netip.MustParseAddr("10.218.0.5")})
	})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "detach sandbox hung") {
		t.Fatalf("Detach = %v, want a deadline error naming the sandbox", err)
	}
	assertAllDead(t, pidFile, 2)
}

// iptables is bounded too: a run stuck (here: a fake iptables first in PATH
// that never returns) fails at its deadline and is not taken for "rule
// absent".
func TestHungIPTablesEndsAtDeadline(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pids")
	t.Setenv("PATH", hangingBinDir(t, pidFile, "iptables")+":"+os.Getenv("PATH"))
	ipt := ipTables{timeout: 200 * time.Millisecond}
	err := returnsWithin(t, 20*time.Second, func() error {
		return ipt.deleteRule(t.Context(), "filter", "FORWARD", "-s", "10.218.0.5/32", "-j", "ACCEPT")
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deleteRule = %v, want a deadline error", err)
	}
	assertAllDead(t, pidFile, 2)
}

// A plugin's own error message reaches the caller; a timeout is reported as
// such.
func TestPluginErrorMessages(t *testing.T) {
	dir := t.TempDir()
	for name, script := range map[string]string{
		"cnierr": `echo '{"cniVersion":"1.0.0","code":7,"msg":"no such bridge"}'; exit 1`,
		"stderr": `echo 'plugin exploded' >&2; exit 2`,
		"silent": `exit 3`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e := &pluginExec{}
	for name, want := range map[string]string{"cnierr": "no such bridge", "stderr": "plugin exploded", "silent": "exit status 3"} {
		_, err := e.ExecPlugin(t.Context(), filepath.Join(dir, name), nil, []string{"CNI_COMMAND=ADD"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one mentioning %q", name, err, want)
		}
	}
}
