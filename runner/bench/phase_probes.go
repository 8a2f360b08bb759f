package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
)

// The probe phase: probePods pods, half with a 1 s exec liveness probe and
// half with a 1 s httpGet liveness probe, on a runner of their own. Runner's
// CPU and RSS are measured at --log-level info; the latency of each attempt
// (from when it was due to its result, which the probe workers log at
// debug) after restarting the same runner at --log-level debug, which
// restarts no container.

const (
	probePods          = 100
	probeLatencyWindow = 30 * time.Second
	// probeSettle lets the workers' first, jittered attempts pass and
	// the start's leftovers end before a window opens.
	probeSettle = 5 * time.Second
)

// probeResults are the probe phase's figures.
type probeResults struct {
	pods      int
	start     time.Duration // all manifests written → every app container running
	window    time.Duration
	cpu       float64 // % of one core, at info
	rss, hwm  int64   // KiB
	unhealthy int     // Unhealthy events logged in the CPU window
	restarts  int     // app containers that died in the CPU window

	latWindow time.Duration
	latCPU    float64              // % of one core during the latency window (debug logging)
	latency   map[string]durations // by handler ("exec", "http"); "all"
	failed    int                  // attempts that did not succeed in the latency window
	measured  bool
}

// probeHandlerOf is the handler of probe pod i: even exec, odd httpGet.
func probeHandlerOf(i int) string {
	if i%2 == 0 {
		return "exec"
	}
	return "http"
}

func probePodName(i int) string { return fmt.Sprintf("p%s%02d", probeHandlerOf(i)[:1], i) }

// probeManifest is pod i: a busybox container with a 1 s liveness probe,
// exec (cat of a file of the image) or httpGet (busybox httpd).
func probeManifest(i int) string {
	script, probe := quietScript, "exec: {command: [cat, /var/www/index.html]}"
	if probeHandlerOf(i) == "http" {
		script = "trap 'exit 0' TERM; httpd -f -p 8080 -h /var/www & wait"
		probe = "httpGet: {path: /index.html, port: 8080}"
	}
	return podManifest(probePodName(i), script) + "    livenessProbe: {" + probe + ", periodSeconds: 1, timeoutSeconds: 5}\n"
}

