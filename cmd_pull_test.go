package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// openPTY opens a pseudo-terminal pair: what is written to slave is read
// from master.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// TestPullProgressOnTerminal: on a pseudo-terminal, `runner pull` draws a
// bar redrawn in place and ends at 100 %; into a pipe it writes lines.
func TestPullProgressOnTerminal(t *testing.T) {
	master, slave := openPTY(t)
	if !isTerminal(slave) {
		t.Fatal("isTerminal(pty) = false")
	}
	rt := fake.New()
	rt.AllowPull("registry.example/app:1")
	if err := pullImages(context.Background(), rt, []string{"registry.example/app:1"}, slave, isTerminal(slave)); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	screen, _ := io.ReadAll(master) // EIO once the slave is closed
	out := string(screen)
	if !strings.Contains(out, "\r\x1b[Kregistry.example/app:1 [") {
		t.Errorf("no bar redrawn in place:\n%q", out)
	}
	if !strings.Contains(out, "[==============================] 100% 2/2 layers, 1.0 MiB of 1.0 MiB") {
		t.Errorf("the bar does not end complete:\n%q", out)
	}
	if !strings.Contains(out, "registry.example/app:1: pulled in ") {
		t.Errorf("no summary line:\n%q", out)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if isTerminal(w) {
		t.Error("isTerminal(pipe) = true")
	}
	w.Close()
	var buf bytes.Buffer
	if err := pullImages(context.Background(), rt, []string{"registry.example/app:1"}, &buf, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "\r") || !strings.Contains(buf.String(), "registry.example/app:1: 0/1 layers") {
		t.Errorf("plain output:\n%q", buf.String())
	}
}

func TestPullFails(t *testing.T) {
	var buf bytes.Buffer
	err := pullImages(context.Background(), fake.New(), []string{"registry.example/none:1"}, &buf, false)
	if err == nil || !strings.Contains(err.Error(), "pull registry.example/none:1") {
		t.Errorf("err = %v", err)
	}
	if code, _, stderr := runCLI(t, "pull"); code != exitUsage || !strings.Contains(stderr, "name at least one image") {
		t.Errorf("runner pull with no image: %d %q", code, stderr)
	}
}

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		p    runtime.PullProgress
		want string
	}{
		{runtime.PullProgress{}, "[>         ]   0%"},
		{runtime.PullProgress{Layers: 4, LayersDone: 1}, "[==>       ]  25%"},
		{runtime.PullProgress{Layers: 2, Current: 50, Total: 100}, "[=====>    ]  50%"},
		{runtime.PullProgress{Layers: 2, LayersDone: 2, Current: 90, Total: 100}, "[==========] 100%"},
	} {
		if got := bar(tc.p, 10); got != tc.want {
			t.Errorf("bar(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}
