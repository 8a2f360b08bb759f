package runner

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/runner/probe"
	"github.com/runner-dev/runner/runner/runtime"
)

// Container health, on the loop's side: the loop keeps the probe workers
// (runner/probe) in step with the running containers of desired pods,
// folds their results into readiness (the container's ready and started,
// the pod's ContainersReady and Ready) and turns a liveness or startup
// failure into a kill of the container, which then restarts per the pod's
// policy. It also reads back termination messages after an exit.

// probed is what the loop knows of a container whose probes run.
type probed struct {
	uid    types.UID
	name   string
	status map[probe.Kind]probe.Status
	spec   *v1.Container
}

// unhealthy is a running container a liveness or startup probe failed: it
// is killed with the probe's grace period (nil: the pod's), and the Killing
// event says message.
type unhealthy struct {
	grace   *int64
	message string
}

// health is how a container's probes see it, for the status.
type health struct {
	started, ready bool
}

// probeInput is a probe worker's result, as an input of the loop.
type probeInput struct{ ev probe.Event }

// apply records a probe's result; a liveness or startup failure marks the
// container for a kill. Events of containers whose probes were stopped
// meanwhile are dropped. Called on the loop goroutine.
func (p probeInput) apply(l *loop) {
	ev := p.ev
	pr := l.probed[ev.ContainerID]
	if pr == nil {
		return
	}
	pod := l.desired[pr.uid]
	if pod == nil {
		return
	}
	log := l.r.podLogger(pod)
	if reason := ev.Reason(); reason != "" {
		l.r.record(log, refOf(pod), EventWarning, reason, pr.name, ev.Message(), "probe", ev.Kind.String())
	}
	if !ev.Changed {
		return
	}
	// As the kubelet's "SyncLoop (probe)" line: every change of a probe's
	// status, so that a container turning ready or unready is in the log.
	log.Info("probe status changed", "container", pr.name, "probe", ev.Kind.String(), "status", ev.Status.String())
	pr.status[ev.Kind] = ev.Status
	l.dirty[pr.uid] = true
	if ev.Status == probe.StatusFailure && (ev.Kind == probe.Liveness || ev.Kind == probe.Startup) {
		st := l.podState(pr.uid)
		if st.unhealthy == nil {
			st.unhealthy = map[string]unhealthy{}
		}
		// The kill's Killing event says why (stopContainer records it).
		st.unhealthy[ev.ContainerID] = unhealthy{grace: ev.TerminationGracePeriodSeconds,
			message: fmt.Sprintf("Container %s failed %s probe, will be restarted", pr.name, strings.ToLower(ev.Kind.String()))}
	}
}

// syncProbes starts the probes of the running containers of pod uid (v is
// its view) that have probes and are not probed yet, and stops those of
// containers that no longer run or whose pod is not desired. Stopping waits
// for the workers' attempt in flight, so it happens off the loop goroutine;
// their late results are dropped by probeInput.apply. Called by dispatch.
func (l *loop) syncProbes(uid types.UID, v *podView) {
	want := map[string]*runtime.Container{}
	if v.desired != nil {
		_, byName := splitObserved(v.observed)
		for name, list := range byName {
			c := list[len(list)-1]
			spec, _ := findSpec(v.desired, name)
			if c.State != runtime.StateRunning || spec == nil || (spec.LivenessProbe == nil && spec.ReadinessProbe == nil && spec.StartupProbe == nil) {
				continue
			}
			want[c.ID] = c
		}
	}
	for id, pr := range l.probed {
		if pr.uid == uid && want[id] == nil {
			delete(l.probed, id)
			l.bg.Go(func() { l.r.probes.Stop(id) })
		}
	}
	st := l.pods[uid]
	if st != nil {
		for id := range st.unhealthy {
			if c := want[id]; c == nil {
				delete(st.unhealthy, id)
			}
		}
	}
	for id, c := range want {
		if l.probed[id] != nil {
			continue
		}
		name := c.Labels[LabelContainerName]
		spec, _ := findSpec(v.desired, name)
		pr := &probed{uid: uid, name: name, spec: spec, status: map[probe.Kind]probe.Status{}}
		for _, k := range []probe.Kind{probe.Liveness, probe.Readiness, probe.Startup} {
			pr.status[k] = probe.InitialStatus(k)
		}
		l.probed[id] = pr
		run := &containerRun{ref: refOf(v.desired), pod: v.desired, name: name, spec: spec, container: c, sandboxID: c.Labels[LabelSandboxID]}
		l.r.probes.Start(probe.Container{
			Target: l.r.target(run), StartedAt: c.StartedAt,
			Liveness: spec.LivenessProbe, Readiness: spec.ReadinessProbe, Startup: spec.StartupProbe,
		})
	}
}

