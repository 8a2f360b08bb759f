package runtimetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// testExec runs commands in a running container and checks output and
// exit codes.
func testExec(h *harness) {
	id := h.run("x", "sleep", "3600")
	script := []string{"sh", "-c", "echo out; echo err >&2; exit 3"}
	if h.sim != nil {
		h.sim.HandleExec(func(_ context.Context, _ string, cmd []string) (runtime.ExecResult, error) {
			if slices.Equal(cmd, script) {
				return runtime.ExecResult{ExitCode: 3, Stdout: []byte("out\n"), Stderr: []byte("err\n")}, nil
			}
			return runtime.ExecResult{}, nil
		})
	}
	res, err := h.rt.Exec(h.ctx(), id, script)
	if err != nil {
		h.t.Fatalf("Exec: %v", err)
	}
	if res.ExitCode != 3 || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
		h.t.Errorf("Exec = code %d stdout %q stderr %q, want 3, \"out\\n\", \"err\\n\"", res.ExitCode, res.Stdout, res.Stderr)
	}
	res, err = h.rt.Exec(h.ctx(), id, []string{"true"})
	if err != nil || res.ExitCode != 0 {
		h.t.Errorf("Exec(true) = code %d, %v; want 0, nil", res.ExitCode, err)
	}
}

// testLogs checks the log of an exited container: both streams, Tail,
// Timestamps and Since.
func testLogs(h *harness) {
	id := h.run("l", "sh", "-c", "echo one; echo two; echo oops >&2")
	h.acts(id, "one\ntwo\n", "oops\n", 0)
	c := h.waitState(id, runtime.StateExited)

	logs := func(opts runtime.LogOptions) (string, string) {
		h.t.Helper()
		var out, errOut strings.Builder
		if err := h.rt.Logs(h.ctx(), id, opts, &out, &errOut); err != nil {
			h.t.Fatalf("Logs(%+v): %v", opts, err)
		}
		return out.String(), errOut.String()
	}
	if out, errOut := logs(runtime.LogOptions{Tail: -1}); out != "one\ntwo\n" || errOut != "oops\n" {
		h.t.Errorf("Logs(all) = %q, %q; want \"one\\ntwo\\n\", \"oops\\n\"", out, errOut)
	}
	if out, errOut := logs(runtime.LogOptions{Tail: 0}); out != "" || errOut != "" {
		h.t.Errorf("Logs(tail 0) = %q, %q; want nothing", out, errOut)
	}
	// The order of stdout and stderr lines is not defined: count lines.
	if out, errOut := logs(runtime.LogOptions{Tail: 1}); strings.Count(out+errOut, "\n") != 1 {
		h.t.Errorf("Logs(tail 1) = %q, %q; want one line", out, errOut)
	}
	out, _ := logs(runtime.LogOptions{Tail: -1, Timestamps: true})
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for i, want := range []string{"one", "two"} {
		if i >= len(lines) {
			h.t.Fatalf("Logs(timestamps) = %q, want 2 lines", out)
		}
		ts, text, _ := strings.Cut(lines[i], " ")
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || text != want {
			h.t.Errorf("Logs(timestamps) line %q, want \"<RFC 3339 time> %s\"", lines[i], want)
		}
	}
	if out, errOut := logs(runtime.LogOptions{Tail: -1, Since: c.FinishedAt.Add(time.Minute)}); out != "" || errOut != "" {
		h.t.Errorf("Logs(since after exit) = %q, %q; want nothing", out, errOut)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogsFollow follows a running container's log: it waits for new
// lines, and returns when the container exits.
func testLogsFollow(h *harness) {
	id := h.run("f", "sh", "-c", "echo one; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo two")
	h.acts(id, "one\n", "", -1)

	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- h.rt.Logs(h.ctx(), id, runtime.LogOptions{Follow: true, Tail: -1}, &out, &errOut)
	}()
	h.eventually("followed log to hold one", func() bool { return out.String() == "one\n" })
	select {
	case err := <-done:
		h.t.Fatalf("Logs(follow) returned while the container runs: %v", err)
	default:
	}

	if h.sim != nil {
		h.acts(id, "two\n", "", 0)
	} else if _, err := h.rt.Exec(h.ctx(), id, []string{"touch", "/tmp/go"}); err != nil {
		h.t.Fatalf("Exec(touch): %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			h.t.Errorf("Logs(follow): %v", err)
		}
	case <-time.After(waitTimeout):
		h.t.Fatalf("Logs(follow) did not return after the container exited")
	}
	if got := out.String(); got != "one\ntwo\n" {
		h.t.Errorf("followed stdout %q, want \"one\\ntwo\\n\"", got)
	}
}

// testLogsFollowCancel: following ends with the caller's context.
func testLogsFollowCancel(h *harness) {
	id := h.run("fc", "sh", "-c", "echo ready; sleep 3600")
	h.acts(id, "ready\n", "", -1)

	ctx, cancel := context.WithCancel(h.ctx())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- h.rt.Logs(ctx, id, runtime.LogOptions{Follow: true, Tail: -1}, &out, &errOut)
	}()
	h.eventually("followed log to hold ready", func() bool { return out.String() == "ready\n" })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			h.t.Errorf("Logs(follow) after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(waitTimeout):
		h.t.Fatalf("Logs(follow) did not return after its context was cancelled")
	}
}

