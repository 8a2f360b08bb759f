package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"
)

// measureRunner runs every phase in order on one runner (restarted once),
// with the bound's pods interleaved so that both see the same load: single
// pods (bound, runner, bound, ...), the bound's batch and teardown then
// runner's batch, kills, steady state, restart, teardown. It then removes
// the remaining pods and stops runner.
func measureRunner(ctx context.Context, w *world, b *bound, res *results, steady time.Duration) error {
	if err := w.startRunner(); err != nil {
		return err
	}
	if _, err := w.proc.waitLog(ctx, "adopted containers", 30*time.Second); err != nil {
		return err
	}
	// The first snapshot (empty) arrives after the first scan; give the
	// source its start-up before timing writes.
	time.Sleep(500 * time.Millisecond)

	singles, boundSingles, err := measureSingles(ctx, w, b, res)
	if err != nil {
		return err
	}
	if err := measureKills(ctx, w, b, res, singles[1:1+killedPods], boundSingles[1:1+killedPods]); err != nil {
		return err
	}
	if err := b.cleanup(ctx); err != nil {
		return err
	}
	res.boundMeasured = true
	bpods, err := boundBatch(ctx, b, res)
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	if err := boundTeardown(ctx, b, bpods, res); err != nil {
		return err
	}
	batch, err := measureBatch(ctx, w, res)
	if err != nil {
		return err
	}
	// The cold pod goes, so that 50 pods are left.
	if err := w.removePod(singles[0]); err != nil {
		return err
	}
	singles = singles[1:]
	if err := w.rec.wait(ctx, 60*time.Second, "the cold pod removed", func(evs []event) bool {
		n := 0
		for _, e := range evs {
			if e.action == events.ActionDestroy && e.attrs[labelPodName] == podName("s00") {
				n++
			}
		}
		return n >= 2
	}); err != nil {
		return err
	}
	if err := measureSteady(ctx, w, res, steady, len(singles)+len(batch)); err != nil {
		return err
	}
	if err := measureRestart(ctx, w, res); err != nil {
		return err
	}
	// The bound's teardown again, right before runner's, under the same load.
	if bpods, err = boundBatch(ctx, b, res); err != nil {
		return err
	}
	time.Sleep(time.Second)
	if err := boundTeardown(ctx, b, bpods, res); err != nil {
		return err
	}
	if err := measureTeardown(ctx, w, res, batch); err != nil {
		return err
	}
	res.runnerMeasured = true
	logf("runner: removing the remaining %d pods", len(singles))
	for _, name := range singles {
		if err := w.removePod(name); err != nil {
			return err
		}
	}
	if err := w.awaitNoContainers(ctx, 60*time.Second); err != nil {
		return err
	}
	return w.proc.stop(30 * time.Second)
}

// measureSingles alternates a pod of the bound and a pod of runner, one at
// a time: a cold pair first, then reactionPods pairs; the first singlePods
// of those are the start figures, all of them runner's reaction figure.
// runner's pods stay; the bound's stay until the caller cleans them up.
func measureSingles(ctx context.Context, w *world, b *bound, res *results) ([]string, []*boundPod, error) {
	logf("single pods, one at a time: 1 cold and %d warm, the bound's and runner's in turn", reactionPods)
	res.startSteps = map[string]durations{}
	var (
		names  []string
		bounds []*boundPod
	)
	for i := 0; i <= reactionPods; i++ {
		// runner's pod first in the cold pair (it brings the pause image),
		// the bound's first in every other.
		startBound := func() error {
			bp, err := boundSerialPod(ctx, b, i, res)
			bounds = append(bounds, bp)
			time.Sleep(200 * time.Millisecond) // the engine finishes its side (events, logs)
			return err
		}
		if i > 0 {
			if err := startBound(); err != nil {
				return names, bounds, err
			}
		}
		name := fmt.Sprintf("s%02d", i)
		names = append(names, name)
		pod := podName(name)
		written, err := w.writePod(name, quietScript)
		if err != nil {
			return names, bounds, err
		}
		var tl timeline
		err = w.rec.wait(ctx, 30*time.Second, "pod "+pod+" running", func(evs []event) bool {
			var ok bool
			tl, ok = timelineOf(evs, pod)
			return ok
		})
		if err != nil {
			return names, bounds, err
		}
		if i == 0 {
			sb, _ := find(w.rec.snapshot(), pod, sandboxName, "0", events.ActionCreate)
			if b.pauseImage = sb.attrs["image"]; b.pauseImage == "" {
				return names, bounds, fmt.Errorf("no image in the create event of %s's sandbox", pod)
			}
			logf("pause image of runner's sandboxes: %s", b.pauseImage)
			if err := startBound(); err != nil {
				return names, bounds, err
			}
		}
		total := tl.appStart.Sub(written)
		if i == 0 {
			res.firstPod = total
		} else {
			if i <= singlePods {
				res.start = append(res.start, total)
				for step, d := range map[string]time.Duration{
					stepReact: tl.sbCreate.Sub(written), stepStartSB: tl.sbStart.Sub(tl.sbCreate),
					stepNet: tl.appCreate.Sub(tl.sbStart), stepStartApp: tl.appStart.Sub(tl.appCreate),
				} {
					res.startSteps[step] = append(res.startSteps[step], d)
				}
			}
			res.reactEvent = append(res.reactEvent, tl.sbCreate.Sub(written))
			if call, ok := w.proxy.firstAfter(written, pod); ok {
				res.reactCall = append(res.reactCall, call.at.Sub(written))
			}
		}
		time.Sleep(300 * time.Millisecond) // runner's worker finishes its report
		if i > 0 {
			res.singleLast = w.proxy.between(written, tl.appStart.Add(300*time.Millisecond))
			res.singleReqs = append(res.singleReqs, len(res.singleLast))
		}
	}
	return names, bounds, nil
}

