package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/runner-dev/runner/internal/dockerd"
	"github.com/runner-dev/runner/net/cni"
	"github.com/runner-dev/runner/runner/runtime"
)

// The engine restart phase (issue 19): runner on a private dockerd
// (internal/dockerd: its own data root, socket and containerd, so that the
// machine's engine is untouched), which is stopped and started under 5 and
// then 20 pods, and once more with live-restore.

// Runner's network in this phase: a bridge and /24 of its own.
const (
	engineCIDR   = "10.230.8.0/24"
	engineBridge = "rbenche0"
	// engineDown is how long the engine stays down in each restart.
	engineDown = 2 * time.Second
	// engineReps is the number of restarts per pod count.
	engineReps = 3
)

// runner's log lines around an engine restart.
const (
	logEngineDown = "the container engine does not answer"
	logEngineUp   = "the container engine answers again"
)

// engineResults are the figures of the phase.
type engineResults struct {
	// By pod count (5, 20).
	recovery map[int]durations // engine answering → every pod Running
	stops    map[int]durations // dockerd's own stop (its containers with it)
	warnings map[int][]int     // warnings and errors runner logged while the engine was down
	restarts map[int]int       // the most restarts of one container in one engine restart
	// Live-restore, 20 pods.
	liveReconnect time.Duration // engine answering → runner's "answers again"
	liveChanged   int           // containers created, started or stopped across it
	measured      bool
	liveMeasured  bool
}

// engineWorld is the phase's runner and engine.
type engineWorld struct {
	bin, dir, manifests, empty, root, instance string
	d                                          *dockerd.Daemon
	proc                                       *runnerProc
	logs                                       int
}

func (w *engineWorld) args(manifestDir string) []string {
	return []string{
		"--manifest-dir", manifestDir, "--root-dir", w.root, "--instance-id", w.instance,
		"--node-name", nodeName, "--pod-cidr", engineCIDR, "--cni-bridge-name", engineBridge,
		"--cni-conf-dir", filepath.Join(w.dir, "cni-conf"), "--docker-endpoint", w.d.Endpoint(),
		"--log-level", "info",
		"--read-only-port", "0", "--healthz-port", "0",
	}
}

func (w *engineWorld) start(manifestDir string) (*runnerProc, error) {
	w.logs++
	return startRunner(w.bin, w.args(manifestDir), filepath.Join(w.dir, fmt.Sprintf("runner-engine-%d.log", w.logs)))
}

// runEngineRestart runs the phase and removes everything it made.
func runEngineRestart(ctx context.Context, o options, res *engineResults) (retErr error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	bin, err := filepath.Abs(o.runnerBin)
	if err != nil {
		return err
	}
	logf("engine restart: a private dockerd")
	d, err := dockerd.Start(ctx, dockerd.Config{})
	if err != nil {
		return err
	}
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	dir, err := os.MkdirTemp("", "runner-bench-engine-")
	if err != nil {
		return errors.Join(err, d.Close())
	}
	w := &engineWorld{bin: bin, dir: dir, d: d, instance: "rbench-engine-" + hex.EncodeToString(id),
		manifests: filepath.Join(dir, "manifests"), empty: filepath.Join(dir, "empty"), root: filepath.Join(dir, "root")}
	defer func() {
		errs := []error{w.cleanup()}
		if o.logsDir != "" {
			errs = append(errs, copyLogs(dir, o.logsDir))
		}
		errs = append(errs, d.Close(), cni.RemoveNode(context.Background(), cni.Node{Bridge: engineBridge, CIDRs: []netip.Prefix{netip.MustParsePrefix(engineCIDR)}}), os.RemoveAll(dir))
		// What was measured stands when only the clean-up fails: Docker
		// 20.10 at times cannot remove a container's root file system
		// ("device or resource busy") for minutes. Said, not hidden.
		if err := errors.Join(errs...); err != nil {
			if retErr != nil {
				retErr = errors.Join(retErr, err)
			} else {
				fmt.Fprintln(os.Stderr, "bench: engine restart phase: clean-up incomplete (the figures stand):", err)
			}
		}
	}()
	for _, sub := range []string{w.manifests, w.empty, w.root} {
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
	}
	if err := d.ImportBusybox(ctx, appImage); err != nil {
		return err
	}
	if w.proc, err = w.start(w.manifests); err != nil {
		return err
	}
	if _, err := w.proc.waitLog(ctx, "adopted containers", 30*time.Second); err != nil {
		return err
	}
	*res = engineResults{recovery: map[int]durations{}, stops: map[int]durations{}, warnings: map[int][]int{}, restarts: map[int]int{}}
	for _, n := range []int{5, 20} {
		if err := w.measure(ctx, n, res); err != nil {
			return err
		}
	}
	res.measured = true
	if err := w.measureLive(ctx, 20, res); err != nil {
		return err
	}
	res.liveMeasured = true
	return nil
}

