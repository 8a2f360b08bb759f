package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/runner-dev/runner/gc"
	"github.com/runner-dev/runner/runner"
)

// gcFlags are garbage collection's flags, with the kubelet's names and
// defaults; the two periods are runner's own (the kubelet hard-codes them).
// main.go appends them to daemonFlags.
func gcFlags() []cli.Flag {
	const cat = "Garbage collection"
	return []cli.Flag{
		&cli.DurationFlag{Name: "minimum-container-ttl-duration", Category: cat, EnvVars: []string{"RUNNER_MINIMUM_CONTAINER_TTL_DURATION"},
			Usage: "a dead container is kept at least this long after it was created"},
		&cli.IntFlag{Name: "maximum-dead-containers-per-container", Category: cat, EnvVars: []string{"RUNNER_MAXIMUM_DEAD_CONTAINERS_PER_CONTAINER"}, Value: 1,
			Usage: "dead instances kept of each container of a pod (negative: no limit); the newest dead instance of a desired container always stays, for logs --previous"},
		&cli.IntFlag{Name: "maximum-dead-containers", Category: cat, EnvVars: []string{"RUNNER_MAXIMUM_DEAD_CONTAINERS"}, Value: -1,
			Usage: "dead containers kept in all (negative: no limit)"},
		&cli.DurationFlag{Name: "container-gc-period", Category: cat, EnvVars: []string{"RUNNER_CONTAINER_GC_PERIOD"}, Value: time.Minute,
			Usage: "how often dead containers are collected"},
		&cli.IntFlag{Name: "image-gc-high-threshold", Category: cat, EnvVars: []string{"RUNNER_IMAGE_GC_HIGH_THRESHOLD"}, Value: gc.DefaultImagePolicy.HighThresholdPercent,
			Usage: "percent of the image file system (Docker's data root) in use at which unused images are removed, least recently used first; 100 turns it off"},
		&cli.IntFlag{Name: "image-gc-low-threshold", Category: cat, EnvVars: []string{"RUNNER_IMAGE_GC_LOW_THRESHOLD"}, Value: gc.DefaultImagePolicy.LowThresholdPercent,
			Usage: "percent in use that image garbage collection brings the image file system under"},
		&cli.DurationFlag{Name: "minimum-image-ttl-duration", Category: cat, EnvVars: []string{"RUNNER_MINIMUM_IMAGE_TTL_DURATION"}, Value: gc.DefaultImagePolicy.MinAge,
			Usage: "an image first seen less than this long ago is never removed"},
		&cli.DurationFlag{Name: "image-maximum-gc-age", Category: cat, EnvVars: []string{"RUNNER_IMAGE_MAXIMUM_GC_AGE"},
			Usage: "remove an image unused for longer than this, however full the disk (0: never)"},
		&cli.DurationFlag{Name: "image-gc-period", Category: cat, EnvVars: []string{"RUNNER_IMAGE_GC_PERIOD"}, Value: 5 * time.Minute,
			Usage: "how often the image file system is checked and unused images collected"},
		&cli.StringSliceFlag{Name: "pinned-images", Category: cat, EnvVars: []string{"RUNNER_PINNED_IMAGES"},
			Usage: "images never removed, by tag (name:tag) or ID (sha256:...); the pause image never is either"},
	}
}

// gcDeps is what the garbage collector needs besides its flags.
type gcDeps struct {
	Engine gc.Engine
	// Pods is the reconcile loop (*runner.Runner implements gc.Pods).
	Pods gc.Pods
	// ImageFS measures Docker's data root; nil: statfs(2) of
	// /var/lib/docker, until runner/stats (cadvisor) provides it.
	ImageFS  gc.ImageFS
	Reporter gc.Reporter // nil: logs only
	Logger   *slog.Logger
	// LoadedImages lists the images loaded from --image-dir; nil: none.
	LoadedImages func() []string
}

// newGC builds the garbage collector from the flags. main.go calls it once
// the runner exists and starts its Run on a goroutine of its own:
//
//	collector, err := newGC(c, gcDeps{Engine: rt, Pods: r, Logger: log})
//	if err != nil { return cli.Exit(err, exitUsage) }
//	go collector.Run(ctx) // joined like the manifest source
func newGC(c *cli.Context, deps gcDeps) (*gc.Manager, error) {
	cfg, err := gcConfig(c)
	if err != nil {
		return nil, err
	}
	cfg.Engine, cfg.Pods, cfg.Reporter, cfg.Logger, cfg.LoadedImages = deps.Engine, deps.Pods, deps.Reporter, deps.Logger, deps.LoadedImages
	cfg.ImageFS = deps.ImageFS
	if cfg.ImageFS == nil {
		cfg.ImageFS = gc.StatfsImageFS{Path: "/var/lib/docker"}
	}
	return gc.New(cfg)
}

// gcConfig reads the flags into a gc.Config without its dependencies; an
// invalid value is an error naming its flag.
func gcConfig(c *cli.Context) (gc.Config, error) {
	pinned, err := gc.ParsePinned(c.StringSlice("pinned-images"))
	if err != nil {
		return gc.Config{}, err
	}
	cfg := gc.Config{
		RootDir:      c.String("root-dir"),
		InstanceID:   c.String("instance-id"),
		PauseImage:   c.String("pod-infra-container-image"),
		PinnedImages: pinned,
		Containers: gc.ContainerPolicy{
			MinAge:             c.Duration("minimum-container-ttl-duration"),
			MaxPerPodContainer: c.Int("maximum-dead-containers-per-container"),
			MaxContainers:      c.Int("maximum-dead-containers"),
		},
		Images: gc.ImagePolicy{
			HighThresholdPercent: c.Int("image-gc-high-threshold"),
			LowThresholdPercent:  c.Int("image-gc-low-threshold"),
			MinAge:               c.Duration("minimum-image-ttl-duration"),
			MaxAge:               c.Duration("image-maximum-gc-age"),
		},
		ContainerPeriod: c.Duration("container-gc-period"),
		ImagePeriod:     c.Duration("image-gc-period"),
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = runner.DefaultInstanceID(cfg.RootDir)
	}
	if cfg.PauseImage == "" {
		cfg.PauseImage = runner.DefaultPauseImage
	}
	if err := cfg.Images.Validate(); err != nil {
		return gc.Config{}, err
	}
	for _, f := range []string{"minimum-container-ttl-duration", "container-gc-period", "image-gc-period"} {
		if d := c.Duration(f); d < 0 || (d == 0 && f != "minimum-container-ttl-duration") {
			return gc.Config{}, fmt.Errorf("--%s %v: must be positive", f, d)
		}
	}
	return cfg, nil
}
