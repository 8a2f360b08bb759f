package probe

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TestGRPCHealthProgram builds testdata/grpchealth (the server of the e2e
// tests' gRPC probes) as the e2e tests do, runs it on 127.0.0.1 and flips
// its status with SIGUSR1, probing it with the gRPC handler.
func TestGRPCHealthProgram(t *testing.T) {
	server := exec.Command(buildGRPCHealth(t), "-listen", "127.0.0.1:0", "-services", "db", "-status", "NOT_SERVING")
	stdout, err := server.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		for sc := bufio.NewScanner(stdout); sc.Scan(); {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		server.Process.Kill()
		for range lines {
		}
		server.Wait()
	})
	next := func(prefix string) string {
		t.Helper()
		select {
		case line, ok := <-lines:
			if !ok || !strings.HasPrefix(line, prefix) {
				t.Fatalf("grpchealth printed %q (open %v), want %q...", line, ok, prefix)
			}
			return strings.TrimPrefix(line, prefix)
		case <-time.After(30 * time.Second):
			t.Fatalf("grpchealth printed nothing in 30s, want %q...", prefix)
			return ""
		}
	}

	next("status NOT_SERVING")
	_, portText, _ := strings.Cut(next("listening on "), ":")
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatalf("grpchealth listens on port %q: %v", portText, err)
	}
	action := &v1.GRPCAction{Port: int32(port)}
	db := "db"
	named := &v1.GRPCAction{Port: action.Port, Service: &db}
	h := NewHandlers(HandlersConfig{})
	pod := Target{PodIP: "127.0.0.1"}
	want := func(a *v1.GRPCAction, outcome Outcome) {
		t.Helper()
		if res := h.GRPC(t.Context(), pod, a, probeTimeout); res.Outcome != outcome {
			t.Errorf("GRPC(service %v) = %+v, want %v", a.Service, res, outcome)
		}
	}
	want(action, Failure)
	want(named, Failure)

	if err := server.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	next("status SERVING")
	want(action, Success)
	want(named, Success)

	if err := server.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	next("status NOT_SERVING")
	want(action, Failure)

	if err := server.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := server.Wait(); err != nil {
		t.Errorf("grpchealth after SIGTERM: %v, want exit 0", err)
	}
}

// buildGRPCHealth builds testdata/grpchealth static, as the e2e tests do,
// into a directory of its own, and returns the binary's path.
func buildGRPCHealth(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "grpchealth")
	build := exec.Command("go", "build", "-o", bin, "./testdata/grpchealth")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/grpchealth: %v\n%s", err, out)
	}
	return bin
}
