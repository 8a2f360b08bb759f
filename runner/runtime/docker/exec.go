package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/runner-dev/runner/runner/runtime"
)

// execPollInterval spaces the state checks of an exec whose output has
// ended but whose process the engine still reports running, or which is
// being killed.
const execPollInterval = 20 * time.Millisecond

// Exec runs cmd in running container id, without a TTY or stdin, and waits
// for it. The command's run time is bounded by ctx alone (probes and hooks set
// their own deadlines); each engine call within by CallTimeout as well. When
// ctx ends before the command, its process group is killed (killExec: the
// Engine API has no way to cancel an exec) and ctx's error returned. A
// container that is not running is runtime.ErrConflict. Each stream is kept
// up to runtime.ExecOutputLimit.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string) (runtime.ExecResult, error) {
	op := fmt.Sprintf("exec %q in container %s", strings.Join(cmd, " "), id)
	execID, err := r.execCreate(ctx, id, cmd)
	if err != nil {
		return runtime.ExecResult{}, wrap(op, err)
	}
	stdout := &cappedBuffer{limit: runtime.ExecOutputLimit}
	stderr := &cappedBuffer{limit: runtime.ExecOutputLimit}
	err = r.execAttach(ctx, execID, stdout, stderr)
	code := 0
	if err == nil {
		code, err = r.execExitCode(ctx, execID)
	}
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up: the process must not run on unseen.
			err = errors.Join(err, r.killExec(context.WithoutCancel(ctx), execID))
		}
		return runtime.ExecResult{}, fmt.Errorf("%s: %w", op, err)
	}
	return runtime.ExecResult{
		ExitCode:  code,
		Stdout:    stdout.buf.Bytes(),
		Stderr:    stderr.buf.Bytes(),
		Truncated: stdout.dropped || stderr.dropped,
	}, nil
}

func (r *Runtime) execCreate(ctx context.Context, id string, cmd []string) (string, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	resp, err := r.client.ContainerExecCreate(ctx, id, container.ExecOptions{
		Cmd:          cmd,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return "", err
	}
	return resp.ID, nil
}

// execAttach starts the exec and demultiplexes its output into stdout and
// stderr until the process closes them or ctx ends.
func (r *Runtime) execAttach(ctx context.Context, execID string, stdout, stderr *cappedBuffer) error {
	attachCtx, cancel := r.call(ctx)
	resp, err := r.client.ContainerExecAttach(attachCtx, execID, container.ExecAttachOptions{})
	cancel()
	if err != nil {
		return wrap("start exec "+execID, err)
	}
	defer resp.Close()

	// A hijacked connection ignores contexts: close it when ctx ends, so
	// the copy below returns. The goroutine ends with the copy.
	copied := make(chan struct{})
	defer close(copied)
	go func() {
		select {
		case <-ctx.Done():
			resp.Close()
		case <-copied:
		}
	}()

	if _, err := stdcopy.StdCopy(stdout, stderr, resp.Reader); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("read exec output: %w", ctx.Err())
		}
		return fmt.Errorf("read exec output: %w", err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("read exec output: %w", ctx.Err())
	}
	return nil
}

// execExitCode waits until the engine reports the exec's process gone and
// returns its exit code.
func (r *Runtime) execExitCode(ctx context.Context, execID string) (int, error) {
	for {
		info, err := r.execInspect(ctx, execID)
		if err != nil {
			return 0, wrap("inspect exec "+execID, err)
		}
		if !info.Running {
			return info.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("wait for exec %s: %w", execID, ctx.Err())
		case <-time.After(execPollInterval):
		}
	}
}

func (r *Runtime) execInspect(ctx context.Context, execID string) (container.ExecInspect, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	return r.client.ContainerExecInspect(ctx, execID)
}

// execKillBudget bounds killExec (and CallTimeout, when shorter). A caller
// that gave up is often runner shutting down, which waits for its probe
// workers: a loaded engine that is slow to start or reap an exec must not
// hold that up for a whole CallTimeout (it did for over 30 s with 50 exec
// probes a second on two cores).
const execKillBudget = 5 * time.Second

// killExec kills the process group of an exec whose caller gave up, and
// waits until the engine reports the exec ended, all within execKillBudget.
// ctx carries no deadline of its own (the caller's has passed).
//
// An exec the engine has not started yet (no pid, no exit code) is waited
// for, since it would start unseen; one that ended is left alone. Past the
// budget the error says which of the two it was.
func (r *Runtime) killExec(ctx context.Context, execID string) error {
	ctx, cancel := context.WithTimeout(ctx, min(r.callTimeout, execKillBudget))
	defer cancel()
	killed := false
	for {
		info, err := r.client.ContainerExecInspect(ctx, execID)
		if err != nil {
			return wrap("inspect exec "+execID+" to kill it", err)
		}
		switch {
		case info.Running && info.Pid > 0:
			if !killed {
				if err := killProcessGroup(info.Pid, info.ContainerID); err != nil {
					return fmt.Errorf("kill exec %s: %w", execID, err)
				}
				killed = true
			}
		case info.Running, info.Pid == 0 && info.ExitCode == 0:
			// Starting: wait for its pid.
		default:
			return nil
		}
		select {
		case <-ctx.Done():
			if killed {
				return fmt.Errorf("exec %s still running after SIGKILL: %w", execID, ctx.Err())
			}
			return fmt.Errorf("exec %s did not start or end: %w", execID, ctx.Err())
		case <-time.After(execPollInterval):
		}
	}
}

// cappedBuffer keeps the first limit bytes written to it and drops the
// rest, never failing a write (so the copy drains the stream).
type cappedBuffer struct {
	buf     bytes.Buffer
	limit   int
	dropped bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	room := b.limit - b.buf.Len()
	if len(p) > room {
		b.dropped = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	b.buf.Write(p)
	return len(p), nil
}
