package probe

import (
	"context"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// GRPC calls grpc.health.v1.Health/Check for the action's service (empty:
// the server as a whole) on its port of the pod's IP (127.0.0.1 for a
// hostNetwork pod), in plain text, within timeout (zero: ctx alone). SERVING
// is Success; any other status, an error or a timeout is Failure. Any
// goroutine may call it.
func (h *Handlers) GRPC(ctx context.Context, t Target, a *v1.GRPCAction, timeout time.Duration) Result {
	address, err := t.address("", intstr.FromInt32(a.Port))
	if err != nil {
		return unknown(fmt.Errorf("grpc: %w", err))
	}
	conn, err := grpc.NewClient("passthrough:///"+address,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUserAgent(h.userAgent("probe")),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return h.dialer.DialContext(ctx, "tcp", addr)
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxOutput)),
	)
	if err != nil {
		return unknown(fmt.Errorf("grpc client for %s: %w", address, err))
	}
	defer conn.Close()

	callCtx, cancel := withTimeout(ctx, timeout)
	defer cancel()
	service := ""
	if a.Service != nil {
		service = *a.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(callCtx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		if ctx.Err() != nil {
			return unknown(err)
		}
		return Result{Outcome: Failure, Output: describeHealthError(address, service, timeout, err)}
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return Result{Outcome: Failure, Output: fmt.Sprintf("service unhealthy (responded with %q)", resp.GetStatus())}
	}
	return Result{Outcome: Success, Output: "service healthy"}
}

// describeHealthError says why a health check call failed.
func describeHealthError(address, service string, timeout time.Duration, err error) string {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unimplemented:
		return fmt.Sprintf("the server at %s does not implement the gRPC health protocol (grpc.health.v1.Health): %s", address, st.Message())
	case codes.NotFound:
		return fmt.Sprintf("the server at %s does not know service %q: %s", address, service, st.Message())
	case codes.DeadlineExceeded:
		return fmt.Sprintf("timeout: the health check at %s did not complete within %v", address, timeout)
	default:
		return fmt.Sprintf("health check at %s failed: %v", address, err)
	}
}