// measureProbes runs the probe phase on w (no runner of w may be running)
// and leaves no pod behind.
func measureProbes(ctx context.Context, w *world, res *probeResults, window time.Duration) error {
	logf("probes: %d pods with a 1 s liveness probe (half exec, half httpGet)", probePods)
	if err := startProbeRunner(w); err != nil {
		return err
	}
	if _, err := w.proc.waitLog(ctx, "adopted containers", 30*time.Second); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond) // the source's first scan
	t0 := time.Now()
	for i := range probePods {
		path := filepath.Join(w.manifests, probePodName(i)+".yaml")
		if err := os.WriteFile(path+".tmp", []byte(probeManifest(i)), 0o644); err != nil {
			return err
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			return err
		}
	}
	// Poll the engine: the recorder sees three exec events per exec probe
	// attempt, too many to scan at each.
	if err := awaitRunningApps(ctx, w, probePods, 5*time.Minute); err != nil {
		return err
	}
	res.pods, res.start = probePods, time.Since(t0)
	logf("probes: %d pods running after %v", probePods, res.start.Round(time.Second))
	time.Sleep(probeSettle)

	// CPU and memory at info level.
	pid := w.proc.pid()
	lines0 := w.proc.lineCount()
	a0 := time.Now()
	c0, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	if err := sleepCtx(ctx, window); err != nil {
		return err
	}
	c1, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	a1 := time.Now()
	res.window = a1.Sub(a0)
	res.cpu = float64(c1-c0) / clockTicks / res.window.Seconds() * 100
	if res.rss, err = statusKiB(pid, "VmRSS"); err != nil {
		return err
	}
	if res.hwm, err = statusKiB(pid, "VmHWM"); err != nil {
		return err
	}
	res.unhealthy = countSince(w.proc, lines0, "reason=Unhealthy")
	for _, e := range w.rec.snapshot() {
		if e.action == events.ActionDie && e.attrs[labelContainer] == "app" && !e.at.Before(a0) && e.at.Before(a1) {
			res.restarts++
		}
	}
	logf("probes: runner at info: %.2f %% of a core, RSS %d KiB", res.cpu, res.rss)

	// Latency: the same runner at debug level, restarted (it adopts and
	// restarts nothing; its workers start again, jittered).
	if err := w.proc.stop(30 * time.Second); err != nil {
		return err
	}
	if err := startProbeRunner(w, "--log-level", "debug"); err != nil {
		return err
	}
	if _, err := w.proc.waitLog(ctx, "in sync", time.Minute); err != nil {
		return err
	}
	time.Sleep(probeSettle)
	pid = w.proc.pid()
	lines0 = w.proc.lineCount()
	l0 := time.Now()
	if c0, err = cpuTicks(pid); err != nil {
		return err
	}
	if err := sleepCtx(ctx, probeLatencyWindow); err != nil {
		return err
	}
	if c1, err = cpuTicks(pid); err != nil {
		return err
	}
	res.latWindow = time.Since(l0)
	res.latCPU = float64(c1-c0) / clockTicks / res.latWindow.Seconds() * 100
	handlers, err := probeHandlers(ctx, w)
	if err != nil {
		return err
	}
	res.latency, res.failed = attemptLatencies(w.proc.linesFrom(lines0), handlers)
	all := res.latency["all"]
	logf("probes: %d attempts in %v, latency p50 %v p99 %v", len(all), res.latWindow.Round(time.Second), all.median(), all.quantile(0.99))
	res.measured = true

	logf("probes: removing the %d pods", probePods)
	for i := range probePods {
		if err := os.Remove(filepath.Join(w.manifests, probePodName(i)+".yaml")); err != nil {
			return err
		}
	}
	if err := w.awaitNoContainers(ctx, 5*time.Minute); err != nil {
		return err
	}
	return w.proc.stop(30 * time.Second)
}

// startProbeRunner starts w's runner with extra flags (a later flag wins),
// talking to the engine directly: the counting proxy would add its own work
// to every request of every exec probe.
func startProbeRunner(w *world, extra ...string) error {
	w.logs++
	p, err := startRunner(w.bin, append(w.args(w.manifests, ""), extra...), filepath.Join(w.dir, fmt.Sprintf("runner-%d-probes.log", w.logs)))
	if err != nil {
		return err
	}
	w.proc = p
	return nil
}

