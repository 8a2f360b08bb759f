// Command bench measures runner on the real engine with local images against
// a bound (the same work done by a minimal program with the Docker client
// and one CNI ADD), and runs the Go benchmarks of the pure parts. It prints
// one table and writes it, with the machine's cores, kernel and Docker
// version, to BENCHMARKS.md. `make bench` builds runner and runs it under
// `flock /tmp/docker-e2e.lock`.
//
// Everything it creates carries its run's labels and is removed at the end,
// also when a phase fails or the program is interrupted: runner pods by a
// janitor runner with the same root dir (so CNI DEL and IP release happen),
// then by force; the bound's pods by CNI DEL and removal; both bridges.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/runner-dev/runner/net/cni"
	"github.com/runner-dev/runner/runner/runtime/docker"
)

const dockerSocket = "/var/run/docker.sock"

// Networks: runner's and the bound's, each with a bridge of its own.
const (
	runnerCIDR   = "10.230.0.0/22"
	runnerBridge = "rbench0"
	boundCIDR    = "10.230.4.0/24"
	boundBridge  = "rbenchb0"
	boundLabel   = "io.runner.bench.run"
)

type options struct {
	runnerBin  string
	out        string
	repo       string
	goCmd      string
	benchtime  string
	steady     time.Duration
	timeout    time.Duration
	skipGo     bool
	probesOnly bool
	skipProbes bool
	skipDocker bool
	goOnly     bool
	goResults  string
	logsDir    string
	gcOnly     bool
	// networkOnly runs only the pod network's phases.
	networkOnly bool
	apiWindow   time.Duration
	skipAPI     bool
	apiOnly     bool
	// skipEngine skips the engine restart phase; engineOnly runs only it.
	skipEngine bool
	engineOnly bool
}

func main() {
	os.Exit(run())
}