// healthOf is the probes' view of the probed containers of pod uid, by
// container ID; containers without probes are not in it.
func (l *loop) healthOf(uid types.UID) map[string]health {
	var out map[string]health
	for id, pr := range l.probed {
		if pr.uid != uid {
			continue
		}
		h := health{started: pr.spec.StartupProbe == nil || pr.status[probe.Startup] == probe.StatusSuccess}
		h.ready = h.started && (pr.spec.ReadinessProbe == nil || pr.status[probe.Readiness] == probe.StatusSuccess)
		if out == nil {
			out = map[string]health{}
		}
		out[id] = h
	}
	return out
}

// The kubelet's limits on termination messages: 4 KiB read from the file,
// or the last 80 log lines and 2 KiB of them for FallbackToLogsOnError.
const (
	fallbackLogLines = 80
	fallbackLogBytes = 2048
)

// termMessage is a container's termination message, read off the loop.
type termMessage struct {
	uid  types.UID
	id   string
	name string
	msg  string
}

// apply keeps the message for the container's status and logs it (at
// debug: it is up to 4 KiB of the container's own words).
func (t termMessage) apply(l *loop) {
	if st := l.pods[t.uid]; st != nil && t.msg != "" {
		if st.termMessages == nil {
			st.termMessages = map[string]string{}
		}
		st.termMessages[t.id] = t.msg
		l.dirty[t.uid] = true
		if pod := l.desired[t.uid]; pod != nil {
			l.r.podLogger(pod).Debug("termination message read", "container", t.name, "container_id", shortID(t.id), "message", t.msg)
		}
	}
}

// readTermination reads, off the loop goroutine, the termination message
// of container c of pod, which has exited: its terminationMessagePath file,
// or, when that is empty, the container failed and its policy is
// FallbackToLogsOnError, the tail of its log. Called by putContainer once
// per exited container.
func (l *loop) readTermination(pod *v1.Pod, c *runtime.Container) {
	name, attempt := instanceOf(c.Labels)
	spec, _ := findSpec(pod, name)
	if spec == nil || isSandbox(c) {
		return
	}
	uid, id, exit := pod.UID, c.ID, c.ExitCode
	policy := spec.TerminationMessagePolicy
	ctx := l.ctx
	l.bg.Go(func() {
		msg, err := l.r.volumes.TerminationMessage(uid, name, attempt)
		if err != nil {
			l.r.log.Debug("termination message not read", "container_id", shortID(id), "error", err)
		}
		if msg == "" && exit != 0 && policy == v1.TerminationMessageFallbackToLogsOnError {
			msg = l.r.logTail(ctx, id)
		}
		if msg != "" {
			l.r.submit(ctx, termMessage{uid: uid, id: id, name: name, msg: msg})
		}
	})
}

// logTail is the end of a container's log as the kubelet's fallback takes
// it: the last 80 lines, at most their last 2 KiB.
func (r *Runner) logTail(ctx context.Context, id string) string {
	cctx, cancel := r.call(ctx)
	defer cancel()
	var out bytes.Buffer
	if err := r.cfg.Runtime.Logs(cctx, id, runtime.LogOptions{Tail: fallbackLogLines}, &out, &out); err != nil {
		return ""
	}
	b := out.Bytes()
	if len(b) > fallbackLogBytes {
		b = b[len(b)-fallbackLogBytes:]
	}
	return string(b)
}

// deadline is when a pod with activeDeadlineSeconds has been active too
// long: that long after it started on this node (its first sandbox). Zero
// without a deadline or a start.
func deadline(pod *v1.Pod, started time.Time) time.Time {
	if pod.Spec.ActiveDeadlineSeconds == nil || started.IsZero() {
		return time.Time{}
	}
	return started.Add(time.Duration(*pod.Spec.ActiveDeadlineSeconds) * time.Second)
}
