package probe

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	v1 "k8s.io/api/core/v1"
)

// Tests of the workers' state machine, in synctest bubbles: virtual time,
// a scripted prober, no real sleep.

// blockUntilStopped makes the scripted prober hold an attempt until its
// context ends.
const blockUntilStopped Outcome = -1

// scriptedProber plays, for each container and probe, a list of outcomes
// (the last one repeats; none: Success) and records when it was called.
type scriptedProber struct {
	t0 time.Time

	mu      sync.Mutex
	scripts map[string][]Outcome // by "<container ID>/<kind>"
	calls   []call
	stopped int // attempts that saw their context end
}

// call is one attempt: whose, and when after t0.
type call struct {
	key string
	at  time.Duration
}

func newScriptedProber() *scriptedProber {
	return &scriptedProber{t0: time.Now(), scripts: map[string][]Outcome{}}
}

func (p *scriptedProber) script(key string, outcomes ...Outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scripts[key] = outcomes
}

// Probe is called by the workers; the probe's exec command names its kind.
func (p *scriptedProber) Probe(ctx context.Context, t Target, ph *v1.ProbeHandler, _ time.Duration) Result {
	key := t.ContainerID + "/" + ph.Exec.Command[0]
	p.mu.Lock()
	p.calls = append(p.calls, call{key, time.Since(p.t0)})
	outcome := Success
	if script := p.scripts[key]; len(script) > 0 {
		outcome = script[0]
		if len(script) > 1 {
			p.scripts[key] = script[1:]
		}
	}
	p.mu.Unlock()
	switch outcome {
	case blockUntilStopped:
		<-ctx.Done()
		p.mu.Lock()
		p.stopped++
		p.mu.Unlock()
		return Result{Outcome: Failure, Output: "answered after the stop"}
	case Unknown:
		return unknown(errors.New("cannot run"))
	default:
		return Result{Outcome: outcome, Output: key + " " + outcome.String()}
	}
}

// callsSoFar are the attempts as "<key>@<time>", by time then key (workers
// woken at the same instant run in any order).
func (p *scriptedProber) callsSoFar() []string {
	p.mu.Lock()
	calls := slices.Clone(p.calls)
	p.mu.Unlock()
	slices.SortStableFunc(calls, func(a, b call) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return strings.Compare(a.key, b.key)
	})
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = fmt.Sprintf("%s@%v", c.key, c.at)
	}
	return out
}

// resetClock makes now the t0 of calls and events.
func (f *fixture) resetClock() {
	now := time.Now()
	f.prober.mu.Lock()
	f.prober.t0 = now
	f.prober.mu.Unlock()
	f.log.mu.Lock()
	f.log.t0 = now
	f.log.mu.Unlock()
}