func run() int {
	var o options
	flag.StringVar(&o.runnerBin, "runner-bin", "bin/runner", "runner binary, built with CGO_ENABLED=0 (it is also the pause image)")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "markdown file to write (empty: none)")
	flag.StringVar(&o.repo, "repo", ".", "the module's root, where go test runs")
	flag.StringVar(&o.goCmd, "go", "go", "go command")
	flag.StringVar(&o.benchtime, "benchtime", "200ms", "go test -benchtime")
	flag.DurationVar(&o.steady, "steady", time.Minute, "steady-state window")
	flag.DurationVar(&o.timeout, "timeout", 16*time.Minute, "limit of the Docker phases")
	flag.BoolVar(&o.skipGo, "skip-go", false, "skip the Go benchmarks")
	flag.BoolVar(&o.probesOnly, "probes-only", false, "of the Docker phases, run only the probe phase (BENCHMARKS.md is not written)")
	flag.BoolVar(&o.skipProbes, "skip-probes", false, "skip the probe phase")
	flag.BoolVar(&o.skipDocker, "skip-docker", false, "skip everything that uses Docker")
	flag.BoolVar(&o.goOnly, "go-only", false, "only run the Go benchmarks and save their output to --go-results (no Docker, no lock needed)")
	flag.StringVar(&o.goResults, "go-results", "", "file of `go test -bench` output: written with --go-only, else read instead of running the Go benchmarks")
	flag.StringVar(&o.logsDir, "logs-dir", "", "copy runner's logs here before the run's directory is removed")
	flag.BoolVar(&o.gcOnly, "gc-only", false, "only run the garbage collection phase and print its rows (Docker: hold the e2e lock)")
	flag.BoolVar(&o.networkOnly, "network-only", false, "of the Docker phases, only the pod network's (no BENCHMARKS.md)")
	flag.DurationVar(&o.apiWindow, "api-window", time.Minute, "the API phase's CPU windows (idle, then scraped)")
	flag.BoolVar(&o.skipAPI, "skip-api", false, "skip the read-only API's phase")
	flag.BoolVar(&o.apiOnly, "api-only", false, "only run the read-only API's phase and print its table (no BENCHMARKS.md)")
	flag.BoolVar(&o.skipEngine, "skip-engine-restart", false, "skip the engine restart phase (a private dockerd stopped and started under 5 and 20 pods)")
	flag.BoolVar(&o.engineOnly, "engine-only", false, "run only the engine restart phase (no BENCHMARKS.md)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if o.goOnly {
		return goOnly(ctx, o)
	}
	if o.gcOnly {
		return gcOnly(ctx)
	}
	if o.apiOnly {
		return apiOnly(ctx, o)
	}
	m := readMachine(o.repo)
	var rows []row
	var failed error
	res := &results{}
	if !o.skipDocker && !o.engineOnly {
		if err := runDocker(ctx, o, res, &m); err != nil {
			failed = fmt.Errorf("docker phases: %w", err)
			fmt.Fprintln(os.Stderr, "bench:", failed)
		}
		rows = append(rows, dockerRows(res)...)
		rows = append(rows, probeRows(&res.probes)...)
		rows = append(rows, networkRows(res)...)
		if !o.skipAPI && ctx.Err() == nil {
			api, err := runAPI(ctx, o)
			if err != nil {
				failed = errors.Join(failed, fmt.Errorf("api phase: %w", err))
				fmt.Fprintln(os.Stderr, "bench: api phase:", err)
			}
			rows = append(rows, apiRows(api)...)
		}
	}
	if !o.skipDocker && !o.skipEngine && ctx.Err() == nil {
		if err := runEngineRestart(ctx, o, &res.engine); err != nil {
			failed = errors.Join(failed, fmt.Errorf("engine restart phase: %w", err))
			fmt.Fprintln(os.Stderr, "bench: engine restart phase:", err)
		}
		rows = append(rows, engineRows(&res.engine)...)
	}
	if !o.skipGo && !o.engineOnly && ctx.Err() == nil {
		out, err := goBenchOutput(ctx, o)
		if err != nil {
			failed = errors.Join(failed, err)
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		rows = append(rows, goRows(parseGoBench(out))...)
	}
	m.finish()
	tbl := table(rows)
	fmt.Print(tbl)
	if failed != nil {
		fmt.Fprintln(os.Stderr, "bench: failed; BENCHMARKS.md not written")
		return 1
	}
	if o.out != "" && !o.skipDocker && !o.skipGo && !o.probesOnly && !o.skipProbes && !o.networkOnly && !o.skipEngine && !o.engineOnly {
		if err := writeMarkdown(o.out, m, tbl); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		logf("wrote %s", o.out)
	}
	return 0
}

