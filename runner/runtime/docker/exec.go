package docker

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/runner-dev/runner/runner/runtime"
)

// execPollInterval spaces the exit-code checks of an exec whose output has
// ended but whose process the engine still reports running.
const execPollInterval = 20 * time.Millisecond

// Exec runs cmd in running container id, without a TTY or stdin, and waits
// for it. The command's run time is bounded by ctx alone (probes and hooks set
// their own deadlines); each engine call within by CallTimeout as well. A
// container that is not running is runtime.ErrConflict. The whole output is
// kept in memory.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string) (runtime.ExecResult, error) {
	op := fmt.Sprintf("exec %q in container %s", strings.Join(cmd, " "), id)
	execID, err := r.execCreate(ctx, id, cmd)
	if err != nil {
		return runtime.ExecResult{}, wrap(op, err)
	}
	var stdout, stderr bytes.Buffer
	if err := r.execAttach(ctx, execID, &stdout, &stderr); err != nil {
		return runtime.ExecResult{}, fmt.Errorf("%s: %w", op, err)
	}
	code, err := r.execExitCode(ctx, execID)
	if err != nil {
		return runtime.ExecResult{}, fmt.Errorf("%s: %w", op, err)
	}
	return runtime.ExecResult{ExitCode: code, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}, nil
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
func (r *Runtime) execAttach(ctx context.Context, execID string, stdout, stderr *bytes.Buffer) error {
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
