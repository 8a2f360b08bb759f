// Command runner runs Kubernetes Pod manifests on one machine with Docker and
// no apiserver: what the kubelet does in standalone mode. This file is the
// CLI and the wiring; it is the only place that knows every package.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/runner-dev/runner/eviction"
	"github.com/runner-dev/runner/gc"
	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/manifest/source"
	"github.com/runner-dev/runner/net/podnet"
	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/pause"
	"github.com/runner-dev/runner/runner/restart"
	"github.com/runner-dev/runner/runner/runtime/docker"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if pause.Invoked() {
		pause.Main()
	}
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // a pod or a manifest is not good
	exitUsage = 2 // a usage or configuration error
)

func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(flagsFirst(args))
	if err == nil {
		return exitOK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(stderr, "runner:", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, "runner:", err)
	return exitUsage
}

func defaultNodeName() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return strings.ToLower(h)
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:    "runner",
		Usage:   "run Kubernetes Pod manifests on this machine with Docker, no apiserver needed",
		Version: version,
		Description: `runner watches a directory of static-pod manifests (such as kubeadm's
/etc/kubernetes/manifests) and keeps their pods running in Docker, as the kubelet's
standalone mode does. Stopping runner leaves every pod running; a restarted runner
adopts them without restarting any container.

Manifests are *.yaml, *.yml, *.json or *.manifest files holding a Pod, a v1 PodList, or several
YAML documents separated by ---. Other files (.bak, ~, .swp, dotfiles) are ignored.
A file that stops parsing keeps its last good pods running; only deleting it stops them.

Every flag can also be set with the RUNNER_* environment variable shown beside it.`,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		HideVersion:          true,
		Flags:                slices.Concat(daemonFlags(), urlFlags(), updateFlags(), gcFlags(), evictionFlags(), serveFlags(), deployFlags()),
		Action:               daemon,
		Commands: append([]*cli.Command{
			validateCommand(),
			diffCommand(),
			cleanupNetworkCommand(),
			pullCommand(),
			exportCommand(),
			{
				Name:  "version",
				Usage: "print runner's version",
				Action: func(c *cli.Context) error {
					fmt.Fprintf(c.App.Writer, "runner %s\n", version)
					return nil
				},
			},
		}, observeCommands()...),
		ExitErrHandler: func(*cli.Context, error) {}, // run() reports errors
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return cli.Exit(fmt.Sprintf("%v (see runner --help)", err), exitUsage)
		},
	}
}