// measureBatch writes batchPods manifests at once and waits until all run.
func measureBatch(ctx context.Context, w *world, res *results) ([]string, error) {
	logf("runner: %d pods written at once", batchPods)
	names := make([]string, batchPods)
	for i := range names {
		names[i] = fmt.Sprintf("b%02d", i)
	}
	var first time.Time
	for i, name := range names {
		t, err := w.writePod(name, busyScript)
		if err != nil {
			return names, err
		}
		if i == 0 {
			first = t
		}
	}
	var last time.Time
	err := w.rec.wait(ctx, 120*time.Second, fmt.Sprintf("%d pods running", batchPods), func(evs []event) bool {
		last = time.Time{}
		for _, name := range names {
			tl, ok := timelineOf(evs, podName(name))
			if !ok {
				return false
			}
			if tl.appStart.After(last) {
				last = tl.appStart
			}
		}
		return true
	})
	if err != nil {
		return names, err
	}
	res.batch = last.Sub(first)
	res.batchN = len(names)
	res.batchReqs = len(w.proxy.between(first, last))
	time.Sleep(time.Second)
	return names, nil
}

// measureKills kills the app container of each pod from outside and times
// runner's replacement from the die event; in turn with each, the bound
// does the same to one of its pods.
func measureKills(ctx context.Context, w *world, b *bound, res *results, names []string, bounds []*boundPod) error {
	logf("killing the app container of %d pods, the bound's and runner's in turn", len(names))
	for i, name := range names {
		d, call, err := b.replaceApp(ctx, bounds[i], w.boundRec, quietScript)
		if err != nil {
			return err
		}
		res.boundKill = append(res.boundKill, d)
		res.boundKillStart = append(res.boundKillStart, call)
		time.Sleep(300 * time.Millisecond)
		pod := podName(name)
		created, ok := find(w.rec.snapshot(), pod, "app", "0", events.ActionCreate)
		if !ok {
			return fmt.Errorf("no app container of %s seen", pod)
		}
		if err := w.cli.ContainerKill(ctx, created.id, "KILL"); err != nil {
			return fmt.Errorf("kill app of %s: %w", pod, err)
		}
		var died, started event
		err = w.rec.wait(ctx, 30*time.Second, "replacement of app in "+pod, func(evs []event) bool {
			var ok1, ok2 bool
			for _, e := range evs {
				if e.id == created.id && e.action == events.ActionDie {
					died, ok1 = e, true
				}
			}
			started, ok2 = find(evs, pod, "app", "1", events.ActionStart)
			return ok1 && ok2
		})
		if err != nil {
			return err
		}
		res.killStart = append(res.killStart, started.at.Sub(died.at))
		if call, ok := w.proxy.firstAfter(died.at, "name=k8s_app_"+pod+"_"); ok {
			res.killCall = append(res.killCall, call.at.Sub(died.at))
		}
		time.Sleep(500 * time.Millisecond)
	}
	return nil
}