// eventLog records the events reported, with their virtual time.
type eventLog struct {
	t0     time.Time
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) report(_ context.Context, ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

// lines are the events as "<container>/<kind>@<time> <attempt> -> <status>[
// changed]", by time (in the order reported within an instant).
func (l *eventLog) lines() []string {
	l.mu.Lock()
	events := slices.Clone(l.events)
	l.mu.Unlock()
	slices.SortStableFunc(events, func(a, b Event) int { return a.Time.Compare(b.Time) })
	var out []string
	for _, ev := range events {
		line := fmt.Sprintf("%s/%s@%v %v -> %v", ev.ContainerID, strings.ToLower(ev.Kind.String()), ev.Time.Sub(l.t0), ev.Attempt.Outcome, ev.Status)
		if ev.Changed {
			line += " changed"
		}
		out = append(out, line)
	}
	return out
}

// fixture is a Manager with a scripted prober, made in a bubble; New is
// called at t0 unless the test waits first.
type fixture struct {
	t      *testing.T
	prober *scriptedProber
	log    *eventLog
	m      *Manager
}

func newFixture(t *testing.T) *fixture {
	p := newScriptedProber()
	l := &eventLog{t0: p.t0}
	m := New(Config{Prober: p, Report: l.report})
	t.Cleanup(m.StopAll)
	return &fixture{t: t, prober: p, log: l, m: m}
}

// after lets virtual time pass and the workers settle.
func (f *fixture) after(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

func (f *fixture) wantCalls(want ...string) {
	f.t.Helper()
	if got := f.prober.callsSoFar(); !slices.Equal(got, want) {
		f.t.Errorf("probe calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func (f *fixture) wantEvents(want ...string) {
	f.t.Helper()
	if got := f.log.lines(); !slices.Equal(got, want) {
		f.t.Errorf("events:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// probeSpec is a probe whose exec command names its kind, for the scripted
// prober.
func probeSpec(kind string, period, initialDelay, success, failure int32) *v1.Probe {
	return &v1.Probe{
		ProbeHandler:        v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{kind}}},
		PeriodSeconds:       period,
		InitialDelaySeconds: initialDelay,
		SuccessThreshold:    success,
		FailureThreshold:    failure,
	}
}

// oldManager lets a minute pass, so that New's jitter window is past, and
// restarts the clock of calls and events.
func (f *fixture) oldManager() {
	f.after(time.Minute)
	f.resetClock()
}

func TestLivenessFailsAfterThresholdAndStopsProbing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.oldManager()
		f.prober.script("c/liveness", Success, Failure, Success, Failure, Failure, Failure)
		f.m.Start(Container{Target: Target{ContainerID: "c"}, StartedAt: time.Now(), Liveness: probeSpec("liveness", 10, 0, 1, 3)})
		f.after(2 * time.Minute)
		f.wantCalls("c/liveness@0s", "c/liveness@10s", "c/liveness@20s", "c/liveness@30s", "c/liveness@40s", "c/liveness@50s")
		f.wantEvents(
			"c/liveness@10s failure -> success",
			"c/liveness@30s failure -> success",
			"c/liveness@40s failure -> success",
			"c/liveness@50s failure -> failure changed",
		)
	})
}

func TestReadinessStartsNotReadyAndFollowsThresholds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.oldManager()
		f.prober.script("c/readiness", Success, Success, Failure, Failure, Success, Success)
		f.m.Start(Container{Target: Target{ContainerID: "c"}, Readiness: probeSpec("readiness", 5, 0, 2, 2)})
		f.after(29 * time.Second)
		f.wantEvents(
			"c/readiness@5s success -> success changed",
			"c/readiness@10s failure -> success",
			"c/readiness@15s failure -> failure changed",
			"c/readiness@25s success -> success changed",
		)
		// Readiness goes on after a failure.
		if n := len(f.prober.callsSoFar()); n != 6 {
			t.Errorf("%d readiness attempts in 29s with a 5s period, want 6", n)
		}
	})
}

func TestStartupGatesLivenessAndReadiness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.oldManager()
		f.prober.script("c/startup", Failure, Failure, Success)
		f.m.Start(Container{
			Target:    Target{ContainerID: "c"},
			StartedAt: time.Now(),
			Startup:   probeSpec("startup", 5, 0, 1, 10),
			Readiness: probeSpec("readiness", 10, 0, 1, 3),
			Liveness:  probeSpec("liveness", 10, 30, 1, 3),
		})
		f.after(45 * time.Second)
		f.wantCalls(
			"c/startup@0s", "c/startup@5s",
			// Readiness at once when the container has started; liveness
			// after its initial delay, from the container's start.
			"c/readiness@10s", "c/startup@10s", "c/readiness@20s", "c/liveness@30s", "c/readiness@30s", "c/liveness@40s", "c/readiness@40s",
		)
		f.wantEvents(
			"c/startup@0s failure -> unknown",
			"c/startup@5s failure -> unknown",
			"c/startup@10s success -> success changed",
			"c/readiness@10s success -> success changed",
		)
	})
}

func TestStartupFailurePastThreshold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.oldManager()
		f.prober.script("c/startup", Failure)
		grace := int64(7)
		startup := probeSpec("startup", 1, 0, 1, 3)
		startup.TerminationGracePeriodSeconds = &grace
		f.m.Start(Container{
			Target:    Target{ContainerID: "c"},
			Startup:   startup,
			Readiness: probeSpec("readiness", 1, 0, 1, 3),
			Liveness:  probeSpec("liveness", 1, 0, 1, 3),
		})
		f.after(time.Minute)
		f.wantCalls("c/startup@0s", "c/startup@1s", "c/startup@2s")
		f.wantEvents(
			"c/startup@0s failure -> unknown",
			"c/startup@1s failure -> unknown",
			"c/startup@2s failure -> failure changed",
		)
		f.log.mu.Lock()
		last := f.log.events[len(f.log.events)-1]
		f.log.mu.Unlock()
		if last.TerminationGracePeriodSeconds == nil || *last.TerminationGracePeriodSeconds != 7 {
			t.Errorf("startup failure carries grace %v, want 7", last.TerminationGracePeriodSeconds)
		}
		if want := "Startup probe failed: c/startup failure"; last.Message() != want || last.Reason() != "Unhealthy" {
			t.Errorf("Reason(), Message() = %q, %q; want Unhealthy, %q", last.Reason(), last.Message(), want)
		}
	})
}

func TestInitialDelayCountsFromContainerStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.oldManager()
		now := time.Now()
		f.m.Start(Container{Target: Target{ContainerID: "young"}, StartedAt: now.Add(-3 * time.Second), Liveness: probeSpec("liveness", 10, 5, 1, 3)})
		f.m.Start(Container{Target: Target{ContainerID: "adopted"}, StartedAt: now.Add(-time.Hour), Liveness: probeSpec("liveness", 10, 5, 1, 3)})
		f.after(15 * time.Second)
		f.wantCalls("adopted/liveness@0s", "young/liveness@2s", "adopted/liveness@10s", "young/liveness@12s")
	})
}

func TestJitterWithinFirstPeriodOfManager(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		const containers = 40
		for i := range containers {
			f.m.Start(Container{Target: Target{ContainerID: fmt.Sprint(i)}, Liveness: probeSpec("liveness", 10, 0, 1, 3)})
		}
		f.after(9999 * time.Millisecond)
		firsts := map[string]bool{}
		for _, call := range f.prober.callsSoFar() {
			_, at, _ := strings.Cut(call, "@")
			firsts[at] = true
		}
		if n := len(f.prober.callsSoFar()); n != containers {
			t.Fatalf("%d first probes within the period, want one per container (%d)", n, containers)
		}
		if len(firsts) < 2 {
			t.Errorf("all %d containers probed first at the same time %v: no jitter", containers, firsts)
		}

		// A container started once the first period has passed is probed
		// at once.
		f.after(time.Second)
		f.resetClock()
		f.m.Start(Container{Target: Target{ContainerID: "late"}, Liveness: probeSpec("liveness", 10, 0, 1, 3)})
		synctest.Wait()
		if calls := f.prober.callsSoFar(); !slices.Contains(calls, "late/liveness@0s") {
			t.Errorf("late container not probed at once: %v", calls[containers:])
		}
	})
}

func TestJitterIsTheFirstDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		var periods []time.Duration
		f.m.jitter = func(period time.Duration) time.Duration {
			periods = append(periods, period)
			return period / 4
		}
		f.m.Start(Container{Target: Target{ContainerID: "c"}, Readiness: probeSpec("readiness", 8, 0, 1, 3)})
		f.m.Start(Container{Target: Target{ContainerID: "d"}, Readiness: probeSpec("readiness", 20, 7, 1, 3)})
		f.after(9 * time.Second)
		// c: jitter 2s; d: its initial delay (7s) is later than its jitter (5s).
		f.wantCalls("c/readiness@2s", "d/readiness@7s")
		if !slices.Equal(periods, []time.Duration{8 * time.Second, 20 * time.Second}) {
			t.Errorf("jitter asked for periods %v, want [8s 20s]", periods)
		}
	})
}

func TestUnknownAndWarningAttemptsAreReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.oldManager()
		f.prober.script("c/readiness", Unknown, Warning, Success)
		f.m.Start(Container{Target: Target{ContainerID: "c"}, Readiness: probeSpec("readiness", 1, 0, 1, 3)})
		f.after(2500 * time.Millisecond)
		f.wantEvents(
			"c/readiness@0s unknown -> failure",
			"c/readiness@1s warning -> success changed",
		)
		f.log.mu.Lock()
		msgs := []string{f.log.events[0].Reason(), f.log.events[0].Message(), f.log.events[1].Reason(), f.log.events[1].Message()}
		f.log.mu.Unlock()
		want := []string{"Unhealthy", "Readiness probe errored: cannot run", "ProbeWarning", "Readiness probe warning: c/readiness warning"}
		if !slices.Equal(msgs, want) {
			t.Errorf("messages %q, want %q", msgs, want)
		}
	})
}

func TestStopMidProbeReportsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.oldManager()
		f.prober.script("c/liveness", blockUntilStopped)
		f.m.Start(Container{Target: Target{ContainerID: "c"}, Liveness: probeSpec("liveness", 10, 0, 1, 1)})
		synctest.Wait() // the attempt is in flight
		f.m.Stop("c")
		f.after(time.Minute)
		f.wantCalls("c/liveness@0s")
		f.wantEvents()
		if f.prober.stopped != 1 {
			t.Errorf("%d attempts saw their context end, want 1", f.prober.stopped)
		}
		if ids := f.m.Containers(); len(ids) != 0 {
			t.Errorf("Containers() after Stop = %v, want none", ids)
		}
		if n := workerGoroutines(); n != 0 {
			t.Errorf("%d worker goroutines after Stop", n)
		}
	})
}

func TestStopLeavesNoGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.oldManager()
		f.prober.script("failing-startup/startup", Failure)
		f.prober.script("dead/liveness", Failure)
		all := func(id string) Container {
			return Container{
				Target:    Target{ContainerID: id},
				Startup:   probeSpec("startup", 3, 0, 1, 2),
				Readiness: probeSpec("readiness", 3, 0, 1, 3),
				Liveness:  probeSpec("liveness", 3, 100, 1, 1),
			}
		}
		// Workers in every state: gated, waiting out an initial delay,
		// between ticks, ended by a failure.
		f.m.Start(all("started"))
		f.m.Start(all("failing-startup"))
		f.m.Start(Container{Target: Target{ContainerID: "dead"}, Liveness: probeSpec("liveness", 3, 0, 1, 1)})
		f.m.Start(Container{Target: Target{ContainerID: "stopped"}, Readiness: probeSpec("readiness", 3, 0, 1, 1)})
		f.after(10 * time.Second)
		if n := workerGoroutines(); n != 5 {
			t.Errorf("%d worker goroutines before the stop, want 5 (started: readiness and liveness; failing-startup: gated readiness and liveness; stopped: readiness)", n)
		}
		f.m.Stop("stopped")
		f.m.Stop("stopped") // twice is no error
		if ids := f.m.Containers(); !slices.Equal(ids, []string{"dead", "failing-startup", "started"}) {
			t.Errorf("Containers() = %v", ids)
		}
		f.m.StopAll()
		if n := workerGoroutines(); n != 0 {
			t.Errorf("%d worker goroutines after StopAll", n)
		}
		if ids := f.m.Containers(); len(ids) != 0 {
			t.Errorf("Containers() after StopAll = %v, want none", ids)
		}
	})
}

func TestStartTwiceStartsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.oldManager()
		c := Container{Target: Target{ContainerID: "c"}, Liveness: probeSpec("liveness", 10, 0, 1, 3)}
		f.m.Start(c)
		f.m.Start(c)
		f.m.Start(Container{Target: Target{ContainerID: "none"}})
		f.after(5 * time.Second)
		f.wantCalls("c/liveness@0s")
		if ids := f.m.Containers(); !slices.Equal(ids, []string{"c"}) {
			t.Errorf("Containers() = %v, want [c] (a container without probes has no workers)", ids)
		}
	})
}

func TestReadinessGracePeriodIsNotCarried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.oldManager()
		grace := int64(3)
		readiness := probeSpec("readiness", 10, 0, 1, 3)
		readiness.TerminationGracePeriodSeconds = &grace
		liveness := probeSpec("liveness", 10, 0, 1, 1)
		liveness.TerminationGracePeriodSeconds = &grace
		f.prober.script("c/liveness", Failure)
		f.m.Start(Container{Target: Target{ContainerID: "c"}, Readiness: readiness, Liveness: liveness})
		f.after(time.Second)
		f.log.mu.Lock()
		defer f.log.mu.Unlock()
		for _, ev := range f.log.events {
			carried := ev.TerminationGracePeriodSeconds != nil && *ev.TerminationGracePeriodSeconds == grace
			if carried != (ev.Kind == Liveness) {
				t.Errorf("%v event carries grace %v", ev.Kind, ev.TerminationGracePeriodSeconds)
			}
		}
		if len(f.log.events) != 2 {
			t.Errorf("%d events, want 2 (readiness ready, liveness failed)", len(f.log.events))
		}
	})
}

// workerGoroutines counts the goroutines running a probe worker.
func workerGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "probe.(*worker).run(")
}
