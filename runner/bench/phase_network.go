package main

// The pod network phases: what one CNI ADD of runner's own network costs,
// plugin by plugin and in runner's own iptables runs (in-process, through
// net/podnet as runner's workers call it), and how much longer a batch of
// pods takes to start with pod IPs than on the host network (through the
// runner binary, in the same run).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/runner-dev/runner/net/cni"
	"github.com/runner-dev/runner/net/podnet"
)

// The in-process network's bridge and range, apart from runner's and the
// bound's.
const (
	netBenchCIDR   = "10.230.8.0/24"
	netBenchBridge = "rbenchn0"
	// netBenchPods are attached without hostPorts, netBenchPortPods with one.
	netBenchPods     = 10
	netBenchPortPods = 5
)

// netResults are the figures of the network phases.
type netResults struct {
	add, addPorts   durations            // podnet Attach, without and with a hostPort
	cniAdd          durations            // its CNI part (plugins and runner's iptables runs), without hostPorts
	del             durations            // podnet Detach
	plugins         map[string]durations // per plugin type, ADD, without hostPorts (one sample per pod)
	pluginsPorts    map[string]durations // the same with a hostPort
	ipt, iptPorts   []int                // runner's own iptables runs per ADD
	iptTime         durations            // and their time per ADD
	delPlugins      map[string]durations // per plugin type, DEL
	delIpt          []int
	batches         []batchResult
	boundBatches    []batchResult // the bound's 10-pod batches, host network and not
	breakdownOK     bool
	batchesMeasured bool
}

// batchResult is one batch: n pods written at once, to all running.
type batchResult struct {
	n           int
	hostNetwork bool
	took        time.Duration
	// steps are the pods' timelines: write → sandbox created, → started,
	// → app created (runner's network set-up lies here), → app started.
	steps map[string]durations
}

// batchSteps are the steps of a pod's start, in order.
var batchSteps = []string{"write → sandbox created", "sandbox created → started", "sandbox started → app created", "app created → started"}

// tracer collects the calls of cni.Config.Trace.
type tracer struct {
	mu    sync.Mutex
	calls []cni.Call
}

func (tr *tracer) record(c cni.Call) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.calls = append(tr.calls, c)
}

// take returns the calls since the last take.
func (tr *tracer) take() []cni.Call {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	c := tr.calls
	tr.calls = nil
	return c
}

// split sums the calls by plugin type (runner's iptables runs apart).
func split(calls []cni.Call) (plugins map[string]time.Duration, ipt int, iptTime time.Duration) {
	plugins = map[string]time.Duration{}
	for _, c := range calls {
		if c.Kind == cni.CallIPTables {
			ipt++
			iptTime += c.Took
			continue
		}
		plugins[c.Name] += c.Took
	}
	return plugins, ipt, iptTime
}

// benchSandbox is a network namespace with a process in it, as a pause
// container's.
type benchSandbox struct {
	name string
	cmd  *exec.Cmd
}

func newBenchSandbox(name string) (*benchSandbox, error) {
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ip netns add %s: %v: %s", name, err, out)
	}
	sb := &benchSandbox{name: name, cmd: exec.Command("ip", "netns", "exec", name, "/bin/busybox", "sleep", "3600")}
	if err := sb.cmd.Start(); err != nil {
		sb.remove()
		return nil, err
	}
	// ip enters the namespace, then execs sleep.
	own, _ := os.Readlink("/proc/self/ns/net")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", sb.cmd.Process.Pid)); err == nil && ns != own {
			return sb, nil
		}
		if time.Now().After(deadline) {
			sb.remove()
			return nil, fmt.Errorf("process of %s never entered it", name)
		}
	}
}

func (sb *benchSandbox) remove() {
	if sb.cmd.Process != nil {
		_ = sb.cmd.Process.Kill()
		_ = sb.cmd.Wait()
	}
	_ = exec.Command("ip", "netns", "del", sb.name).Run()
}

