package main

import (
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/eviction"
	"github.com/runner-dev/runner/runner"
)

// parseEviction is evictionConfig of args.
func parseEviction(t *testing.T, args ...string) (eviction.Config, error) {
	t.Helper()
	return parseFlags(t, evictionConfig, args...)
}

func thresholdsOf(cfg eviction.Config) string {
	var out []string
	for _, t := range cfg.Thresholds {
		out = append(out, t.String())
	}
	return strings.Join(out, "; ")
}

func TestEvictionFlags(t *testing.T) {
	cfg, err := parseEviction(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := thresholdsOf(cfg); got != "memory.available<100Mi; nodefs.available<10%; nodefs.inodesFree<5%; imagefs.available<15%" {
		t.Errorf("default thresholds %s", got)
	}
	if cfg.PressureTransitionPeriod != 5*time.Minute || cfg.MonitoringInterval != 10*time.Second || cfg.MaxPodGracePeriod != 0 {
		t.Errorf("defaults %+v", cfg)
	}

	cfg, err = parseEviction(t, "--eviction-hard", "memory.available<1Gi", "--eviction-soft", "memory.available<2Gi,pid.available<10%",
		"--eviction-soft-grace-period", "memory.available=1m,pid.available=30s", "--eviction-minimum-reclaim", "memory.available=100Mi",
		"--eviction-pressure-transition-period", "30s", "--eviction-max-pod-grace-period", "20", "--eviction-monitoring-interval", "1s",
		"--priority-class", "edge=1000", "--priority-class", "batch=-5")
	if err != nil {
		t.Fatal(err)
	}
	if got := thresholdsOf(cfg); got != "memory.available<1Gi (minimum reclaim 100Mi); memory.available<2Gi for 1m0s (minimum reclaim 100Mi); pid.available<10% for 30s" {
		t.Errorf("thresholds %s", got)
	}
	if cfg.PressureTransitionPeriod != 30*time.Second || cfg.MonitoringInterval != time.Second || cfg.MaxPodGracePeriod != 20 ||
		cfg.PriorityClasses["edge"] != 1000 || cfg.PriorityClasses["batch"] != -5 {
		t.Errorf("config %+v", cfg)
	}

	cfg, err = parseEviction(t, "--eviction-hard", "")
	if err != nil || len(cfg.Thresholds) != 0 {
		t.Errorf(`--eviction-hard "": %v, %v; want no thresholds`, thresholdsOf(cfg), err)
	}
}

// TestEvictionFlagsMalformed: a malformed threshold is a start-up error that
// names the flag and the threshold.
func TestEvictionFlagsMalformed(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--eviction-hard", "memory.available<1OOMi"}, `--eviction-hard "memory.available<1OOMi"`},
		{[]string{"--eviction-hard", "memory.available<100Mi,nodefs.avail<10%"}, `--eviction-hard "nodefs.avail<10%": unknown signal`},
		{[]string{"--eviction-soft", "memory.available<1Gi"}, `--eviction-soft "memory.available<1Gi": needs a grace period`},
		{[]string{"--priority-class", "system-x=5"}, `--priority-class "system-x=5"`},
		{[]string{"--eviction-monitoring-interval", "0s"}, "--eviction-monitoring-interval"},
	} {
		if _, err := parseEviction(t, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestEvictionLabelsAreRunners: eviction's host source reads the labels
// the runner writes.
func TestEvictionLabelsAreRunners(t *testing.T) {
	if eviction.LabelInstance != runner.LabelInstance || eviction.LabelPodUID != runner.LabelPodUID {
		t.Errorf("eviction reads %q/%q, runner writes %q/%q", eviction.LabelInstance, eviction.LabelPodUID, runner.LabelInstance, runner.LabelPodUID)
	}
}
