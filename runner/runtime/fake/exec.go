package fake

import (
	"context"
	"fmt"
	"strings"

	"github.com/runner-dev/runner/runner/runtime"
)

// HandleExec sets what Exec returns: fn acts out an exec, given the
// caller's context (a command that runs until its deadline blocks on
// ctx.Done()), the container's full ID and the command. Without a handler an
// exec succeeds with no output. fn is called without the fake's lock held,
// so it may call the fake (e.g. Exit).
func (r *Runtime) HandleExec(fn func(ctx context.Context, id string, cmd []string) (runtime.ExecResult, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.execFunc = fn
}

// Exec runs cmd through the HandleExec handler in a running container. A
// container that is not running is runtime.ErrConflict. As the Docker
// adapter, it returns ctx's error when ctx ends before the handler returns
// (the "process" is then considered killed) and keeps each stream up to
// runtime.ExecOutputLimit.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string) (runtime.ExecResult, error) {
	op := fmt.Sprintf("exec %q in container %s", strings.Join(cmd, " "), id)
	r.mu.Lock()
	if err := r.recordLocked("Exec", id); err != nil {
		r.mu.Unlock()
		return runtime.ExecResult{}, err
	}
	c, err := r.findLocked(id)
	if err == nil && c.State != runtime.StateRunning {
		err = fmt.Errorf("%w: container %s is not running", runtime.ErrConflict, c.ID)
	}
	fn := r.execFunc
	r.mu.Unlock()
	if err != nil {
		return runtime.ExecResult{}, fmt.Errorf("%s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return runtime.ExecResult{}, fmt.Errorf("%s: %w", op, err)
	}
	if fn == nil {
		return runtime.ExecResult{}, nil
	}
	res, err := fn(ctx, c.ID, append([]string(nil), cmd...))
	if ctxErr := ctx.Err(); ctxErr != nil {
		return runtime.ExecResult{}, fmt.Errorf("%s: %w", op, ctxErr)
	}
	if err != nil {
		return runtime.ExecResult{}, fmt.Errorf("%s: %w", op, err)
	}
	res.Stdout, res.Truncated = capOutput(res.Stdout, res.Truncated)
	res.Stderr, res.Truncated = capOutput(res.Stderr, res.Truncated)
	return res, nil
}

// capOutput cuts b to runtime.ExecOutputLimit, telling whether anything was
// (or already had been) cut.
func capOutput(b []byte, truncated bool) ([]byte, bool) {
	if len(b) > runtime.ExecOutputLimit {
		return b[:runtime.ExecOutputLimit:runtime.ExecOutputLimit], true
	}
	return b, truncated
}
