package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/runner-dev/runner/gc"
	"github.com/runner-dev/runner/runner"
)

// parseFlags runs the daemon's flags (with gc's and eviction's, until
// main.go adds them) over args and returns what read makes of them.
func parseFlags[T any](t *testing.T, read func(*cli.Context) (T, error), args ...string) (T, error) {
	t.Helper()
	var cfg T
	var cfgErr error
	flags := daemonFlags()
	for _, extra := range [][]cli.Flag{gcFlags(), evictionFlags()} {
		if !slices.ContainsFunc(flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), extra[0].Names()[0]) }) {
			flags = append(flags, extra...)
		}
	}
	app := &cli.App{Flags: flags, Action: func(c *cli.Context) error {
		cfg, cfgErr = read(c)
		return nil
	}}
	if err := app.Run(append([]string{"runner"}, args...)); err != nil {
		t.Fatalf("flags %v: %v", args, err)
	}
	return cfg, cfgErr
}

// parseGC is gcConfig of args.
func parseGC(t *testing.T, args ...string) (gc.Config, error) {
	t.Helper()
	return parseFlags(t, gcConfig, args...)
}

func TestGCFlagsDefaults(t *testing.T) {
	cfg, err := parseGC(t, "--root-dir", "/var/lib/runner-test")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Containers != gc.DefaultContainerPolicy || cfg.Images != gc.DefaultImagePolicy {
		t.Errorf("policies %+v %+v, want the kubelet's defaults", cfg.Containers, cfg.Images)
	}
	if cfg.ContainerPeriod != time.Minute || cfg.ImagePeriod != 5*time.Minute {
		t.Errorf("periods %v %v", cfg.ContainerPeriod, cfg.ImagePeriod)
	}
	if cfg.InstanceID != runner.DefaultInstanceID("/var/lib/runner-test") || cfg.PauseImage != runner.DefaultPauseImage {
		t.Errorf("instance %q pause %q: want the runner's", cfg.InstanceID, cfg.PauseImage)
	}
}

func TestGCFlagsSet(t *testing.T) {
	cfg, err := parseGC(t, "--minimum-container-ttl-duration", "1m", "--maximum-dead-containers-per-container", "2",
		"--maximum-dead-containers", "100", "--container-gc-period", "5s", "--image-gc-high-threshold", "1",
		"--image-gc-low-threshold", "0", "--minimum-image-ttl-duration", "0s", "--image-maximum-gc-age", "48h",
		"--image-gc-period", "10s", "--pinned-images", "etcd:3.5,pause:3.9", "--instance-id", "box")
	if err != nil {
		t.Fatal(err)
	}
	want := gc.Config{
		RootDir: "/var/lib/runner", InstanceID: "box", PauseImage: runner.DefaultPauseImage,
		PinnedImages:    []string{"etcd:3.5", "pause:3.9"},
		Containers:      gc.ContainerPolicy{MinAge: time.Minute, MaxPerPodContainer: 2, MaxContainers: 100},
		Images:          gc.ImagePolicy{HighThresholdPercent: 1, LowThresholdPercent: 0, MaxAge: 48 * time.Hour},
		ContainerPeriod: 5 * time.Second, ImagePeriod: 10 * time.Second,
	}
	if !slices.Equal(cfg.PinnedImages, want.PinnedImages) {
		t.Errorf("pinned %v", cfg.PinnedImages)
	}
	cfg.PinnedImages, want.PinnedImages = nil, nil
	if cfg.Containers != want.Containers || cfg.Images != want.Images || cfg.ContainerPeriod != want.ContainerPeriod ||
		cfg.ImagePeriod != want.ImagePeriod || cfg.InstanceID != want.InstanceID {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}
}

func TestGCFlagsInvalid(t *testing.T) {
	for _, tt := range []struct {
		args []string
		flag string
	}{
		{[]string{"--image-gc-high-threshold", "101"}, "--image-gc-high-threshold"},
		{[]string{"--image-gc-low-threshold", "90"}, "--image-gc-low-threshold"},
		{[]string{"--pinned-images", "etcd@sha256:0123"}, "--pinned-images"},
		{[]string{"--container-gc-period", "0s"}, "--container-gc-period"},
		{[]string{"--image-gc-period", "-1s"}, "--image-gc-period"},
		{[]string{"--image-maximum-gc-age", "1m", "--minimum-image-ttl-duration", "2m"}, "--image-maximum-gc-age"},
	} {
		if _, err := parseGC(t, tt.args...); err == nil || !strings.Contains(err.Error(), tt.flag) {
			t.Errorf("%v: got %v, want an error naming %s", tt.args, err, tt.flag)
		}
	}
}

// TestGCLabelsAreRunners: gc reads the labels the runner writes.
func TestGCLabelsAreRunners(t *testing.T) {
	for _, p := range [][2]string{
		{gc.LabelPodName, runner.LabelPodName},
		{gc.LabelPodNamespace, runner.LabelPodNamespace},
		{gc.LabelPodUID, runner.LabelPodUID},
		{gc.LabelContainerName, runner.LabelContainerName},
		{gc.LabelDockerType, runner.LabelDockerType},
		{gc.LabelSandboxID, runner.LabelSandboxID},
		{gc.LabelAttempt, runner.LabelAttempt},
		{gc.LabelInstance, runner.LabelInstance},
		{gc.TypeSandbox, runner.TypeSandbox},
	} {
		if p[0] != p[1] {
			t.Errorf("gc reads %q where runner writes %q", p[0], p[1])
		}
	}
}
