package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/runner-dev/runner/internal/kubeletconfig"
)

// configFlags are --config, --max-pods and --pod-pids-limit; newApp adds
// them (deployFlags).
func configFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Category: "Runner", EnvVars: []string{"RUNNER_CONFIG"},
			Usage: "a KubeletConfiguration file (kubelet.config.k8s.io/v1beta1, e.g. kubeadm's /var/lib/kubelet/config.yaml): each field runner implements sets its flag, flags given on the command line or in RUNNER_* win; fields runner does not implement are named in one warning"},
		&cli.IntFlag{Name: "max-pods", Category: "Runner", EnvVars: []string{"RUNNER_MAX_PODS"}, Value: 110,
			Usage: "the most pods runner runs; past it a pod is refused with a status that says so"},
		&cli.Int64Flag{Name: "pod-pids-limit", Category: "Runner", EnvVars: []string{"RUNNER_POD_PIDS_LIMIT"}, Value: -1,
			Usage: "the most processes a pod's container may run (the kubelet's podPidsLimit, which limits the pod's cgroup: under Docker each container gets the limit); -1: no limit. It applies to containers created after it is set: a running one keeps its limit"},
	}
}

// applyConfigFile reads --config, if given, and sets every flag a field of
// it implements that the command line and the environment leave unset.
// It logs what it took and, in one warning, the fields it ignores. daemon
// calls it first, before any flag is read.
func applyConfigFile(c *cli.Context, log *slog.Logger) error {
	path := c.String("config")
	if path == "" {
		return nil
	}
	f, err := kubeletconfig.Load(path)
	if err != nil {
		return fmt.Errorf("--config:\n%w", err)
	}
	settings, ignored, err := f.Settings(func(name string) bool { return hasFlag(c.App.Flags, name) })
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var taken, overridden []string
	for _, s := range settings {
		if c.IsSet(s.Flag) {
			overridden = append(overridden, s.Field+" (--"+s.Flag+")")
			continue
		}
		for _, v := range s.Values {
			if err := c.Set(s.Flag, v); err != nil {
				return fmt.Errorf("--config: %s:%d: %s: %q is no value for --%s: %w", path, s.Line, s.Field, v, s.Flag, err)
			}
		}
		taken = append(taken, s.Field)
	}
	log.Info("read kubelet configuration", "config", path, "fields", strings.Join(taken, ","), "overridden_by_flags", strings.Join(overridden, ","))
	if len(ignored) > 0 {
		list := make([]string, len(ignored))
		for i, ig := range ignored {
			list[i] = ig.String()
		}
		log.Warn("kubelet configuration fields that runner does not implement are ignored", "config", path, "count", len(ignored), "fields", strings.Join(list, "; "))
	}
	return nil
}

// hasFlag reports whether flags hold one named name (or aliased so).
func hasFlag(flags []cli.Flag, name string) bool {
	return slices.ContainsFunc(flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), name) })
}