// measure runs n pods and restarts the engine engineReps times under them.
func (w *engineWorld) measure(ctx context.Context, n int, res *engineResults) error {
	for i := range n {
		name := fmt.Sprintf("e%02d", i)
		if err := writeFileAtomic(filepath.Join(w.manifests, name+".yaml"), podManifest(name, "trap 'exit 0' TERM; while true; do sleep 0.2; done")); err != nil {
			return err
		}
	}
	if _, err := w.awaitRunning(ctx, n, time.Now(), 3*time.Minute); err != nil {
		return err
	}
	for rep := range engineReps {
		before, err := w.attempts(ctx)
		if err != nil {
			return err
		}
		from := len(w.lines())
		stopped, err := w.restartEngine(ctx, from)
		if err != nil {
			return err
		}
		took, err := w.awaitRunning(ctx, n, time.Now(), 2*time.Minute)
		if err != nil {
			return err
		}
		upAt, err := w.waitLogFrom(ctx, from, logEngineUp, 30*time.Second)
		if err != nil {
			return err
		}
		after, err := w.attempts(ctx)
		if err != nil {
			return err
		}
		most := 0
		for pod, a := range after {
			most = max(most, a-before[pod])
		}
		warn := w.warningsBetween(from, upAt)
		logf("engine restart %d with %d pods: stopped in %v, every pod Running %v after the engine answered, %d warnings, at most %d restart(s) of a container",
			rep+1, n, stopped.Round(time.Millisecond), took.Round(time.Millisecond), warn, most)
		res.recovery[n] = append(res.recovery[n], took)
		res.stops[n] = append(res.stops[n], stopped)
		res.warnings[n] = append(res.warnings[n], warn)
		res.restarts[n] = max(res.restarts[n], most)
	}
	return nil
}

// measureLive restarts a live-restore engine under the n running pods:
// nothing may be created, started or stopped.
func (w *engineWorld) measureLive(ctx context.Context, n int, res *engineResults) error {
	// Switching live-restore on takes a restart of its own.
	if _, err := w.d.Stop(ctx); err != nil {
		return err
	}
	w.d.SetLiveRestore(true)
	if err := w.d.Up(ctx); err != nil {
		return err
	}
	if _, err := w.awaitRunning(ctx, n, time.Now(), 2*time.Minute); err != nil {
		return err
	}
	before, err := w.live(ctx)
	if err != nil {
		return err
	}
	from := len(w.lines())
	if _, err := w.restartEngine(ctx, from); err != nil {
		return err
	}
	answered := time.Now()
	upAt, err := w.waitLogFrom(ctx, from, logEngineUp, 30*time.Second)
	if err != nil {
		return err
	}
	res.liveReconnect = upAt.at.Sub(answered)
	// Whatever runner would do after replanning, it does at once.
	time.Sleep(3 * time.Second)
	after, err := w.live(ctx)
	if err != nil {
		return err
	}
	for id := range before {
		if !after[id] {
			res.liveChanged++
		}
	}
	for id := range after {
		if !before[id] {
			res.liveChanged++
		}
	}
	logf("live-restore engine restart with %d pods: runner reconnected %v after the engine answered; %d containers changed", n, res.liveReconnect.Round(time.Millisecond), res.liveChanged)
	return nil
}

// restartEngine stops dockerd, waits until runner (whose log lines from
// index from on are read) says the engine is gone, leaves it down
// engineDown and starts it; it returns how long the stop took. The engine
// answers when it returns.
func (w *engineWorld) restartEngine(ctx context.Context, from int) (time.Duration, error) {
	stopped, err := w.d.Stop(ctx)
	if err != nil {
		return stopped, err
	}
	if _, err := w.waitLogFrom(ctx, from, logEngineDown, 30*time.Second); err != nil {
		return stopped, err
	}
	time.Sleep(engineDown)
	return stopped, w.d.Up(ctx)
}

// list lists the phase's containers.
func (w *engineWorld) list(ctx context.Context) ([]runtime.Container, error) {
	return w.d.Runtime().ListContainers(ctx, map[string]string{labelInstance: w.instance})
}

