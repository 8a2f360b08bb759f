package probe

import (
	"net"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// listen opens a TCP listener on 127.0.0.1 that accepts and closes
// connections until the test ends, and returns its port.
func listen(t testing.TB) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// closedPort is a port of 127.0.0.1 that nothing listens on (it did a
// moment ago).
func closedPort(t *testing.T) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return int32(port)
}

func TestTCPSocket(t *testing.T) {
	h := NewHandlers(HandlersConfig{})
	open := listen(t)
	pod := Target{PodIP: "127.0.0.1", Ports: []v1.ContainerPort{{Name: "db", ContainerPort: open}}}

	for name, port := range map[string]intstr.IntOrString{"number": intstr.FromInt32(open), "named": intstr.FromString("db")} {
		if res := h.TCPSocket(t.Context(), pod, &v1.TCPSocketAction{Port: port}, probeTimeout); res.Outcome != Success {
			t.Errorf("%s port: TCPSocket of an open port = %+v, want success", name, res)
		}
	}
	if res := h.TCPSocket(t.Context(), Target{HostNetwork: true}, &v1.TCPSocketAction{Port: intstr.FromInt32(open)}, probeTimeout); res.Outcome != Success {
		t.Errorf("host network: TCPSocket = %+v, want success on 127.0.0.1", res)
	}
	res := h.TCPSocket(t.Context(), pod, &v1.TCPSocketAction{Port: intstr.FromInt32(closedPort(t))}, probeTimeout)
	if res.Outcome != Failure || !strings.Contains(res.Output, "connection refused") {
		t.Errorf("TCPSocket of a closed port = %+v, want a failure saying connection refused", res)
	}
	if res := h.TCPSocket(t.Context(), pod, &v1.TCPSocketAction{Port: intstr.FromString("web")}, probeTimeout); res.Outcome != Unknown {
		t.Errorf("TCPSocket of an unknown port name = %+v, want unknown", res)
	}
}
