package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/docker/docker/client"

	"github.com/runner-dev/runner/runner/runtime/docker"
)

// machine is what BENCHMARKS.md says about where it was measured.
type machine struct {
	cores      int
	cpuModel   string
	memGiB     float64
	kernel     string
	docker     string
	apiVersion string
	goVersion  string
	revision   string
	loadStart  string
	loadEnd    string
	date       time.Time
	// CPU pressure: the share of the run's wall time in which some runnable
	// task waited for a CPU (PSI "some"), from /proc/pressure/cpu.
	psiStart    int64
	cpuPressure string
}

func readMachine(repo string) machine {
	m := machine{cores: runtime.NumCPU(), goVersion: runtime.Version(), date: time.Now().UTC(), loadStart: loadAvg(), psiStart: cpuStallMicros()}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.cpuModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if kib, err := statusKiBFile("/proc/meminfo", "MemTotal"); err == nil {
		m.memGiB = float64(kib) / (1 << 20)
	}
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = repo
	if out, err := cmd.Output(); err == nil {
		m.revision = strings.TrimSpace(string(out))
	}
	return m
}

// finish records the load at the end of the run.
func (m *machine) finish() {
	m.loadEnd = loadAvg()
	if end := cpuStallMicros(); m.psiStart > 0 && end >= m.psiStart {
		wall := time.Since(m.date).Microseconds()
		m.cpuPressure = fmt.Sprintf("%.0f %%", float64(end-m.psiStart)/float64(wall)*100)
	}
}

// cpuStallMicros is the "some" total of /proc/pressure/cpu; 0 when the
// kernel has no PSI.
func cpuStallMicros() int64 {
	data, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(strings.SplitN(string(data), "\n", 2)[0]) {
		if v, ok := strings.CutPrefix(f, "total="); ok {
			var n int64
			if _, err := fmt.Sscan(v, &n); err == nil {
				return n
			}
		}
	}
	return 0
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// statusKiBFile reads "Field: N kB" from a /proc file.
func statusKiBFile(path, field string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var n int64
			if _, err := fmt.Sscan(v, &n); err == nil {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("%s has no %s", path, field)
}

// checkEngine reads the engine's version and checks that the local test
// image is there (testdata/setup.sh imports it). runner's pause image is
// runner's own business: it imports it at its first pod if absent, and the
// bound uses the image runner's sandboxes run.
func checkEngine(ctx context.Context, cli *client.Client, adapter *docker.Runtime, m *machine) error {
	v, err := cli.ServerVersion(ctx)
	if err != nil {
		return fmt.Errorf("docker is not answering (run `make setup`): %w", err)
	}
	m.docker, m.apiVersion = v.Version, v.APIVersion
	if _, err := adapter.InspectImage(ctx, appImage); err != nil {
		return fmt.Errorf("image %s missing (run `make setup`): %w", appImage, err)
	}
	return nil
}