// awaitRunning polls until n sandboxes and n app containers run, and
// returns how long that took since from.
func (w *engineWorld) awaitRunning(ctx context.Context, n int, from time.Time, timeout time.Duration) (time.Duration, error) {
	deadline := from.Add(timeout)
	for {
		list, err := w.list(ctx)
		if err == nil {
			running := 0
			for _, c := range list {
				if c.State == runtime.StateRunning {
					running++
				}
			}
			if running == 2*n {
				return time.Since(from), nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d pods not all running %v after the engine answered (list error: %v)", n, timeout, err)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// attempts is the highest attempt of each pod's app container.
func (w *engineWorld) attempts(ctx context.Context) (map[string]int, error) {
	list, err := w.list(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, c := range list {
		if c.Labels[labelContainer] == "app" {
			a, _ := strconv.Atoi(c.Labels[labelAttempt])
			out[c.Labels[labelPodName]] = max(out[c.Labels[labelPodName]], a)
		}
	}
	return out, nil
}

// live is the set of running containers, by ID.
func (w *engineWorld) live(ctx context.Context) (map[string]bool, error) {
	list, err := w.list(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, c := range list {
		if c.State == runtime.StateRunning {
			out[c.ID] = true
		}
	}
	return out, nil
}

func (w *engineWorld) lines() []logLine {
	w.proc.mu.Lock()
	defer w.proc.mu.Unlock()
	return w.proc.lines
}

// waitLogFrom waits for a line containing s among the lines from index from.
func (w *engineWorld) waitLogFrom(ctx context.Context, from int, s string, timeout time.Duration) (logLine, error) {
	deadline := time.Now().Add(timeout)
	for {
		lines := w.lines()
		for _, l := range lines[min(from, len(lines)):] {
			if strings.Contains(l.text, s) {
				return l, nil
			}
		}
		if time.Now().After(deadline) {
			return logLine{}, fmt.Errorf("runner did not print %q within %v", s, timeout)
		}
		select {
		case <-ctx.Done():
			return logLine{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// warningsBetween counts the warnings and errors runner logged from index
// from until the line up.
func (w *engineWorld) warningsBetween(from int, up logLine) int {
	n := 0
	for _, l := range w.lines()[from:] {
		if l.text == up.text {
			break
		}
		if strings.Contains(l.text, "level=WARN") || strings.Contains(l.text, "level=ERROR") {
			n++
		}
	}
	return n
}

// cleanup stops runner and tears every pod down through a janitor runner
// with no manifests (CNI DEL, IP release); the engine must be up.
func (w *engineWorld) cleanup() error {
	if w.proc != nil && !w.proc.exited() {
		w.proc.kill()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if !w.d.Running() {
		if err := w.d.Up(ctx); err != nil {
			return err
		}
	}
	list, err := w.list(ctx)
	if err != nil || len(list) == 0 {
		return err
	}
	j, err := w.start(w.empty)
	if err != nil {
		return err
	}
	defer j.kill()
	for {
		if list, err := w.list(ctx); err == nil && len(list) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("janitor: containers left: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// writeFileAtomic writes a manifest with a temp file and a rename.
func writeFileAtomic(path, content string) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// engineRows are the figures of the engine restart phase.
func engineRows(r *engineResults) []row {
	var rows []row
	if !r.measured {
		return rows
	}
	for _, n := range []int{5, 20} {
		rec := r.recovery[n]
		rows = append(rows, row{measure: fmt.Sprintf("**Engine restart** %d pods: dockerd stopped (its containers with it), down %v, started → every pod Running, from the engine answering (median of %d; the slowest)", n, engineDown, len(rec)),
			runner: ms(rec.median()) + " (" + ms(rec.max()) + ")", target: "≤ 15 s", met: yesNo(rec.max() <= 15*time.Second)})
		rows = append(rows, row{measure: "  ↳ warnings logged while the engine was down, per restart; the most restarts of one container per engine restart",
			runner: fmt.Sprintf("%v; %d", r.warnings[n], r.restarts[n]), target: "a handful; ≤ 1", met: yesNo(slicesMax(r.warnings[n]) <= 5 && r.restarts[n] <= 1)})
		rows = append(rows, row{measure: "  ↳ dockerd's own stop, median", runner: ms(r.stops[n].median())})
	}
	if r.liveMeasured {
		rows = append(rows, row{measure: "**Engine restart** live-restore, 20 pods: containers created, started or stopped across it",
			runner: fmt.Sprint(r.liveChanged), target: "0", met: yesNo(r.liveChanged == 0)})
		rows = append(rows, row{measure: "  ↳ engine answering → runner says it answers again", runner: ms(r.liveReconnect), target: "≤ 2 s (its reconnect period)", met: yesNo(r.liveReconnect <= 2*time.Second)})
	}
	return rows
}

func slicesMax(v []int) int {
	m := 0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// engineMethod says how the phase is measured, for BENCHMARKS.md.
const engineMethod = `- **Engine restart**: runner (its own root dir, instance id, bridge rbenche0 and pod CIDR ` + engineCIDR + `)
  on a private dockerd that the bench starts (internal/dockerd: its own data root, exec root with its
  own containerd, socket, pidfile and a bridge of its own; no iptables), with the test image imported into it.
  With 5 and then 20 pods running, dockerd is stopped with SIGTERM (it stops their containers), left
  down 2 s and started again, 3 times each; the time runs from the moment it answers (a version call
  succeeds) until every sandbox and app container runs again (a list every 50 ms). The warnings are
  the lines runner logged at level WARN or ERROR from the stop to its line "the container engine
  answers again"; the restarts are the largest increase of one app container's attempt. Live-restore:
  dockerd restarted with --live-restore under the 20 pods; the set of running containers before and
  3 s after runner reconnected must be the same.
`