func daemonFlags() []cli.Flag {
	return append(append([]cli.Flag{
		&cli.StringFlag{Name: "manifest-dir", Category: "Manifests", Aliases: []string{"pod-manifest-path"}, EnvVars: []string{"RUNNER_MANIFEST_DIR"},
			Value: "/etc/kubernetes/manifests", Usage: "directory (or single file) of static pod manifests to run"},
		&cli.StringFlag{Name: "node-name", Category: "Manifests", Aliases: []string{"hostname-override"}, EnvVars: []string{"RUNNER_NODE_NAME"},
			Value: defaultNodeName(), Usage: "node name; pods are named <name>-<node-name>"},
		&cli.StringFlag{Name: "root-dir", Category: "Runner", EnvVars: []string{"RUNNER_ROOT_DIR"}, Value: "/var/lib/runner",
			Usage: "where runner keeps what Docker cannot hold (IP allocations, checkpoints, pod files)"},
		&cli.DurationFlag{Name: "file-check-frequency", Category: "Manifests", EnvVars: []string{"RUNNER_FILE_CHECK_FREQUENCY"}, Value: 20 * time.Second,
			Usage: "full rescan of the manifest directory, a safety net behind file-system events"},
		&cli.StringFlag{Name: "docker-endpoint", Category: "Container engine", EnvVars: []string{"RUNNER_DOCKER_ENDPOINT"},
			Usage: "Docker engine address (default $DOCKER_HOST, else unix:///var/run/docker.sock)"},
		&cli.StringFlag{Name: "instance-id", Category: "Runner", EnvVars: []string{"RUNNER_INSTANCE_ID"},
			Usage: "label value marking the containers this runner owns (default derived from --root-dir); other containers are never touched"},
		&cli.StringFlag{Name: "pod-infra-container-image", Category: "Container engine", EnvVars: []string{"RUNNER_POD_INFRA_CONTAINER_IMAGE"},
			Usage: "sandbox (pause) image; default runner's own " + runner.DefaultPauseImage + ", built from this binary, no registry needed"},
		&cli.DurationFlag{Name: "sync-frequency", Category: "Runner", EnvVars: []string{"RUNNER_SYNC_FREQUENCY"}, Value: time.Minute,
			Usage: "full relist of containers, a safety net behind Docker's events"},
		&cli.IntFlag{Name: "max-parallel-pods", Category: "Runner", EnvVars: []string{"RUNNER_MAX_PARALLEL_PODS"}, Value: 16,
			Usage: "how many pods are worked on at once (each pod is worked on one step at a time)"},
		&cli.DurationFlag{Name: "restart-backoff-initial", Category: "Restarts", EnvVars: []string{"RUNNER_RESTART_BACKOFF_INITIAL"}, Value: 10 * time.Second,
			Usage: "crash-loop backoff: wait before the second restart, doubled each crash (the first restart is immediate)"},
		&cli.DurationFlag{Name: "restart-backoff-max", Category: "Restarts", EnvVars: []string{"RUNNER_RESTART_BACKOFF_MAX"}, Value: 5 * time.Minute,
			Usage: "crash-loop backoff cap; a container that ran twice this long starts over"},
	}, podNetworkFlags()...), []cli.Flag{
		&cli.StringFlag{Name: "resolv-conf", Category: "Pod network", EnvVars: []string{"RUNNER_RESOLV_CONF"}, Value: "/etc/resolv.conf",
			Usage: "the host's resolv.conf, the base of pods' DNS (dnsPolicy Default, and ClusterFirst without --cluster-dns)"},
		&cli.StringSliceFlag{Name: "cluster-dns", Category: "Pod network", EnvVars: []string{"RUNNER_CLUSTER_DNS"},
			Usage: "DNS server IPs for dnsPolicy ClusterFirst pods"},
		&cli.StringFlag{Name: "cluster-domain", Category: "Pod network", EnvVars: []string{"RUNNER_CLUSTER_DOMAIN"},
			Usage: "cluster domain for ClusterFirst search paths, e.g. cluster.local"},
		&cli.StringFlag{Name: "container-log-max-size", Category: "Container engine", EnvVars: []string{"RUNNER_CONTAINER_LOG_MAX_SIZE"}, Value: "10Mi",
			Usage: "rotate a container's log at this size"},
		&cli.IntFlag{Name: "container-log-max-files", Category: "Container engine", EnvVars: []string{"RUNNER_CONTAINER_LOG_MAX_FILES"}, Value: 5,
			Usage: "log files kept per container"},
		&cli.BoolFlag{Name: "runonce", Category: "Run once", EnvVars: []string{"RUNNER_RUNONCE"},
			Usage: "start the pods, wait until they run (restartPolicy Always) or have succeeded (Never, OnFailure), print their states and exit: 0 all good, 1 not, 2 usage error; pods keep running"},
		&cli.DurationFlag{Name: "runonce-timeout", Category: "Run once", EnvVars: []string{"RUNNER_RUNONCE_TIMEOUT"}, Value: 5 * time.Minute,
			Usage: "how long --runonce waits for the pods"},
		&cli.StringFlag{Name: "log-format", Category: "Logging", EnvVars: []string{"RUNNER_LOG_FORMAT"}, Value: "text", Usage: "log format: text or json"},
		&cli.StringFlag{Name: "log-level", Category: "Logging", EnvVars: []string{"RUNNER_LOG_LEVEL"}, Value: "info", Usage: "log level: debug, info, warn or error"},
	}...)
}