// measureBreakdown attaches netBenchPods sandboxes, then netBenchPortPods
// with a hostPort, one at a time through podnet (runner's own network), and
// detaches them all, recording every plugin and iptables run.
func measureBreakdown(ctx context.Context, runID string, res *results) (retErr error) {
	logf("network: %d CNI ADDs of runner's own network, then %d with a hostPort, one at a time", netBenchPods, netBenchPortPods)
	dir, err := os.MkdirTemp("", "runner-bench-net-")
	if err != nil {
		return err
	}
	tr := &tracer{}
	cfg := podnet.Config{Dir: dir, CIDR: netip.MustParsePrefix(netBenchCIDR), BridgeName: netBenchBridge, Trace: tr.record}
	m, err := podnet.New(cfg)
	if err != nil {
		return err
	}
	// As runner at start: the node's set-up, outside the ADDs measured.
	if err := m.Reconcile(ctx, nil); err != nil {
		return err
	}
	// sandboxes are all that were made, attached those attached and not
	// yet detached.
	type attachment struct {
		id  string
		pid int
	}
	var sandboxes []*benchSandbox
	var attached []attachment
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var errs []error
		for _, a := range attached {
			errs = append(errs, m.Detach(cctx, a.id, a.pid))
		}
		for _, sb := range sandboxes {
			sb.remove()
		}
		_, err := podnet.Uninstall(cctx, cfg)
		errs = append(errs, err, os.RemoveAll(dir))
		retErr = errors.Join(append([]error{retErr}, errs...)...)
	}()
	r := &res.net
	r.plugins, r.pluginsPorts, r.delPlugins = map[string]durations{}, map[string]durations{}, map[string]durations{}
	for i := range netBenchPods + netBenchPortPods {
		withPort := i >= netBenchPods
		sb, err := newBenchSandbox(fmt.Sprintf("rbench-%s-%d", runID, i))
		if err != nil {
			return err
		}
		sandboxes = append(sandboxes, sb)
		s := podnet.Sandbox{ID: fmt.Sprintf("rbench%s%02d", runID, i), Pid: sb.cmd.Process.Pid, Pod: fmt.Sprintf("bench/n%02d", i), PodUID: fmt.Sprintf("uid-%d", i)}
		if withPort {
			port, err := freePort()
			if err != nil {
				return err
			}
			s.Ports = []cni.PortMapping{{HostPort: port, ContainerPort: 8080, Protocol: "tcp", HostIP: "127.0.0.1"}}
		}
		tr.take()
		t0 := time.Now()
		if _, err := m.Attach(ctx, s); err != nil {
			return err
		}
		took := time.Since(t0)
		attached = append(attached, attachment{s.ID, s.Pid})
		calls := tr.take()
		plugins, ipt, iptTime := split(calls)
		if withPort {
			r.addPorts = append(r.addPorts, took)
			r.iptPorts = append(r.iptPorts, ipt)
			for name, d := range plugins {
				r.pluginsPorts[name] = append(r.pluginsPorts[name], d)
			}
			continue
		}
		r.add = append(r.add, took)
		var cniTook time.Duration
		for _, c := range calls {
			cniTook += c.Took
		}
		r.cniAdd = append(r.cniAdd, cniTook)
		r.ipt = append(r.ipt, ipt)
		r.iptTime = append(r.iptTime, iptTime)
		for name, d := range plugins {
			r.plugins[name] = append(r.plugins[name], d)
		}
	}
	for len(attached) > 0 {
		tr.take()
		t0 := time.Now()
		if err := m.Detach(ctx, attached[0].id, attached[0].pid); err != nil {
			return err
		}
		r.del = append(r.del, time.Since(t0))
		plugins, ipt, _ := split(tr.take())
		r.delIpt = append(r.delIpt, ipt)
		for name, d := range plugins {
			r.delPlugins[name] = append(r.delPlugins[name], d)
		}
		attached = attached[1:]
	}
	r.breakdownOK = true
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// hostNetworkManifest is podManifest on the host network.
func hostNetworkManifest(name, script string) string {
	return strings.Replace(podManifest(name, script), "spec:\n", "spec:\n  hostNetwork: true\n", 1)
}

