package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// row is one line of the table. bound and ratio are "—" where the figure
// has no counterpart in the bound.
type row struct {
	measure, runner, bound, ratio, target, met string
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// dash fills empty cells.
func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// dockerRows are the figures of the engine phases.
func dockerRows(r *results) []row {
	var rows []row
	add := func(x row) { rows = append(rows, x) }
	if r.boundMeasured {
		add(row{measure: "**Bound** one pod, one at a time (median of 10): create+start pause, inspect, CNI ADD, create+start app", bound: ms(r.boundSerial.median())})
		add(row{measure: "**Bound** 30 pods, 16 at once (right before runner's batch; again before the teardowns)", bound: joinMs(r.boundParallel)})
		add(row{measure: "**Bound** app container start call (median of 10)", bound: ms(r.boundSteps[stepStartApp].median())})
		add(row{measure: "**Bound** teardown of 30 pods, 16 at once: stop+remove app, CNI DEL, remove pause (after the first start; right before runner's teardown)", bound: joinMs(r.boundTeardown)})
	}
	if r.proxyHop != 0 {
		add(row{measure: "Counting proxy: time it adds to one runner request (median ping)", runner: ms(r.proxyHop)})
	}
	if len(r.start) > 0 {
		serial := r.boundSerial.median()
		med := r.start.median()
		add(row{measure: "**Start** one pod: manifest write → all containers Running (median of 10)", runner: ms(med), bound: ms(serial),
			ratio: dratio(med, serial), target: "≤ 1.10×", met: yesNo(float64(med) <= 1.10*float64(serial))})
		bs := r.boundSteps
		for _, s := range []struct {
			name       string
			runner     durations
			bound      time.Duration
			boundWhat  string
			runnerWhat string
		}{
			{"write → sandbox created", r.startSteps[stepReact], bs[stepCreateSB].median(), "create call", "write → create event"},
			{"sandbox created → started", r.startSteps[stepStartSB], bs[stepStartSB].median(), "start call", "create → start event"},
			{"sandbox started → app created", r.startSteps[stepNet], bs[stepNet].median() + bs[stepCreateApp].median(), "inspect + CNI ADD + create call", "start → create event"},
			{"app created → started", r.startSteps[stepStartApp], bs[stepStartApp].median(), "start call", "create → start event"},
		} {
			add(row{measure: fmt.Sprintf("  ↳ %s (runner: %s; bound: %s), median", s.name, s.runnerWhat, s.boundWhat),
				runner: ms(s.runner.median()), bound: ms(s.bound), ratio: dratio(s.runner.median(), s.bound)})
		}
		add(row{measure: "  ↳ the very first pod (cold: pause image check, bridge creation)", runner: ms(r.firstPod), bound: ms(serial), ratio: dratio(r.firstPod, serial)})
		add(row{measure: "  ↳ runner's Docker requests per pod, write to 300 ms after its app started (median); bound: its calls", runner: fmt.Sprint(medianInt(r.singleReqs)), bound: "5"})
		add(row{measure: "  ↳ those requests by kind, for the last single pod", runner: dash(requestSummary(r.singleLast))})
	}
	if r.batch != 0 && len(r.boundParallel) > 0 {
		bp := r.boundParallel[0]
		add(row{measure: fmt.Sprintf("**Start** %d pods written at once → all Running", r.batchN), runner: ms(r.batch), bound: ms(bp),
			ratio: dratio(r.batch, bp), target: "≤ 1.05×", met: yesNo(float64(r.batch) <= 1.05*float64(bp))})
		add(row{measure: "  ↳ runner's Docker requests during it, per pod; bound: its calls", runner: fmt.Sprintf("%.1f", float64(r.batchReqs)/float64(r.batchN)), bound: "5"})
	}
	if len(r.reactCall) > 0 {
		serial := r.boundSerial.median()
		p50, p99 := r.reactCall.median(), r.reactCall.quantile(0.99)
		add(row{measure: fmt.Sprintf("**Reaction** write → runner's first Docker call for the pod (seen by the proxy), p50 of %d", len(r.reactCall)),
			runner: ms(p50), bound: ms(serial), ratio: dratio(p50, serial) + " of a pod start"})
		add(row{measure: fmt.Sprintf("**Reaction** same, p99 (the largest of %d)", len(r.reactCall)), runner: ms(p99), bound: ms(serial),
			ratio: dratio(p99, serial) + " of a pod start", target: "≤ 50 ms", met: yesNo(p99 <= 50*time.Millisecond)})
		add(row{measure: "  ↳ write → sandbox create event (includes the create call), p50 / p99", runner: ms(r.reactEvent.median()) + " / " + ms(r.reactEvent.quantile(0.99))})
	}
	if len(r.killStart) > 0 {
		startCall := r.boundKillStart.median()
		med, worst := r.killStart.median()-startCall, r.killStart.max()-startCall
		add(row{measure: fmt.Sprintf("**Reaction** app killed from outside → replacement started (die → start event) minus the bound's start call (timed in turn with the kills), median of %d", len(r.killStart)),
			runner: ms(med), bound: ms(startCall), ratio: dratio(r.killStart.median(), startCall) + " (die → start ÷ start call)", target: "≤ 150 ms", met: yesNo(med <= 150*time.Millisecond)})
		add(row{measure: "  ↳ same, the slowest", runner: ms(worst), target: "≤ 150 ms", met: yesNo(worst <= 150*time.Millisecond)})
		add(row{measure: "  ↳ die → start event of the replacement, median; bound: a minimal restarter that creates and starts one on the die event",
			runner: ms(r.killStart.median()), bound: ms(r.boundKill.median()), ratio: dratio(r.killStart.median(), r.boundKill.median())})
		add(row{measure: "  ↳ die → runner's create request of the replacement (seen by the proxy), median", runner: ms(r.killCall.median())})
	}
	if r.steadyWindow != 0 {
		perMin := float64(len(r.steadyReqs)) / r.steadyWindow.Minutes()
		lists, inspects, other := classify(r.steadyReqs)
		containers := 2 * r.steadyPods
		polling := other > 0 || inspects > lists*containers
		add(row{measure: fmt.Sprintf("**Steady** %d pods, %v, nothing changing (relist every 1m included): runner CPU, %% of one core", r.steadyPods, r.steadyWindow.Round(time.Second)),
			runner: fmt.Sprintf("%.2f %%", r.steadyCPU), target: "≤ 1 %", met: yesNo(r.steadyCPU <= 1)})
		add(row{measure: "**Steady** runner RSS (VmRSS at the end; peak VmHWM over its life)",
			runner: fmt.Sprintf("%.1f MiB (peak %.1f MiB)", float64(r.steadyRSS)/1024, float64(r.steadyHWM)/1024), target: "≤ 40 MiB", met: yesNo(r.steadyRSS <= 40*1024)})
		add(row{measure: fmt.Sprintf("**Steady** Docker API requests per minute (in the window: %d lists of containers or images, %d inspects, %d other)", lists, inspects, other),
			runner: fmt.Sprintf("%.1f /min", perMin), target: "no per-pod polling", met: yesNo(!polling)})
		add(row{measure: "  ↳ requests by kind", runner: dash(requestSummary(r.steadyReqs))})
		add(row{measure: "  ↳ Docker events of runner's containers in the window", runner: fmt.Sprint(r.steadyEvents), target: "0", met: yesNo(r.steadyEvents == 0)})
	}
	if r.restartMeasured {
		add(row{measure: fmt.Sprintf("**Restart** runner SIGKILLed and started again with %d pods: exec → \"adopted containers\" (%s); bound: list + inspect them", r.steadyPods, r.restartCount),
			runner: ms(r.restartAdopt), bound: ms(r.boundAdopt), ratio: dratio(r.restartAdopt, r.boundAdopt), target: "≤ 1 s", met: yesNo(r.restartAdopt <= time.Second)})
		add(row{measure: fmt.Sprintf("**Restart** containers created / started in the %v after", r.restartQuiet),
			runner: fmt.Sprintf("%d / %d", r.restartCreated, r.restartStarted), target: "0", met: yesNo(r.restartCreated == 0 && r.restartStarted == 0)})
		add(row{measure: "  ↳ requests of the new runner in that time", runner: dash(requestSummary(r.restartReqs))})
	}
	if r.teardownOK && len(r.boundTeardown) > 0 {
		bt := r.boundTeardown[len(r.boundTeardown)-1]
		add(row{measure: fmt.Sprintf("**Teardown** %d manifests deleted at once → all %d containers destroyed", batchPods, r.teardownN),
			runner: ms(r.teardown), bound: ms(bt), ratio: dratio(r.teardown, bt)})
	}
	rows = append(rows, gcRows(&r.gc)...)
	return rows
}

// joinMs renders samples in order: "12.0 ms; 13.1 ms".
func joinMs(d durations) string {
	parts := make([]string, 0, len(d))
	for _, x := range d {
		parts = append(parts, ms(x))
	}
	return strings.Join(parts, "; ")
}

func medianInt(v []int) int {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// classify counts lists (of containers or images), container inspects and
// everything else but the event stream.
func classify(reqs []request) (lists, inspects, other int) {
	for _, r := range reqs {
		switch r.key {
		case "GET /containers/json", "GET /images/json":
			// The node's lists (the relist, garbage collection): their
			// number does not grow with the pods.
			lists++
		case "GET /containers/{id}/json":
			inspects++
		case "GET /events":
		default:
			other++
		}
	}
	return lists, inspects, other
}

// nsString renders nanoseconds in the largest fitting unit.
func nsString(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

// goRows are the Go benchmarks: ns/op, and for the sized ones how the cost
// per item grows against the smallest size (1.00× is linear).
func goRows(benches []goBench) []row {
	byName := map[string]goBench{}
	for _, b := range benches {
		byName[b.name] = b
	}
	var rows []row
	sized := func(title, prefix, unit string, sizes []int, target func(n int, ns float64) (string, string)) {
		base := 0.0
		for _, n := range sizes {
			b, ok := byName[fmt.Sprintf("%s=%d", prefix, n)]
			if !ok {
				continue
			}
			per := b.nsPerOp / float64(n)
			r := row{measure: fmt.Sprintf("**Go** %s, %d %s", title, n, unit), runner: nsString(b.nsPerOp) + fmt.Sprintf(" (%s/%s)", nsString(per), strings.TrimSuffix(unit, "s"))}
			if base == 0 {
				base = per
			} else {
				r.ratio = ratio(per, base) + " per item vs " + fmt.Sprint(sizes[0])
			}
			if target != nil {
				r.target, r.met = target(n, b.nsPerOp)
			}
			rows = append(rows, r)
		}
	}
	planTarget := func(n int, ns float64) (string, string) {
		if n != 1000 {
			return "", ""
		}
		return "≤ 5 ms, linear", yesNo(ns <= 5e6)
	}
	sized("plan(), every pod running (empty plans)", "BenchmarkPlan/steady/pods", "pods", []int{10, 100, 1000}, planTarget)
	sized("plan(), new pods (create sandbox + start)", "BenchmarkPlan/new/pods", "pods", []int{10, 100, 1000}, planTarget)
	sized("loop planning pass, every pod dirty: view (hashes) + plan + status", "BenchmarkDispatch/pods", "pods", []int{10, 100, 1000}, nil)
	sized("fold an unchanged relist into the observed state", "BenchmarkRelist/pods", "pods", []int{10, 100, 1000}, nil)
	sized("loop diff of an unchanged snapshot", "BenchmarkApplySnapshot/pods", "pods", []int{10, 100, 1000}, nil)
	if b, ok := byName["BenchmarkLoadEtcd"]; ok {
		rows = append(rows, row{measure: "**Go** manifest.Load (parse + defaults + identity + validate), kubeadm etcd-like file", runner: nsString(b.nsPerOp)})
	}
	if b, ok := byName["BenchmarkValidateEtcd"]; ok {
		rows = append(rows, row{measure: "**Go** manifest.Validate alone, the same pod", runner: nsString(b.nsPerOp)})
	}
	var sum, worst float64
	var n int
	var worstName string
	for _, b := range benches {
		if name, ok := strings.CutPrefix(b.name, "BenchmarkLoadConformance/"); ok {
			sum += b.nsPerOp
			n++
			if b.nsPerOp > worst {
				worst, worstName = b.nsPerOp, name
			}
		}
	}
	if n > 0 {
		rows = append(rows, row{measure: fmt.Sprintf("**Go** manifest.Load per file of ../shared/conformance (mean of %d files; slowest: %s)", n, worstName),
			runner: nsString(sum/float64(n)) + " (slowest " + nsString(worst) + ")"})
	}
	sized("source: sameSnapshot of two equal snapshots", "BenchmarkSameSnapshot/pods", "pods", []int{10, 100, 1000}, nil)
	sized("source: keepUnchanged of a re-read v1 List (parse excluded)", "BenchmarkKeepUnchanged/pods", "pods", []int{1, 10, 100}, nil)
	sized("source: rescan of unchanged files (stat only)", "BenchmarkRescan/files", "files", []int{10, 100, 1000}, nil)
	for _, d := range []string{"default", "10ms"} {
		if b, ok := byName["BenchmarkWriteToSnapshot/debounce="+d]; ok {
			rows = append(rows, row{measure: "**Go** source: manifest written → snapshot sent (fsnotify on a temp dir), debounce " + d + " (the default is 100 ms)",
				runner: nsString(b.nsPerOp)})
		}
	}
	if b, ok := byName["BenchmarkURLChangeToSnapshot"]; ok {
		rows = append(rows, row{measure: "**Go** source: URL changed → snapshot sent, --http-check-frequency 1s, p50 / p99 (the source's own share: request → snapshot, p50)",
			runner: fmt.Sprintf("%.0f ms / %.0f ms (%s)", b.metrics["p50-ms"], b.metrics["p99-ms"], nsString(b.metrics["fetch-to-snapshot-p50-us"]*1e3))})
	}
	if b, ok := byName["BenchmarkURLPollUnchanged"]; ok {
		rows = append(rows, row{measure: "**Go** source: CPU of polling an unchanged URL (304) every second (server in another process)",
			runner: fmt.Sprintf("%s CPU per poll = %.4f%% of a core", nsString(b.metrics["cpu-ns/poll"]), b.metrics["cpu-%-at-1s"])})
	}
	return append(rows, gcGoRows(byName)...)
}

// table renders rows as one markdown table.
func table(rows []row) string {
	var b strings.Builder
	b.WriteString("| Measure | runner | bound | ratio | target | met |\n")
	b.WriteString("|---|---:|---:|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.measure, dash(r.runner), dash(r.bound), dash(r.ratio), dash(r.target), dash(r.met))
	}
	return b.String()
}
