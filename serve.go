package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goruntime "runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v2"
	v1 "k8s.io/api/core/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/metrics"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/server"
	"github.com/runner-dev/runner/runner/stats"
	"github.com/runner-dev/runner/runner/volume"
)

// The read-only API's defaults: the kubelet's ports.
const (
	defaultAddress      = "127.0.0.1"
	defaultReadOnlyPort = 10255
	defaultHealthzPort  = 10248
)

// serveFlags are the daemon's flags of the read-only API. The CLI commands
// that read the API share --address and --read-only-port.
func serveFlags() []cli.Flag {
	return []cli.Flag{addressFlag(), readOnlyPortFlag(),
		&cli.StringFlag{Name: "healthz-bind-address", Category: "API", EnvVars: []string{"RUNNER_HEALTHZ_BIND_ADDRESS"}, Value: defaultAddress,
			Usage: "address of the /healthz-only listener"},
		&cli.IntFlag{Name: "healthz-port", Category: "API", EnvVars: []string{"RUNNER_HEALTHZ_PORT"}, Value: defaultHealthzPort,
			Usage: "port of the /healthz-only listener; 0 disables it"},
	}
}

func addressFlag() cli.Flag {
	return &cli.StringFlag{Name: "address", Category: "API", EnvVars: []string{"RUNNER_ADDRESS"}, Value: defaultAddress,
		Usage: "address of the read-only API (/pods, /metrics, /stats/summary, ...); it changes nothing and runs nothing, but tells what runs: keep it on loopback unless you mean to share that"}
}

func readOnlyPortFlag() cli.Flag {
	return &cli.IntFlag{Name: "read-only-port", Category: "API", EnvVars: []string{"RUNNER_READ_ONLY_PORT"}, Value: defaultReadOnlyPort,
		Usage: "port of the read-only API; 0 disables it"}
}

// observer is the daemon's observability: the metrics, the API and the
// cadvisor adapter, started beside the loop.
type observer struct {
	log     *slog.Logger
	metrics *metrics.Metrics
	// sources: the latest snapshot's state, for /healthz.
	snapSeen    atomic.Bool
	snapPartial atomic.Bool
	// stats is set once cadvisor has started (it may wait for the engine).
	stats atomic.Pointer[stats.Provider]
	// cadvisor is /metrics/cadvisor's registry, set with stats.
	cadvisor atomic.Pointer[prometheus.Registry]
	// quit ends tap's goroutine (closed by serve's stop); wg joins every
	// goroutine of the observer.
	quit     chan struct{}
	quitOnce sync.Once
	wg       sync.WaitGroup
}

// newObserver makes the metrics registry. Called by daemon before the
// runner exists (the runner is given the instrumented runtime).
func newObserver(c *cli.Context, log *slog.Logger) *observer {
	return &observer{log: log, metrics: metrics.New(metrics.Config{NodeName: c.String("node-name")}), quit: make(chan struct{})}
}

// runtime is rt with every call counted and timed.
func (o *observer) runtime(rt runtime.Runtime) runtime.Runtime {
	return o.metrics.InstrumentRuntime(rt)
}

// workerDone is the loop's hook for kubelet_pod_worker_duration_seconds.
func (o *observer) workerDone(operation string, took time.Duration) {
	o.metrics.ObservePodWorker(operation, took)
}

// tap passes every snapshot on to the loop, noting it for the metrics and
// /healthz. Its goroutine ends with ctx, when snaps is closed, or at serve's
// stop.
func (o *observer) tap(ctx context.Context, snaps <-chan manifest.Snapshot) <-chan manifest.Snapshot {
	out := make(chan manifest.Snapshot)
	o.wg.Go(func() {
		defer close(out)
		for {
			select {
			case s, ok := <-snaps:
				if !ok {
					return
				}
				o.metrics.ObserveSnapshot(s)
				o.snapPartial.Store(s.Partial)
				o.snapSeen.Store(true)
				select {
				case out <- s:
				case <-ctx.Done():
					return
				case <-o.quit:
					return
				}
			case <-ctx.Done():
				return
			case <-o.quit:
				return
			}
		}
	})
	return out
}

// sourcesRead is /healthz's "sources" check.
func (o *observer) sourcesRead(context.Context) error {
	switch {
	case !o.snapSeen.Load():
		return errors.New("the manifest sources have not been read yet")
	case o.snapPartial.Load():
		return errors.New("the manifest sources could not read all their input (see the log); no pod is removed meanwhile")
	}
	return nil
}

