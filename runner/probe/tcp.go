package probe

import (
	"context"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TCPSocket connects to the action's port on its host, or else the pod's IP
// (127.0.0.1 for a hostNetwork pod), within timeout (zero: ctx alone): a
// connection is Success (and closed at once), anything else Failure. Any
// goroutine may call it.
func (h *Handlers) TCPSocket(ctx context.Context, t Target, a *v1.TCPSocketAction, timeout time.Duration) Result {
	address, err := t.address(a.Host, a.Port)
	if err != nil {
		return unknown(fmt.Errorf("tcpSocket: %w", err))
	}
	dialCtx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	conn, err := h.dialer.DialContext(dialCtx, "tcp", address)
	if err != nil {
		return failedRequest(ctx, err)
	}
	conn.Close()
	return Result{Outcome: Success}
}
