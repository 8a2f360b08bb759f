package probe

import (
	"context"
	"log/slog"
	"time"

	v1 "k8s.io/api/core/v1"
)

// worker probes one container with one probe until its context ends. It
// runs on its own goroutine, owned by the Manager's group of the container.
type worker struct {
	kind      Kind
	spec      *v1.Probe
	target    Target
	startedAt time.Time // the container's start: the initial delay counts from it
	// notBefore is the end of the first delay's jitter (the time the
	// worker was made, when there is none).
	notBefore time.Time
	prober    Prober
	report    func(context.Context, Event)
	log       *slog.Logger
	// gate, for liveness and readiness, is closed once the container's
	// startup probe succeeded; nil when it has none.
	gate <-chan struct{}
	// started, for the startup probe, is closed when it succeeds.
	started chan<- struct{}
}

// run gates, waits for the first delay, then probes every period until
// ctx ends or the probe has nothing left to say: a liveness or startup
// failure (the loop kills the container; the kubelet probes no further
// until a new one) or a startup success.
func (w *worker) run(ctx context.Context) {
	if w.gate != nil {
		select {
		case <-w.gate:
		case <-ctx.Done():
			return
		}
	}
	first := w.startedAt.Add(seconds(w.spec.InitialDelaySeconds, 0))
	if w.notBefore.After(first) {
		first = w.notBefore
	}
	// scheduled is when the attempt about to run was due: the first delay's
	// end (or now, when that has passed), then the ticker's ticks.
	scheduled := first
	if now := time.Now(); now.After(first) {
		scheduled = now
	}
	if !sleepUntil(ctx, first) {
		return
	}
	period := seconds(w.spec.PeriodSeconds, defaultPeriodSeconds)
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	ticking := time.Now() // the ticker fires at ticking + k*period
	timeout := seconds(w.spec.TimeoutSeconds, defaultTimeoutSeconds)
	t := newTally(w.kind, w.spec.SuccessThreshold, w.spec.FailureThreshold)
	for {
		attempt := w.prober.Probe(ctx, w.target, &w.spec.ProbeHandler, timeout)
		if ctx.Err() != nil {
			return // stopped mid-probe: the container is gone, say nothing
		}
		changed := t.observe(attempt.Outcome)
		// latency: from when the attempt was due to its result (what the
		// benchmark's p99 reads).
		w.log.Debug("probe", "probe", w.kind.String(), "outcome", attempt.Outcome.String(), "status", t.status.String(),
			"latency", time.Since(scheduled))
		if changed || attempt.Outcome != Success {
			w.report(ctx, Event{
				ContainerID:                   w.target.ContainerID,
				Kind:                          w.kind,
				Time:                          time.Now(),
				Attempt:                       attempt,
				Status:                        t.status,
				Changed:                       changed,
				TerminationGracePeriodSeconds: w.gracePeriod(),
			})
		}
		switch {
		case w.kind == Startup && t.status == StatusSuccess:
			close(w.started)
			return
		case w.kind != Readiness && t.status == StatusFailure:
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		// The latest tick due: a tick missed during a long attempt is
		// dropped by the ticker, and the attempt it delivers late counts
		// from the tick it stands for.
		now := time.Now()
		scheduled = ticking.Add(now.Sub(ticking) / period * period)
	}
}

// gracePeriod is the probe's own terminationGracePeriodSeconds, for the
// kill a liveness or startup failure calls for.
func (w *worker) gracePeriod() *int64 {
	if w.kind == Readiness || w.spec.TerminationGracePeriodSeconds == nil {
		return nil
	}
	grace := *w.spec.TerminationGracePeriodSeconds
	return &grace
}

// seconds is n seconds, or def seconds when n is not positive.
func seconds(n int32, def int32) time.Duration {
	if n <= 0 {
		n = def
	}
	return time.Duration(n) * time.Second
}

// sleepUntil waits until t or until ctx ends, reporting whether t came.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
