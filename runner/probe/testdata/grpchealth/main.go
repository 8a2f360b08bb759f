// Command grpchealth is a tiny gRPC server for the end-to-end tests of gRPC
// probes: it serves grpc.health.v1.Health, and nothing else, on -listen.
// The server as a whole ("") and each name in -services start in the status
// -status; SIGUSR1 toggles them all between SERVING and NOT_SERVING, so a
// test flips a probe's result from outside with `docker kill -s USR1`.
// SIGTERM and SIGINT stop it (exit 0). It prints "listening on <address>"
// once it listens and "status <STATUS>" at each change, on stdout.
//
// The e2e tests build it static (CGO_ENABLED=0) and `docker import` it as
// the only file of a local image: no registry.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func main() {
	listen := flag.String("listen", ":50051", "address to serve on")
	services := flag.String("services", "", "comma-separated service names to serve besides the server itself")
	initial := flag.String("status", "SERVING", "first status: SERVING or NOT_SERVING")
	flag.Parse()
	if err := run(*listen, *services, *initial); err != nil {
		fmt.Fprintln(os.Stderr, "grpchealth:", err)
		os.Exit(1)
	}
}

func run(listen, services, initial string) error {
	serving := true
	switch initial {
	case "SERVING":
	case "NOT_SERVING":
		serving = false
	default:
		return fmt.Errorf("-status %q: want SERVING or NOT_SERVING", initial)
	}
	names := []string{""}
	for _, name := range strings.Split(services, ",") {
		if name != "" {
			names = append(names, name)
		}
	}

	status := health.NewServer()
	set := func() {
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if serving {
			st = healthpb.HealthCheckResponse_SERVING
		}
		for _, name := range names {
			status.SetServingStatus(name, st)
		}
		fmt.Println("status", st)
	}
	set()

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, status)
	fmt.Println("listening on", ln.Addr())

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		for sig := range signals {
			if sig != syscall.SIGUSR1 {
				srv.Stop()
				return
			}
			serving = !serving
			set()
		}
	}()
	return srv.Serve(ln)
}