// testExecDeadline: an exec still running when its context ends is killed,
// with the processes it started, before Exec returns the context's error.
func testExecDeadline(h *harness) {
	id := h.run("d", "sleep", "3600")
	// The shell waits for one child and leaves another in the background.
	script := []string{"sh", "-c", "sleep 61 & sleep 62; true"}
	if h.sim != nil {
		h.sim.HandleExec(func(ctx context.Context, _ string, _ []string) (runtime.ExecResult, error) {
			<-ctx.Done()
			return runtime.ExecResult{ExitCode: 137}, nil
		})
	}
	ctx, cancel := context.WithTimeout(h.ctx(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := h.rt.Exec(ctx, id, script)
	took := time.Since(start)
	h.wantErr("Exec past its deadline", err, context.DeadlineExceeded)
	h.t.Logf("Exec with a 1s deadline returned after %v", took)
	if h.sim != nil {
		return
	}
	res, err := h.rt.Exec(h.ctx(), id, []string{"ps", "-o", "stat,args"})
	if err != nil {
		h.t.Fatalf("Exec(ps): %v", err)
	}
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		stat, args, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.Contains(args, "sleep 6") && !strings.HasPrefix(stat, "Z") {
			h.t.Errorf("process %q still runs after Exec returned:\n%s", args, res.Stdout)
		}
	}
}

// testExecOutputLimit: each stream is kept up to runtime.ExecOutputLimit,
// and the command still runs to its end.
func testExecOutputLimit(h *harness) {
	id := h.run("o", "sleep", "3600")
	const written = runtime.ExecOutputLimit + 1000
	script := []string{"sh", "-c", "head -c " + strconv.Itoa(written) + " /dev/zero; echo small >&2; exit 4"}
	if h.sim != nil {
		h.sim.HandleExec(func(context.Context, string, []string) (runtime.ExecResult, error) {
			return runtime.ExecResult{ExitCode: 4, Stdout: make([]byte, written), Stderr: []byte("small\n")}, nil
		})
	}
	res, err := h.rt.Exec(h.ctx(), id, script)
	if err != nil {
		h.t.Fatalf("Exec: %v", err)
	}
	if len(res.Stdout) != runtime.ExecOutputLimit || string(res.Stderr) != "small\n" || !res.Truncated || res.ExitCode != 4 {
		h.t.Errorf("Exec = %d bytes of stdout, stderr %q, truncated %v, code %d; want %d, \"small\\n\", true, 4",
			len(res.Stdout), res.Stderr, res.Truncated, res.ExitCode, runtime.ExecOutputLimit)
	}
}