// measureNetworkBatches starts a runner and, in turn, brings batches of 10
// and 30 pods up on the host network and with pod IPs, removing each batch
// before the next: the 10-pod pair twice, the 30-pod pair once.
func measureNetworkBatches(ctx context.Context, w *world, b *bound, res *results) error {
	if err := w.startRunner(); err != nil {
		return err
	}
	if _, err := w.proc.waitLog(ctx, "adopted containers", 30*time.Second); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	// A first pair warms the engine up (not counted), then the 10-pod pair
	// three times and the 30-pod pair once, each pair in turn.
	plan := []batchResult{{n: 10, hostNetwork: true}, {n: 10}}
	for range 3 {
		plan = append(plan, batchResult{n: 10, hostNetwork: true}, batchResult{n: 10})
	}
	plan = append(plan, batchResult{n: 30, hostNetwork: true}, batchResult{n: 30})
	for round, batch := range plan {
		what := "pod network"
		if batch.hostNetwork {
			what = "host network"
		}
		logf("network: %d pods on the %s written at once", batch.n, what)
		names := make([]string, batch.n)
		var first time.Time
		for i := range names {
			names[i] = fmt.Sprintf("nb%d-%02d", round, i)
			manifest := podManifest(names[i], quietScript)
			if batch.hostNetwork {
				manifest = hostNetworkManifest(names[i], quietScript)
			}
			t, err := w.writeManifest(names[i], manifest)
			if err != nil {
				return err
			}
			if i == 0 {
				first = t
			}
		}
		var last time.Time
		var tls []timeline
		err := w.rec.wait(ctx, 180*time.Second, fmt.Sprintf("%d pods running", batch.n), func(evs []event) bool {
			last, tls = time.Time{}, tls[:0]
			for _, name := range names {
				tl, ok := timelineOf(evs, podName(name))
				if !ok {
					return false
				}
				tls = append(tls, tl)
				if tl.appStart.After(last) {
					last = tl.appStart
				}
			}
			return true
		})
		if err != nil {
			return err
		}
		if b.pauseImage == "" {
			sb, _ := find(w.rec.snapshot(), podName(names[0]), sandboxName, "0", events.ActionCreate)
			b.pauseImage = sb.attrs["image"]
		}
		batch.took = last.Sub(first)
		batch.steps = map[string]durations{}
		for _, tl := range tls {
			for i, d := range []time.Duration{tl.sbCreate.Sub(first), tl.sbStart.Sub(tl.sbCreate), tl.appCreate.Sub(tl.sbStart), tl.appStart.Sub(tl.appCreate)} {
				batch.steps[batchSteps[i]] = append(batch.steps[batchSteps[i]], d)
			}
		}
		if round >= 2 {
			res.net.batches = append(res.net.batches, batch)
		}
		for _, name := range names {
			if err := w.removePod(name); err != nil {
				return err
			}
		}
		if err := w.awaitNoContainers(ctx, 120*time.Second); err != nil {
			return err
		}
		time.Sleep(time.Second)
	}
	res.net.batchesMeasured = true
	if err := w.proc.stop(30 * time.Second); err != nil {
		return err
	}
	return measureBoundNetworkBatches(ctx, b, res)
}

// measureBoundNetworkBatches is Docker's own share of the pod network's
// cost: the bound (a bare client) starts 10 pods at once on the host
// network and with a network namespace of their own and a CNI ADD, in
// turn, a warm-up pair and then three pairs, tearing each batch down before
// the next. Runner cannot be cheaper than this ratio.
func measureBoundNetworkBatches(ctx context.Context, b *bound, res *results) error {
	if b.pauseImage == "" {
		return errors.New("the pause image of runner's sandboxes is not known")
	}
	for round := range 8 {
		host := round%2 == 0
		names := make([]string, 10)
		for i := range names {
			names[i] = fmt.Sprintf("bn%d-%02d", round, i)
		}
		var mu sync.Mutex
		var pods []*boundPod
		took, err := parallel(ctx, names, len(names), func(ctx context.Context, name string) error {
			p, err := b.startPodOn(ctx, name, quietScript, host)
			mu.Lock()
			pods = append(pods, p)
			mu.Unlock()
			return err
		})
		if err != nil {
			return err
		}
		logf("network: bound, 10 pods at once (host network %v): %s", host, ms(took))
		if round >= 2 {
			res.net.boundBatches = append(res.net.boundBatches, batchResult{n: len(names), hostNetwork: host, took: took})
		}
		if _, err := parallel(ctx, names, len(names), func(ctx context.Context, name string) error {
			for _, p := range pods {
				if p.name == name {
					return b.stopPod(ctx, p)
				}
			}
			return nil
		}); err != nil {
			return err
		}
		time.Sleep(time.Second)
	}
	return nil
}

// writeManifest writes a manifest atomically, as writePod does.
func (w *world) writeManifest(name, content string) (time.Time, error) {
	tmp := filepath.Join(w.manifests, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return time.Time{}, err
	}
	if err := os.Rename(tmp, filepath.Join(w.manifests, name+".yaml")); err != nil {
		return time.Time{}, err
	}
	return time.Now(), nil
}

