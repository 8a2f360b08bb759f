package main

import (
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"
	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/update"
)

// updateFlags are the flags of safe updates.
func updateFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "rollback-after", Category: "Updates", EnvVars: []string{"RUNNER_ROLLBACK_AFTER"},
			Usage: "when a manifest changes and its pods are not all Ready within this time, run the version that last ran Ready again (0: never, as the kubelet; a pod's runner.dev/rollback-after annotation overrides it)"},
	}
}

// updateGuard is the guard of safe updates between the sources and r.
func updateGuard(c *cli.Context, log *slog.Logger, r *runner.Runner) *update.Guard {
	fileOpts := manifestOptions(c)
	urlOpts := fileOpts
	urlOpts.Source = manifest.SourceHTTP
	return update.New(update.Config{
		RootDir: c.String("root-dir"),
		After:   c.Duration("rollback-after"),
		Load: func(origin string, data []byte) ([]*v1.Pod, manifest.Problems) {
			if strings.HasPrefix(origin, "http://") || strings.HasPrefix(origin, "https://") {
				return manifest.Load(origin, data, urlOpts)
			}
			return manifest.Load(origin, data, fileOpts)
		},
		Statuses: r.Statuses().List,
		Changed:  r.Statuses().Changed,
		Record: func(pod *v1.Pod, reason, message string) {
			r.RecordEvent(pod, runner.EventWarning, reason, "", message)
		},
		Logger: log,
	})
}
