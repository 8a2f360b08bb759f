package probe

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	v1 "k8s.io/api/core/v1"
)

// grpcServer serves srv on 127.0.0.1 until the test ends and returns its
// port.
func grpcServer(t testing.TB, srv *grpc.Server) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// userAgents records the User-Agent of each call a server gets.
type userAgents struct {
	mu   sync.Mutex
	seen []string
}

func (u *userAgents) intercept(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handle grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	u.mu.Lock()
	u.seen = append(u.seen, md.Get("user-agent")...)
	u.mu.Unlock()
	return handle(ctx, req)
}

// hangingHealth answers no health check before the caller gives up.
type hangingHealth struct {
	healthpb.UnimplementedHealthServer
}

func (hangingHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestGRPC(t *testing.T) {
	var agents userAgents
	srv := grpc.NewServer(grpc.UnaryInterceptor(agents.intercept))
	status := health.NewServer()
	status.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	status.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, status)
	port := grpcServer(t, srv)
	h := NewHandlers(HandlersConfig{KubeVersion: "1.37"})
	pod := Target{PodIP: "127.0.0.1"}

	service := func(s string) *string { return &s }
	cases := []struct {
		name        string
		target      Target
		action      v1.GRPCAction
		want        Outcome
		wantContain string
	}{
		{"server serving", pod, v1.GRPCAction{Port: port}, Success, "service healthy"},
		{"named service not serving", pod, v1.GRPCAction{Port: port, Service: service("db")}, Failure, `responded with "NOT_SERVING"`},
		{"unknown service", pod, v1.GRPCAction{Port: port, Service: service("cache")}, Failure, `does not know service "cache"`},
		{"host network", Target{HostNetwork: true}, v1.GRPCAction{Port: port}, Success, "service healthy"},
		{"closed port", pod, v1.GRPCAction{Port: closedPort(t)}, Failure, "connection refused"},
		{"no pod IP", Target{}, v1.GRPCAction{Port: port}, Unknown, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := h.GRPC(t.Context(), c.target, &c.action, probeTimeout)
			if res.Outcome != c.want || !strings.Contains(res.Output, c.wantContain) {
				t.Errorf("GRPC = %+v, want %v with output containing %q", res, c.want, c.wantContain)
			}
		})
	}

	status.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if res := h.GRPC(t.Context(), pod, &v1.GRPCAction{Port: port}, probeTimeout); res.Outcome != Failure {
		t.Errorf("GRPC after the server turned NOT_SERVING = %+v, want failure", res)
	}
	agents.mu.Lock()
	defer agents.mu.Unlock()
	for _, ua := range agents.seen {
		if !strings.HasPrefix(ua, "kube-probe/1.37 ") && ua != "kube-probe/1.37" {
			t.Errorf("user-agent %q, want kube-probe/1.37 first", ua)
		}
	}
	if len(agents.seen) == 0 {
		t.Errorf("the server saw no user-agent")
	}
}

func TestGRPCTimeoutAndUnimplemented(t *testing.T) {
	hanging := grpc.NewServer()
	healthpb.RegisterHealthServer(hanging, hangingHealth{})
	hangingPort := grpcServer(t, hanging)
	bare := grpcServer(t, grpc.NewServer()) // gRPC, but no health service
	h := NewHandlers(HandlersConfig{})
	pod := Target{PodIP: "127.0.0.1"}

	res := h.GRPC(t.Context(), pod, &v1.GRPCAction{Port: hangingPort}, 200*time.Millisecond)
	if res.Outcome != Failure || !strings.Contains(res.Output, "did not complete within 200ms") {
		t.Errorf("GRPC of a hanging server = %+v, want a timeout failure", res)
	}
	res = h.GRPC(t.Context(), pod, &v1.GRPCAction{Port: bare}, probeTimeout)
	if res.Outcome != Failure || !strings.Contains(res.Output, "does not implement the gRPC health protocol") {
		t.Errorf("GRPC of a server without health = %+v, want a failure saying so", res)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if res := h.GRPC(ctx, pod, &v1.GRPCAction{Port: hangingPort}, probeTimeout); res.Outcome != Unknown {
		t.Errorf("GRPC whose worker stopped = %+v, want unknown", res)
	}
}