// networkRows are the figures of the network phases.
func networkRows(r *results) []row {
	n := &r.net
	var rows []row
	add := func(x row) { rows = append(rows, x) }
	if n.breakdownOK {
		p50 := n.add.median()
		add(row{measure: fmt.Sprintf("**Network** podnet Attach of runner's own network, no hostPort (records, address, CNI ADD), p50 of %d", len(n.add)),
			runner: ms(p50), target: "≤ 50 ms", met: yesNo(p50 <= 50*time.Millisecond)})
		add(row{measure: "  ↳ its CNI ADD (plugins + runner's iptables runs), p50", runner: ms(n.cniAdd.median()), target: "≤ 50 ms", met: yesNo(n.cniAdd.median() <= 50*time.Millisecond)})
		add(row{measure: "  ↳ per plugin, p50 (sum over its runs in one ADD)", runner: pluginSummary(n.plugins)})
		add(row{measure: "  ↳ runner's own iptables runs per ADD (median count; their time, p50)", runner: fmt.Sprintf("%d; %s", medianInt(n.ipt), ms(n.iptTime.median()))})
		add(row{measure: fmt.Sprintf("**Network** podnet Attach with one hostPort, p50 of %d", len(n.addPorts)), runner: ms(n.addPorts.median())})
		add(row{measure: "  ↳ per plugin, p50", runner: pluginSummary(n.pluginsPorts)})
		add(row{measure: "  ↳ runner's own iptables runs per ADD (median)", runner: fmt.Sprint(medianInt(n.iptPorts))})
		add(row{measure: fmt.Sprintf("**Network** podnet Detach (CNI DEL, release), p50 of %d", len(n.del)), runner: ms(n.del.median())})
		add(row{measure: "  ↳ per plugin, p50; runner's own iptables runs per DEL (median)", runner: pluginSummary(n.delPlugins) + fmt.Sprintf("; iptables ×%d", medianInt(n.delIpt))})
	}
	if n.batchesMeasured {
		for _, size := range []int{10, 30} {
			var host, pod durations
			for _, b := range n.batches {
				if b.n != size {
					continue
				}
				if b.hostNetwork {
					host = append(host, b.took)
				} else {
					pod = append(pod, b.took)
				}
			}
			if len(host) == 0 || len(pod) == 0 {
				continue
			}
			target, met := "", ""
			if size == 10 {
				target, met = "≤ 1.25×", yesNo(float64(pod.median()) <= 1.25*float64(host.median()))
			}
			add(row{measure: fmt.Sprintf("**Network** %d pods written at once → all Running: with pod network (runner) vs on the host network (bound column), same runner, in turn (median of %d)", size, len(pod)),
				runner: joinMs(pod), bound: joinMs(host), ratio: dratio(pod.median(), host.median()), target: target, met: met})
			for _, step := range batchSteps {
				var hs, ps durations
				for _, b := range n.batches {
					if b.n != size {
						continue
					}
					if b.hostNetwork {
						hs = append(hs, b.steps[step]...)
					} else {
						ps = append(ps, b.steps[step]...)
					}
				}
				if len(hs) > 0 && len(ps) > 0 {
					add(row{measure: fmt.Sprintf("  ↳ %s, median over the pods", step), runner: ms(ps.median()), bound: ms(hs.median()), ratio: dratio(ps.median(), hs.median())})
				}
			}
		}
	}
	if len(n.boundBatches) > 0 {
		var host, pod durations
		for _, b := range n.boundBatches {
			if b.hostNetwork {
				host = append(host, b.took)
			} else {
				pod = append(pod, b.took)
			}
		}
		if len(host) > 0 && len(pod) > 0 {
			add(row{measure: fmt.Sprintf("**Network** Docker's floor: the bound (a bare client) starts 10 pods at once with a network namespace and CNI ADD vs on the host network (bound column), in turn (median of %d)", len(pod)),
				runner: joinMs(pod), bound: joinMs(host), ratio: dratio(pod.median(), host.median())})
		}
	}
	return rows
}

// pluginSummary renders the p50 of each plugin, slowest first:
// "bridge 40.1 ms, portmap 30.2 ms".
func pluginSummary(m map[string]durations) string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return m[names[i]].median() > m[names[j]].median() })
	parts := make([]string, 0, len(names))
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s %s", name, ms(m[name].median())))
	}
	return dash(strings.Join(slices.Clip(parts), ", "))
}
