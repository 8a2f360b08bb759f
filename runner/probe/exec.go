package probe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
)

// Exec runs the action's command in the target container through the
// runtime, within timeout (zero: ctx alone); the runtime kills a command
// that outlives it. Exit code 0 is Success, another Failure, and so is a
// timeout; Output is the command's stdout then stderr, cut at MaxOutput.
// Any goroutine may call it.
func (h *Handlers) Exec(ctx context.Context, t Target, a *v1.ExecAction, timeout time.Duration) Result {
	res, ran, r := h.runExec(ctx, t, a, timeout)
	if !ran {
		return r
	}
	out := combinedOutput(res)
	if res.ExitCode == 0 {
		return Result{Outcome: Success, Output: out}
	}
	if out == "" {
		out = fmt.Sprintf("command %s exited with code %d", quoteCommand(a.Command), res.ExitCode)
	}
	return Result{Outcome: Failure, Output: out}
}

// runExec runs the command. ran says it ran to its end and res holds what
// it did; otherwise r is the Result of a command that could not run
// (Unknown) or timed out (Failure).
func (h *Handlers) runExec(ctx context.Context, t Target, a *v1.ExecAction, timeout time.Duration) (res runtime.ExecResult, ran bool, r Result) {
	switch {
	case h.exec == nil:
		return res, false, unknown(errors.New("exec: no runtime to run commands in"))
	case len(a.Command) == 0:
		return res, false, unknown(errors.New("exec: the command is empty"))
	case t.ContainerID == "":
		return res, false, unknown(errors.New("exec: no container ID"))
	}
	runCtx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	res, err := h.exec.Exec(runCtx, t.ContainerID, a.Command)
	switch {
	case err == nil:
		return res, true, Result{}
	case ctx.Err() == nil && runCtx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		return res, false, Result{Outcome: Failure, Output: fmt.Sprintf("command %s timed out after %v", quoteCommand(a.Command), timeout)}
	default:
		return res, false, unknown(err)
	}
}

// combinedOutput is an exec's stdout then stderr, cut at MaxOutput.
func combinedOutput(res runtime.ExecResult) string {
	out := make([]byte, 0, min(len(res.Stdout)+len(res.Stderr), MaxOutput))
	out = append(out, res.Stdout[:min(len(res.Stdout), MaxOutput)]...)
	out = append(out, res.Stderr[:min(len(res.Stderr), MaxOutput-len(out))]...)
	return string(out)
}

// quoteCommand is a command as its words in one quoted string.
func quoteCommand(cmd []string) string {
	return fmt.Sprintf("%q", strings.Join(cmd, " "))
}
