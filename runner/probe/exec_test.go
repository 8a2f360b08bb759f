package probe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// runningContainer is a running container of a fake runtime whose execs
// run fn.
func runningContainer(t *testing.T, fn func(ctx context.Context, cmd []string) (runtime.ExecResult, error)) (*fake.Runtime, string) {
	t.Helper()
	rt := fake.New()
	rt.AddImage(runtime.Image{RepoTags: []string{"busybox:test"}})
	id, err := rt.CreateContainer(t.Context(), runtime.ContainerSpec{Name: "probed", Image: "busybox:test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	rt.HandleExec(func(ctx context.Context, _ string, cmd []string) (runtime.ExecResult, error) { return fn(ctx, cmd) })
	return rt, id
}

// scriptedExec answers each command by its first word: "ok" exits 0 with
// output, "fail" exits 1 with output, "silent" exits 2 with none, "flood"
// writes more than MaxOutput to both streams, "hang" runs until its context
// ends.
func scriptedExec(ctx context.Context, cmd []string) (runtime.ExecResult, error) {
	switch cmd[0] {
	case "ok":
		return runtime.ExecResult{Stdout: []byte("all good\n")}, nil
	case "fail":
		return runtime.ExecResult{ExitCode: 1, Stdout: []byte("out\n"), Stderr: []byte("broken\n")}, nil
	case "silent":
		return runtime.ExecResult{ExitCode: 2}, nil
	case "flood":
		return runtime.ExecResult{Stdout: []byte(strings.Repeat("o", MaxOutput)), Stderr: []byte("e")}, nil
	case "hang":
		<-ctx.Done()
		return runtime.ExecResult{}, ctx.Err()
	default:
		return runtime.ExecResult{}, errors.New("no such command")
	}
}

func TestExec(t *testing.T) {
	rt, id := runningContainer(t, scriptedExec)
	h := NewHandlers(HandlersConfig{Runtime: rt})
	target := Target{ContainerID: id}
	cases := []struct {
		cmd        []string
		timeout    time.Duration
		want       Outcome
		wantOutput string
	}{
		{[]string{"ok"}, probeTimeout, Success, "all good\n"},
		{[]string{"fail", "now"}, probeTimeout, Failure, "out\nbroken\n"},
		{[]string{"silent"}, probeTimeout, Failure, `command "silent" exited with code 2`},
		{[]string{"flood"}, probeTimeout, Success, strings.Repeat("o", MaxOutput)},
		{[]string{"hang", "on"}, 50 * time.Millisecond, Failure, `command "hang on" timed out after 50ms`},
	}
	for _, c := range cases {
		t.Run(c.cmd[0], func(t *testing.T) {
			res := h.Exec(t.Context(), target, &v1.ExecAction{Command: c.cmd}, c.timeout)
			if res.Outcome != c.want || res.Output != c.wantOutput {
				t.Errorf("Exec(%q) = %v %q, want %v %q", c.cmd, res.Outcome, res.Output, c.want, c.wantOutput)
			}
		})
	}
	if calls := rt.CallsOf("Exec"); len(calls) != len(cases) || calls[0].Arg != id {
		t.Errorf("runtime Exec calls %v, want %d in container %s", calls, len(cases), id)
	}
}

func TestExecCannotRun(t *testing.T) {
	rt, id := runningContainer(t, scriptedExec)
	if err := rt.Exit(id, 0); err != nil {
		t.Fatal(err)
	}
	h := NewHandlers(HandlersConfig{Runtime: rt})
	res := h.Exec(t.Context(), Target{ContainerID: id}, &v1.ExecAction{Command: []string{"ok"}}, probeTimeout)
	if res.Outcome != Unknown || !errors.Is(res.Err, runtime.ErrConflict) {
		t.Errorf("Exec in an exited container = %+v, want unknown wrapping runtime.ErrConflict", res)
	}
	for name, c := range map[string]struct {
		h      *Handlers
		target Target
		cmd    []string
	}{
		"no runtime":      {NewHandlers(HandlersConfig{}), Target{ContainerID: id}, []string{"ok"}},
		"no command":      {h, Target{ContainerID: id}, nil},
		"no container ID": {h, Target{}, []string{"ok"}},
	} {
		if res := c.h.Exec(t.Context(), c.target, &v1.ExecAction{Command: c.cmd}, probeTimeout); res.Outcome != Unknown || res.Err == nil {
			t.Errorf("%s: Exec = %+v, want unknown with an error", name, res)
		}
	}
}

func TestExecStoppedIsUnknown(t *testing.T) {
	rt, id := runningContainer(t, scriptedExec)
	h := NewHandlers(HandlersConfig{Runtime: rt})
	ctx, cancel := context.WithCancel(t.Context())
	rt.HandleExec(func(ctx context.Context, _ string, cmd []string) (runtime.ExecResult, error) {
		cancel() // the worker stops while the command runs
		return scriptedExec(ctx, cmd)
	})
	res := h.Exec(ctx, Target{ContainerID: id}, &v1.ExecAction{Command: []string{"hang"}}, probeTimeout)
	if res.Outcome != Unknown || !errors.Is(res.Err, context.Canceled) {
		t.Errorf("Exec whose worker stopped = %+v, want unknown (context canceled)", res)
	}
}
