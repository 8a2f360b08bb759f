package probe

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/runner-dev/runner/runner/runtime"
)

// Benchmarks of one probe attempt per handler, against local servers and,
// for exec, the real engine (skipped under -short): the cost a probe with a
// 1s period puts on runner.

func BenchmarkHTTPGet(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(ok))
	defer srv.Close()
	target, port := podOf(b, srv)
	h := NewHandlers(HandlersConfig{})
	action := &v1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(port)}
	for b.Loop() {
		if res := h.HTTPGet(b.Context(), target, action, probeTimeout); res.Outcome != Success {
			b.Fatalf("HTTPGet = %+v", res)
		}
	}
}

func BenchmarkTCPSocket(b *testing.B) {
	h := NewHandlers(HandlersConfig{})
	action := &v1.TCPSocketAction{Port: intstr.FromInt32(listen(b))}
	for b.Loop() {
		if res := h.TCPSocket(b.Context(), Target{PodIP: "127.0.0.1"}, action, probeTimeout); res.Outcome != Success {
			b.Fatalf("TCPSocket = %+v", res)
		}
	}
}

func BenchmarkGRPC(b *testing.B) {
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	action := &v1.GRPCAction{Port: grpcServer(b, srv)}
	h := NewHandlers(HandlersConfig{})
	for b.Loop() {
		if res := h.GRPC(b.Context(), Target{PodIP: "127.0.0.1"}, action, probeTimeout); res.Outcome != Success {
			b.Fatalf("GRPC = %+v", res)
		}
	}
}

func BenchmarkEngineExec(b *testing.B) {
	e := newEngine(b)
	id := e.run(runtime.ContainerSpec{Name: "bench", Image: testImage, Cmd: []string{"sleep", "3600"}})
	h := NewHandlers(HandlersConfig{Runtime: e.rt})
	action := &v1.ExecAction{Command: []string{"true"}}
	for b.Loop() {
		if res := h.Exec(b.Context(), Target{ContainerID: id}, action, probeTimeout); res.Outcome != Success {
			b.Fatalf("Exec = %+v", res)
		}
	}
}
