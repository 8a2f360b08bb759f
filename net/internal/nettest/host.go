package nettest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// RunID returns 8 random hex digits that name what one test creates.
func RunID(t testing.TB) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// Run runs a command and fails the test when it fails; it returns the
// combined output.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Succeeds reports whether a command exits 0.
func Succeeds(name string, args ...string) bool {
	return exec.Command(name, args...).Run() == nil
}

// LinkExists reports whether the host has an interface of that name.
func LinkExists(name string) bool { return Succeeds("ip", "link", "show", "dev", name) }

// Sandbox creates the network namespace name with a process in it (as a
// pause container's) and returns the process's pid; cleanup kills the
// process and deletes the namespace.
func Sandbox(t testing.TB, name string) int {
	t.Helper()
	Run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	cmd := exec.Command("ip", "netns", "exec", name, "/bin/busybox", "sleep", "3600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// ip enters the namespace, then execs the command: wait for that.
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid)
	Eventually(t, 10*time.Second, "the sandbox process to enter "+name, func() bool {
		ns, err := os.Readlink(path)
		return err == nil && ns != own
	})
	return cmd.Process.Pid
}

// Eventually polls cond every 20ms until it holds, or fails the test after
// timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