// serve opens the API's listeners (a port that cannot be bound is a
// start-up error), then serves them, follows the status store and starts
// cadvisor, each on its own goroutine, until ctx ends. The returned stop
// waits for all of them. Called by daemon after runner.New.
func (o *observer) serve(ctx context.Context, c *cli.Context, r *runner.Runner, rt runtime.Runtime) (stop func(), err error) {
	rootDir := c.String("root-dir")
	instance := c.String("instance-id")
	if instance == "" {
		instance = runner.DefaultInstanceID(rootDir)
	}
	nodeName := c.String("node-name")
	o.metrics.AddPods(r.Statuses())
	srv := server.New(server.Config{
		Pods:   r.Statuses(),
		Events: r.Events,
		Logs:   rt,
		Checks: []server.Check{
			{Name: "loop", Check: r.Ping},
			{Name: "docker", Check: func(ctx context.Context) error { _, err := rt.Version(ctx); return err }},
			{Name: "sources", Check: o.sourcesRead},
		},
		Metrics: o.metrics.Registry(),
		Cadvisor: func() prometheus.Gatherer {
			if reg := o.cadvisor.Load(); reg != nil {
				return reg
			}
			return nil
		},
		Stats: func(ctx context.Context) (*statsapi.Summary, error) {
			p := o.stats.Load()
			if p == nil {
				return nil, fmt.Errorf("cadvisor is starting: %w", server.ErrNotReady)
			}
			return p.Summary(ctx, nodeName, r.Statuses().List())
		},
		Node: func(ctx context.Context) (*v1.Node, error) {
			p := o.stats.Load()
			if p == nil {
				return nil, fmt.Errorf("cadvisor is starting: %w", server.ErrNotReady)
			}
			engine, _ := rt.Version(ctx) // left out when the engine does not answer
			return p.Node(stats.NodeIdentity{Name: nodeName, HostIP: volume.DetectNode(rootDir).HostIP, RunnerVersion: version, RuntimeVersion: engine,
				Labels: map[string]string{
					"kubernetes.io/hostname": nodeName, "kubernetes.io/os": goruntime.GOOS, "kubernetes.io/arch": goruntime.GOARCH,
				}})
		},
		Logger: o.log,
	})
	listeners := []struct {
		host, portFlag string
		handler        http.Handler
		l              net.Listener
	}{
		{host: c.String("address"), portFlag: "read-only-port", handler: srv.Handler()},
		{host: c.String("healthz-bind-address"), portFlag: "healthz-port", handler: srv.HealthHandler()},
	}
	closeAll := func() {
		for _, s := range listeners {
			if s.l != nil {
				s.l.Close()
			}
		}
	}
	for i := range listeners {
		s := &listeners[i]
		port := c.Int(s.portFlag)
		if port == 0 {
			continue // disabled
		}
		if port < 0 || port > 65535 {
			closeAll()
			return nil, fmt.Errorf("--%s %d: must be a port number, or 0 to disable", s.portFlag, port)
		}
		if s.l, err = net.Listen("tcp", net.JoinHostPort(s.host, strconv.Itoa(port))); err != nil {
			closeAll()
			return nil, fmt.Errorf("--%s %d: %w", s.portFlag, port, err)
		}
	}
	serveCtx, cancel := context.WithCancel(ctx)
	for _, s := range listeners {
		if s.l == nil {
			continue
		}
		o.log.Info("serving the read-only API", "address", s.l.Addr().String(), "port_flag", s.portFlag)
		o.wg.Go(func() {
			if err := server.Serve(serveCtx, s.l, s.handler); err != nil {
				o.log.Error("read-only API stopped", "address", s.l.Addr().String(), "error", err)
			}
		})
	}
	o.wg.Go(func() { o.metrics.Watch(serveCtx, r.Statuses()) })
	// cadvisor also feeds garbage collection and eviction, API or not.
	o.wg.Go(func() { o.startStats(serveCtx, c, rt, instance) })
	return func() {
		cancel()
		o.quitOnce.Do(func() { close(o.quit) })
		o.wg.Wait()
		if p := o.stats.Load(); p != nil {
			if err := p.Stop(); err != nil {
				o.log.Warn("stopping cadvisor", "error", err)
			}
		}
	}, nil
}

// startStats starts cadvisor and publishes it, trying again every
// statsRetry while the engine does not answer; until then /stats/summary,
// /node and /metrics/cadvisor answer 503. Runs on its own goroutine.
func (o *observer) startStats(ctx context.Context, c *cli.Context, rt runtime.Runtime, instance string) {
	for {
		p, err := stats.New(ctx, stats.Config{
			DockerEndpoint: c.String("docker-endpoint"),
			RootDir:        c.String("root-dir"),
			Engine:         rt,
			InstanceID:     instance,
			Logger:         o.log,
		})
		if err == nil {
			if err = p.Start(); err == nil {
				if ctx.Err() != nil {
					p.Stop()
					return
				}
				reg := prometheus.NewRegistry()
				reg.MustRegister(p.Collector(), p.MachineCollector())
				o.cadvisor.Store(reg)
				o.stats.Store(p)
				o.log.Info("cadvisor started: node and container stats available")
				return
			}
		}
		o.log.Warn("cadvisor did not start: /stats/summary, /node and /metrics/cadvisor unavailable; trying again", "error", err, "retry_in", statsRetry)
		select {
		case <-ctx.Done():
			return
		case <-time.After(statsRetry):
		}
	}
}

// statsRetry is the pause between two attempts to start cadvisor.
const statsRetry = 10 * time.Second