// newLogger builds the logger from --log-format and --log-level.
func newLogger(c *cli.Context, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, fmt.Errorf("--log-level %q: must be debug, info, warn or error", c.String("log-level"))
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.String("log-format") {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: must be text or json", c.String("log-format"))
}

func manifestOptions(c *cli.Context) manifest.Options {
	return manifest.Options{NodeName: c.String("node-name"), Source: manifest.SourceFile}
}

// daemon runs runner until SIGTERM or SIGINT (or, with --runonce, until
// its pods are up).
func daemon(c *cli.Context) error {
	if c.Args().Present() {
		return cli.Exit(fmt.Sprintf("unexpected argument %q (see runner --help)", c.Args().First()), exitUsage)
	}
	log, err := newLogger(c, c.App.ErrWriter)
	if err != nil {
		return cli.Exit(err, exitUsage)
	}
	if err := applyConfigFile(c, log); err != nil {
		return cli.Exit(err, exitUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Malformed GC or eviction settings stop start-up before anything runs.
	if _, err := gcConfig(c); err != nil {
		return cli.Exit(err, exitUsage)
	}
	if _, err := evictionConfig(c); err != nil {
		return cli.Exit(err, exitUsage)
	}
	rt, err := docker.New(docker.Config{Endpoint: c.String("docker-endpoint")})
	if err != nil {
		return cli.Exit(err, exitUsage)
	}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	ver, err := rt.Version(vctx)
	cancel()
	if err != nil {
		return cli.Exit(fmt.Sprintf("container engine not reachable: %v", err), exitUsage)
	}
	obs := newObserver(c, log)
	imgs, err := newImageService(c, log, rt)
	if err != nil {
		return cli.Exit(err, exitUsage)
	}
	network, dnsConfig, err := podNetwork(c, log)
	if err != nil {
		return cli.Exit(err, exitUsage)
	}
	r, err := runner.New(runner.Config{
		Network:       network,
		DNS:           dnsConfig,
		Runtime:       obs.runtime(imgs.runtime),
		WorkerDone:    obs.workerDone,
		Logger:        log,
		RootDir:       c.String("root-dir"),
		InstanceID:    c.String("instance-id"),
		PauseImage:    c.String("pod-infra-container-image"),
		SyncFrequency: c.Duration("sync-frequency"),
		MaxParallel:   c.Int("max-parallel-pods"),
		MaxPods:       c.Int("max-pods"),
		PodPidsLimit:  c.Int64("pod-pids-limit"),
		Backoff: restart.Policy{
			Initial: c.Duration("restart-backoff-initial"),
			Max:     c.Duration("restart-backoff-max"),
			Reset:   2 * c.Duration("restart-backoff-max"),
		},
		LogMaxSize:          c.String("container-log-max-size"),
		LogMaxFiles:         c.Int("container-log-max-files"),
		MaxDeadPerContainer: c.Int("maximum-dead-containers-per-container"),
	})
	if err != nil {
		return cli.Exit(err, exitUsage)
	}
	log.Info("runner starting", "version", version, "engine", ver, "manifest_dir", c.String("manifest-dir"),
		"node_name", c.String("node-name"), "root_dir", c.String("root-dir"))

	fileSrc := source.NewFile(source.FileConfig{
		Path:     c.String("manifest-dir"),
		RootDir:  c.String("root-dir"),
		Interval: c.Duration("file-check-frequency"),
		// Long enough to make an editor's write-and-rename one change,
		// short enough that a new manifest starts at once.
		Debounce: 20 * time.Millisecond,
		Options:  manifestOptions(c),
		Logger:   log,
	})
	src, err := manifestSources(c, log, fileSrc)
	if err != nil {
		return cli.Exit(err, exitUsage)
	}
	defer startDeploy(ctx, log, imgs, r)()
	if c.Bool("runonce") {
		return runOnce(ctx, c, log, r, src.Once())
	}
	// Garbage collection and eviction beside the loop.
	collector, err := newGC(c, gcDeps{Engine: rt, Pods: r, Logger: log,
		ImageFS: cadvisorImageFS{o: obs, fallback: gc.StatfsImageFS{Path: "/var/lib/docker"}}})
	if err != nil {
		return cli.Exit(err, exitUsage)
	}
	evictions, err := newEviction(c, evictionDeps{Loop: r, Engine: rt, Reclaimer: collector, Logger: log,
		Wrap: func(host eviction.Source) eviction.Source {
			return cadvisorSignals{o: obs, nodeName: c.String("node-name"), fallback: host}
		}})
	if err != nil {
		return cli.Exit(err, exitUsage)
	}
	r.SetAdmitter(evictions)
	// sources → safe updates (rollback of failed updates) → the loop.
	fromSources, snaps := make(chan manifest.Snapshot), make(chan manifest.Snapshot)
	guard := updateGuard(c, log, r)
	var wg sync.WaitGroup
	srcCtx, stopSrc := context.WithCancel(ctx)
	wg.Go(func() {
		if err := src.Run(srcCtx, fromSources); err != nil {
			log.Error("manifest source stopped", "error", err)
		}
	})
	wg.Go(func() { _ = guard.Run(srcCtx, fromSources, snaps) })
	wg.Go(func() { collector.Run(srcCtx) })
	wg.Go(func() { evictions.Run(srcCtx) })
	defer func() {
		stopSrc()
		wg.Wait()
	}()
	stopServing, err := obs.serve(ctx, c, r, rt)
	if err != nil {
		return cli.Exit(err, exitUsage)
	}
	defer stopServing()
	if err := r.Run(ctx, obs.tap(ctx, snaps)); err != nil {
		return cli.Exit(err, exitFail)
	}
	log.Info("runner stopped; pods keep running")
	return nil
}

// podNetwork builds the pod network (cmd_network.go) and the pods' DNS
// configuration from the flags.
func podNetwork(c *cli.Context, log *slog.Logger) (*podnet.Manager, runner.DNSConfig, error) {
	var dnsConfig runner.DNSConfig
	for _, s := range c.StringSlice("cluster-dns") {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, dnsConfig, fmt.Errorf("--cluster-dns %q: must be an IP address", s)
		}
		dnsConfig.ClusterDNS = append(dnsConfig.ClusterDNS, ip)
	}
	dnsConfig.ClusterDomain = c.String("cluster-domain")
	dnsConfig.ResolvConf = c.String("resolv-conf")
	m, err := newPodNetwork(c, log)
	if err != nil {
		return nil, dnsConfig, err
	}
	return m, dnsConfig, nil
}
