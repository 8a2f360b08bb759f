package main

import (
	"context"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/runner-dev/runner/runner"
)

// deployFlags are the flags of installing and running runner on a box:
// --config and --max-pods (flags_config.go), images (flags_images.go).
// newApp adds them to the daemon's flags.
func deployFlags() []cli.Flag {
	return append(configFlags(), imageFlags()...)
}

// startDeploy starts what runs beside the loop on a box: the image dir's
// watcher, which tells r of the images it loads, and the systemd
// notifier. daemon calls it once r exists, before r runs; stop ends both
// and waits for them.
func startDeploy(ctx context.Context, log *slog.Logger, imgs *imageService, r *runner.Runner) (stop func()) {
	stopDir := imgs.run(ctx, log, func(ctx context.Context, _ []string) { r.ImagesLoaded(ctx) })
	n, err := newNotifier(log, r)
	if err != nil {
		log.Warn("cannot speak to systemd's notify socket", "error", err)
	}
	stopNotify := func() {}
	if n != nil {
		stopNotify = n.start(ctx)
	}
	return func() {
		stopNotify()
		stopDir()
	}
}
