package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/runner-dev/runner/eviction"
	"github.com/runner-dev/runner/runner"
)

// evictionFlags are eviction's flags, with the kubelet's names, syntax and
// defaults; --eviction-monitoring-interval and --priority-class are
// runner's own. main.go appends them to daemonFlags.
func evictionFlags() []cli.Flag {
	const cat = "Eviction"
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "eviction-hard", Category: cat, EnvVars: []string{"RUNNER_EVICTION_HARD"},
			Usage: "thresholds that evict a pod at once, e.g. memory.available<100Mi,nodefs.available<10% (default " +
				strings.Join(eviction.DefaultEvictionHard, ",") + "); a list replaces the defaults whole, \"\" turns them all off, SIGNAL<0% one"},
		&cli.StringSliceFlag{Name: "eviction-soft", Category: cat, EnvVars: []string{"RUNNER_EVICTION_SOFT"},
			Usage: "thresholds that evict a pod once met for their grace period, e.g. memory.available<1.5Gi"},
		&cli.StringSliceFlag{Name: "eviction-soft-grace-period", Category: cat, EnvVars: []string{"RUNNER_EVICTION_SOFT_GRACE_PERIOD"},
			Usage: "grace period of each soft threshold, e.g. memory.available=1m30s"},
		&cli.StringSliceFlag{Name: "eviction-minimum-reclaim", Category: cat, EnvVars: []string{"RUNNER_EVICTION_MINIMUM_RECLAIM"},
			Usage: "how far above its threshold a signal must get before pressure ends, e.g. memory.available=0Mi,nodefs.available=500Mi"},
		&cli.DurationFlag{Name: "eviction-pressure-transition-period", Category: cat, EnvVars: []string{"RUNNER_EVICTION_PRESSURE_TRANSITION_PERIOD"}, Value: 5 * time.Minute,
			Usage: "how long a pressure condition stays after its last threshold was met; evicted and waiting pods start again once it is over"},
		&cli.Int64Flag{Name: "eviction-max-pod-grace-period", Category: cat, EnvVars: []string{"RUNNER_EVICTION_MAX_POD_GRACE_PERIOD"},
			Usage: "seconds at most a pod evicted for a soft threshold gets to stop (0: at once; negative: its own terminationGracePeriodSeconds)"},
		&cli.DurationFlag{Name: "eviction-monitoring-interval", Category: cat, EnvVars: []string{"RUNNER_EVICTION_MONITORING_INTERVAL"}, Value: 10 * time.Second,
			Usage: "how often the signals are read; at most one pod is evicted per interval"},
		&cli.StringSliceFlag{Name: "priority-class", Category: cat, EnvVars: []string{"RUNNER_PRIORITY_CLASS"},
			Usage: "NAME=VALUE: the priority of pods with priorityClassName NAME (repeatable); system-node-critical and system-cluster-critical are built in, other classes count 0"},
	}
}

// evictionDeps is what the eviction manager needs besides its flags.
type evictionDeps struct {
	// Loop is the reconcile loop (it implements eviction.Loop).
	Loop eviction.Loop
	// Source reads the signals; nil: eviction.HostSource over --root-dir,
	// /var/lib/docker and Engine. Wrap makes the source main uses from that
	// one (cadvisor's readings, falling back on it); nil: it as it is.
	Source eviction.Source
	Wrap   func(host eviction.Source) eviction.Source
	Engine eviction.ContainerLister
	// Reclaimer is the garbage collector (*gc.Manager).
	Reclaimer eviction.Reclaimer
	Reporter  eviction.Reporter
	Logger    *slog.Logger
}

// newEviction builds the eviction manager from the flags. main.go calls
// evictionConfig first, before it connects to anything, so that a
// malformed threshold stops start-up at once; then, once the runner and the
// garbage collector exist:
//
//	evictions, err := newEviction(c, evictionDeps{Loop: r, Engine: rt, Reclaimer: collector, Logger: log})
//	go evictions.Run(ctx) // joined like the manifest source
//
// and the loop asks evictions.Admit(pod) before it starts a pod.
func newEviction(c *cli.Context, deps evictionDeps) (*eviction.Manager, error) {
	cfg, err := evictionConfig(c)
	if err != nil {
		return nil, err
	}
	cfg.Loop, cfg.Source, cfg.Reclaimer, cfg.Reporter, cfg.Logger = deps.Loop, deps.Source, deps.Reclaimer, deps.Reporter, deps.Logger
	cfg.PodsDir = filepath.Join(c.String("root-dir"), "pods")
	if cfg.Source == nil {
		root := c.String("root-dir")
		instance := c.String("instance-id")
		if instance == "" {
			instance = runner.DefaultInstanceID(root)
		}
		cfg.Source = eviction.HostSource{
			NodeFSPath: root, ImageFSPath: "/var/lib/docker", Engine: deps.Engine, InstanceID: instance,
			PodsDir: filepath.Join(root, "pods"),
		}
	}
	if deps.Wrap != nil {
		cfg.Source = deps.Wrap(cfg.Source)
	}
	return eviction.New(cfg)
}

// evictionConfig reads the flags into an eviction.Config without its
// dependencies; a malformed threshold is an error naming the flag and the
// threshold.
func evictionConfig(c *cli.Context) (eviction.Config, error) {
	flags := eviction.ThresholdFlags{
		Soft:            c.StringSlice("eviction-soft"),
		SoftGracePeriod: c.StringSlice("eviction-soft-grace-period"),
		MinimumReclaim:  c.StringSlice("eviction-minimum-reclaim"),
	}
	if c.IsSet("eviction-hard") {
		flags.Hard = append([]string{}, c.StringSlice("eviction-hard")...)
	}
	thresholds, err := eviction.ParseThresholds(flags)
	if err != nil {
		return eviction.Config{}, err
	}
	classes, err := eviction.ParsePriorityClasses(c.StringSlice("priority-class"))
	if err != nil {
		return eviction.Config{}, err
	}
	for _, f := range []string{"eviction-pressure-transition-period", "eviction-monitoring-interval"} {
		if d := c.Duration(f); d <= 0 {
			return eviction.Config{}, fmt.Errorf("--%s %v: must be positive", f, d)
		}
	}
	return eviction.Config{
		Thresholds:               thresholds,
		PressureTransitionPeriod: c.Duration("eviction-pressure-transition-period"),
		MaxPodGracePeriod:        c.Int64("eviction-max-pod-grace-period"),
		MonitoringInterval:       c.Duration("eviction-monitoring-interval"),
		PriorityClasses:          classes,
	}, nil
}