// goOnly runs the Go benchmarks and saves their output for a later run.
func goOnly(ctx context.Context, o options) int {
	if o.goResults == "" {
		fmt.Fprintln(os.Stderr, "bench: --go-only needs --go-results")
		return 2
	}
	logf("go benchmarks (-benchtime %s)", o.benchtime)
	out, err := runGoBenchmarks(ctx, o.goCmd, o.repo, o.benchtime)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if err := os.WriteFile(o.goResults, []byte(out), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

// goBenchOutput reads the saved Go benchmark output, or runs them.
func goBenchOutput(ctx context.Context, o options) (string, error) {
	if o.goResults != "" {
		data, err := os.ReadFile(o.goResults)
		if err != nil {
			return "", fmt.Errorf("go benchmark results: %w (make them with --go-only)", err)
		}
		return string(data), nil
	}
	logf("go benchmarks (-benchtime %s)", o.benchtime)
	return runGoBenchmarks(ctx, o.goCmd, o.repo, o.benchtime)
}

// runDocker runs the bound and runner phases within o.timeout and cleans
// up after them whatever happened.
func runDocker(ctx context.Context, o options, res *results, m *machine) (retErr error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	bin, err := filepath.Abs(o.runnerBin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("runner binary: %w (run `make build`)", err)
	}
	cli, err := client.NewClientWithOpts(client.WithHost("unix://"+dockerSocket), client.WithAPIVersionNegotiation())
	if err != nil {
		return err
	}
	defer cli.Close()
	adapter, err := docker.New(docker.Config{Endpoint: "unix://" + dockerSocket})
	if err != nil {
		return err
	}
	defer adapter.Close()
	if err := checkEngine(ctx, cli, adapter, m); err != nil {
		return err
	}

	id := make([]byte, 4)
	_, _ = rand.Read(id)
	runID := "rbench-" + hex.EncodeToString(id)
	dir, err := os.MkdirTemp("", "runner-bench-")
	if err != nil {
		return err
	}
	w := &world{
		bin: bin, dir: dir, instance: runID, bridge: runnerBridge, cidr: runnerCIDR, cli: cli,
		manifests: filepath.Join(dir, "manifests"), empty: filepath.Join(dir, "empty"),
		root: filepath.Join(dir, "root"), cniConf: filepath.Join(dir, "cni-conf"),
	}
	for _, d := range []string{w.manifests, w.empty, w.root, w.cniConf, filepath.Join(dir, "bound-cni-conf")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	plugin, err := cni.New(cni.Config{
		CacheDir:   filepath.Join(dir, "bound-cni-cache"),
		BridgeName: boundBridge, CIDR: netip.MustParsePrefix(boundCIDR),
	})
	if err != nil {
		return err
	}
	b := newBound(adapter, plugin, netip.MustParsePrefix(boundCIDR), map[string]string{boundLabel: runID})

	recCtx, stopRec := context.WithCancel(context.Background())
	w.rec = startRecorder(recCtx, cli, labelInstance, runID)
	w.boundRec = startRecorder(recCtx, cli, boundLabel, runID)
	defer func() {
		logf("cleaning up (run %s)", runID)
		cctx, ccancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer ccancel()
		errs := []error{retErr, b.cleanup(cctx), removeLabelled(cctx, cli, boundLabel, runID), cni.RemoveNode(cctx, cni.Node{Bridge: boundBridge, CIDRs: []netip.Prefix{netip.MustParsePrefix(boundCIDR)}}), w.cleanup(cctx)}
		stopRec()
		<-w.rec.done
		<-w.boundRec.done
		if retErr != nil && w.proc != nil {
			fmt.Fprintf(os.Stderr, "bench: runner's last output:\n%s", w.proc.tail(40))
		}
		if o.logsDir != "" {
			errs = append(errs, copyLogs(dir, o.logsDir))
		}
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
		}
		retErr = errors.Join(errs...)
	}()
	// The bound's network is set up once, as runner sets its own up at start.
	if _, err := cni.EnsureNode(ctx, plugin.Network().Node()); err != nil {
		return err
	}
	if w.proxy, err = startProxy(filepath.Join(dir, "docker.sock"), dockerSocket); err != nil {
		return err
	}
	if res.proxyHop, err = measureProxyHop(ctx, cli, w.proxy.path); err != nil {
		return err
	}
	if !o.probesOnly && !o.networkOnly {
		if err := measureRunner(ctx, w, b, res, o.steady); err != nil {
			return err
		}
		if err := measureGC(ctx, cli, w.proxy, runID, res); err != nil {
			return err
		}
	}
	if !o.probesOnly {
		if err := measureBreakdown(ctx, hex.EncodeToString(id), res); err != nil {
			return err
		}
		if err := measureNetworkBatches(ctx, w, b, res); err != nil {
			return err
		}
	}
	if o.skipProbes || o.networkOnly {
		return nil
	}
	return measureProbes(ctx, w, &res.probes, o.steady)
}

// copyLogs copies the runner-*.log files of dir into to.
func copyLogs(dir, to string) error {
	logs, err := filepath.Glob(filepath.Join(dir, "runner-*.log"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, filepath.Base(l)), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// removeLabelled force-removes every container carrying key=value.
func removeLabelled(ctx context.Context, cli *client.Client, key, value string) error {
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", key+"="+value))})
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range list {
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
