package probe

import (
	"context"
	"errors"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
)

// RunHook runs a lifecycle handler (postStart, preStop) once, with the
// kubelet's rules, bounded by ctx alone: the caller sets the deadline (for
// preStop, what is left of the grace period; for postStart, the kubelet has
// none, but a caller that wants no hang sets one). It returns nil when the
// hook succeeded:
//
//   - exec: the command exited 0 (the error holds its exit code and output,
//     MaxOutput at most); a command still running at the deadline is killed.
//   - httpGet: the request got a response, whatever its status (the kubelet
//     does not check it); the User-Agent is kube-lifecycle/<version>; an HTTPS
//     request answered in plain HTTP is sent again over HTTP.
//   - sleep: the time passed before ctx ended.
//   - tcpSocket is refused: the kubelet keeps it for compatibility and never
//     runs it.
//
// Called by the loop's hooks, on their goroutine.
func (h *Handlers) RunHook(ctx context.Context, t Target, lh *v1.LifecycleHandler) error {
	switch {
	case lh == nil:
		return errors.New("lifecycle hook has no handler")
	case lh.Exec != nil:
		return h.hookExec(ctx, t, lh.Exec)
	case lh.HTTPGet != nil:
		if err := h.hookHTTPGet(ctx, t, lh.HTTPGet); err != nil {
			return fmt.Errorf("httpGet hook %s: %w", lh.HTTPGet.Path, err)
		}
		return nil
	case lh.Sleep != nil:
		return Sleep(ctx, lh.Sleep)
	case lh.TCPSocket != nil:
		return errors.New("tcpSocket is not a lifecycle handler the kubelet runs; use exec or httpGet")
	default:
		return errors.New("lifecycle hook has no handler")
	}
}

// hookExec runs an exec hook: exit code 0 or an error with the code and the
// output.
func (h *Handlers) hookExec(ctx context.Context, t Target, a *v1.ExecAction) error {
	res, ran, r := h.runExec(ctx, t, a, 0)
	switch {
	case !ran && r.Err != nil:
		return fmt.Errorf("exec hook %s: %w", quoteCommand(a.Command), r.Err)
	case !ran:
		return fmt.Errorf("exec hook %s: %s", quoteCommand(a.Command), r.Output)
	case res.ExitCode != 0:
		return fmt.Errorf("exec hook %s exited with code %d: output %q", quoteCommand(a.Command), res.ExitCode, combinedOutput(res))
	default:
		return nil
	}
}

// Sleep waits for the action's seconds, or until ctx ends (an error: the
// container is being stopped before the hook finished), as the kubelet's
// sleep hook. Called by the loop's hooks, on their goroutine.
func Sleep(ctx context.Context, a *v1.SleepAction) error {
	timer := time.NewTimer(time.Duration(a.Seconds) * time.Second)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sleep hook of %ds cut short: %w", a.Seconds, ctx.Err())
	}
}