// awaitRunningApps polls until n app containers of w's instance run.
func awaitRunningApps(ctx context.Context, w *world, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	args := filters.NewArgs(filters.Arg("label", labelInstance+"="+w.instance), filters.Arg("label", labelContainer+"=app"), filters.Arg("status", "running"))
	for {
		list, err := w.cli.ContainerList(ctx, container.ListOptions{Filters: args})
		if err == nil && len(list) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d app containers running after %v (list error: %v)", len(list), n, timeout, err)
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// probeHandlers maps the IDs of the running app containers to their pod's
// handler.
func probeHandlers(ctx context.Context, w *world) (map[string]string, error) {
	args := filters.NewArgs(filters.Arg("label", labelInstance+"="+w.instance), filters.Arg("label", labelContainer+"=app"))
	list, err := w.cli.ContainerList(ctx, container.ListOptions{Filters: args})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, c := range list {
		switch {
		case strings.HasPrefix(c.Labels[labelPodName], "pe"):
			out[c.ID] = "exec"
		case strings.HasPrefix(c.Labels[labelPodName], "ph"):
			out[c.ID] = "http"
		}
	}
	return out, nil
}

var attemptLine = regexp.MustCompile(`msg=probe container_id=(\S+) probe=\S+ outcome=(\S+) status=\S+ latency=(\S+)`)

// attemptLatencies reads the probe workers' debug lines: latencies by
// handler and in all, and the attempts that did not succeed.
func attemptLatencies(lines []logLine, handlers map[string]string) (map[string]durations, int) {
	out := map[string]durations{}
	failed := 0
	for _, l := range lines {
		m := attemptLine.FindStringSubmatch(l.text)
		if m == nil {
			continue
		}
		d, err := time.ParseDuration(m[3])
		if err != nil {
			continue
		}
		if m[2] != "success" {
			failed++
		}
		out["all"] = append(out["all"], d)
		if h := handlers[m[1]]; h != "" {
			out[h] = append(out[h], d)
		}
	}
	return out, failed
}

// probeRows are the probe phase's figures.
func probeRows(r *probeResults) []row {
	if !r.measured {
		return nil
	}
	all := r.latency["all"]
	rows := []row{
		{measure: fmt.Sprintf("**Probes** %d pods, each with a 1 s liveness probe (%d exec, %d httpGet), %v: runner CPU, %% of one core", r.pods, (r.pods+1)/2, r.pods/2, r.window.Round(time.Second)),
			runner: fmt.Sprintf("%.2f %%", r.cpu)},
		{measure: "**Probes** runner RSS (VmRSS at the end of the window; peak VmHWM)", runner: fmt.Sprintf("%.1f MiB (peak %.1f MiB)", float64(r.rss)/1024, float64(r.hwm)/1024)},
		{measure: "  ↳ Unhealthy events / app containers restarted in the window", runner: fmt.Sprintf("%d / %d", r.unhealthy, r.restarts), target: "0 / 0", met: yesNo(r.unhealthy == 0 && r.restarts == 0)},
		{measure: fmt.Sprintf("**Probes** latency, due → result, p50 / p99 / max of %d attempts in %v", len(all), r.latWindow.Round(time.Second)),
			runner: ms(all.median()) + " / " + ms(all.quantile(0.99)) + " / " + ms(all.max())},
	}
	for _, h := range []string{"exec", "http"} {
		d := r.latency[h]
		rows = append(rows, row{measure: fmt.Sprintf("  ↳ %s probes, p50 / p99 (%d attempts)", map[string]string{"exec": "exec", "http": "httpGet"}[h], len(d)),
			runner: ms(d.median()) + " / " + ms(d.quantile(0.99))})
	}
	rows = append(rows,
		row{measure: "  ↳ attempts that did not succeed in the latency window", runner: fmt.Sprint(r.failed)},
		row{measure: "  ↳ runner CPU in the latency window (--log-level debug: a line per attempt)", runner: fmt.Sprintf("%.2f %%", r.latCPU)})
	return rows
}

const probeMethod = `- **Probes**: 100 pods on a runner of their own (the same flags), written at once: even ones run
  ` + "`trap 'exit 0' TERM; sleep 2147483647 & wait`" + ` with an exec liveness probe ` + "`cat /var/www/index.html`" + `,
  odd ones busybox httpd with an httpGet liveness probe of /index.html on the pod IP; periodSeconds 1,
  timeoutSeconds 5 (so that a loaded engine's slow exec is measured, not turned into restarts),
  failureThreshold 3. runner talks to the engine directly (not through the counting proxy, which would
  add its own work to every request). Once all run and 5 s passed, runner's
  CPU (utime+stime) over the window and its RSS at its end, at --log-level info; Unhealthy lines and
  app containers' die events in the window. Latency: runner is stopped (SIGTERM, pods keep running) and
  started again at --log-level debug, where each attempt's line carries its latency, from the tick it
  was due at to the handler's result (the worker's own timing); 5 s after "in sync", 30 s of those
  lines give p50, p99 and the largest, in all and by handler.
`

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// countSince counts the lines from the from-th on that contain s.
func countSince(p *runnerProc, from int, s string) int {
	n := 0
	for _, l := range p.linesFrom(from) {
		if strings.Contains(l.text, s) {
			n++
		}
	}
	return n
}

// lineCount is how many lines the process printed so far.
func (p *runnerProc) lineCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// linesFrom are the lines from the from-th on (shared: do not modify).
func (p *runnerProc) linesFrom(from int) []logLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lines[min(from, len(p.lines)):len(p.lines):len(p.lines)]
}