// measureSteady watches runner with every pod running and nothing changing
// for window: CPU, memory, API requests and events.
func measureSteady(ctx context.Context, w *world, res *results, window time.Duration, pods int) error {
	time.Sleep(2 * time.Second) // the kills' leftovers are removed
	// Place the window so that it holds one whole relist: runner relists
	// every minute from its last list, which the proxy saw.
	if last, ok := w.proxy.last("GET /containers/json"); ok && window >= time.Minute {
		next := last.at.Add(time.Minute)
		for next.Before(time.Now()) {
			next = next.Add(time.Minute)
		}
		if wait := time.Until(next.Add(-window + 10*time.Second)); wait > 0 {
			logf("runner: waiting %v so that the window holds one whole relist", wait.Round(time.Second))
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	logf("runner: steady state with %d pods for %v", pods, window)
	pid := w.proc.pid()
	evsBefore := len(w.rec.snapshot())
	t0 := time.Now()
	c0, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := t0.Add(window)
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if w.proc.exited() {
			return fmt.Errorf("runner exited during the steady state:\n%s", w.proc.tail(20))
		}
	}
	t1 := time.Now()
	c1, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	res.steadyWindow = t1.Sub(t0)
	res.steadyPods = pods
	res.steadyCPU = float64(c1-c0) / clockTicks / res.steadyWindow.Seconds() * 100
	if res.steadyRSS, err = statusKiB(pid, "VmRSS"); err != nil {
		return err
	}
	if res.steadyHWM, err = statusKiB(pid, "VmHWM"); err != nil {
		return err
	}
	res.steadyReqs = w.proxy.between(t0, t1)
	res.steadyEvents = len(w.rec.snapshot()) - evsBefore
	return nil
}

var adoptedCount = regexp.MustCompile(`count=(\d+) pods=(\d+)`)

// measureRestart kills runner with SIGKILL, starts it again and times the
// adoption; then it watches a quiet period for containers created or
// started.
func measureRestart(ctx context.Context, w *world, res *results) error {
	logf("runner: SIGKILL and restart")
	w.proc.kill()
	before := len(w.rec.snapshot())
	t0 := time.Now()
	if err := w.startRunner(); err != nil {
		return err
	}
	line, err := w.proc.waitLog(ctx, "adopted containers", 30*time.Second)
	if err != nil {
		return err
	}
	res.restartAdopt = line.at.Sub(t0)
	if m := adoptedCount.FindStringSubmatch(line.text); m != nil {
		res.restartCount = m[1] + " containers, " + m[2] + " pods"
	}
	res.restartQuiet = 3 * time.Second
	time.Sleep(res.restartQuiet)
	for _, e := range w.rec.snapshot()[before:] {
		switch e.action {
		case events.ActionCreate:
			res.restartCreated++
		case events.ActionStart:
			res.restartStarted++
		}
	}
	res.restartReqs = w.proxy.between(t0, time.Now())
	res.restartMeasured = true

	// The bound of adoption: list and inspect the same containers, directly.
	t := time.Now()
	ids, err := w.containers(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := w.cli.ContainerInspect(ctx, id); err != nil {
			return err
		}
	}
	res.boundAdopt, res.boundAdoptN = time.Since(t), len(ids)
	return nil
}

// measureTeardown deletes the batch's manifests at once and times until
// every container of those pods is destroyed.
func measureTeardown(ctx context.Context, w *world, res *results, names []string) error {
	logf("runner: %d manifests deleted at once", len(names))
	pods := map[string]bool{}
	for _, n := range names {
		pods[podName(n)] = true
	}
	ids, err := w.containers(ctx)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, id := range ids {
		info, err := w.cli.ContainerInspect(ctx, id)
		if err != nil {
			return err
		}
		if pods[info.Config.Labels[labelPodName]] {
			want[id] = true
		}
	}
	t0 := time.Now()
	for _, n := range names {
		if err := w.removePod(n); err != nil {
			return err
		}
	}
	var last time.Time
	err = w.rec.wait(ctx, 120*time.Second, fmt.Sprintf("%d containers destroyed", len(want)), func(evs []event) bool {
		gone := 0
		for _, e := range evs {
			if e.action == events.ActionDestroy && want[e.id] && e.at.After(t0) {
				gone++
				if e.at.After(last) {
					last = e.at
				}
			}
		}
		return gone == len(want)
	})
	if err != nil {
		return err
	}
	res.teardown, res.teardownN, res.teardownOK = last.Sub(t0), len(want), true
	return nil
}

// requestSummary counts requests by kind, most frequent first:
// "GET /containers/{id}/json ×100, GET /containers/json ×1".
func requestSummary(reqs []request) string {
	counts := map[string]int{}
	var order []string
	for _, r := range reqs {
		if counts[r.key] == 0 {
			order = append(order, r.key)
		}
		counts[r.key]++
	}
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && counts[order[j]] > counts[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	parts := make([]string, 0, len(order))
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}
