package runner

import (
	"sort"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/runner/restart"
	"github.com/runner-dev/runner/runner/runtime"
)

// actionKind is one step a worker carries out for a pod.
type actionKind int

const (
	actKillPod         actionKind = iota // stop and remove every container and sandbox of the pod
	actStopContainer                     // stop (grace, then kill) one container
	actRemoveContainer                   // remove one dead container
	actStopSandbox                       // stop the sandbox of a finished pod
	actCreateSandbox                     // create and start a sandbox (attempt)
	actStartContainer                    // pull if needed, create and start a container (attempt)
)

func (k actionKind) String() string {
	return [...]string{"KillPod", "StopContainer", "RemoveContainer", "StopSandbox", "CreateSandbox", "StartContainer"}[k]
}

// action is one step of a plan.
type action struct {
	kind      actionKind
	container string // container name, for StartContainer
	init      bool   // StartContainer: an init container
	attempt   int    // CreateSandbox, StartContainer
	id        string // StopContainer, RemoveContainer, StopSandbox
	reason    string // why, for the log
	// grace overrides the pod's grace period (StopContainer of a liveness
	// kill with a probe-level terminationGracePeriodSeconds); event is then
	// the Killing event's message (why it is killed).
	grace *int64
	event string
}

// podView is everything plan needs to know about one pod. The loop builds it
// from its state; plan reads it and never changes it.
type podView struct {
	uid     types.UID
	desired *v1.Pod // nil: not desired, tear down
	// hashes of the desired containers by name (init and app).
	hashes map[string]string
	// observed containers of the pod; sandboxes and containers mixed.
	observed []*runtime.Container
	// blocked: an older pod of the same namespace/name is still being torn
	// down; this one waits (an update is a new pod, old one fully stopped first).
	blocked bool
	// notBefore: per container name, the earliest time it may be (re)started
	// (crash-loop or image-pull backoff).
	notBefore map[string]time.Time
	// netReady, for pods that get a pod IP: which running sandboxes have
	// their network. nil: the pod needs none (host network, or no Network).
	netReady map[string]bool
	// unhealthy: running containers (by ID) a liveness or startup probe
	// failed, to be killed with the probe's grace period (nil: the pod's).
	unhealthy map[string]unhealthy
	// health: the probes' view of the probed containers, by ID (for the
	// status; plan does not read it).
	health map[string]health
	// deadline: when the pod has been active longer than its
	// activeDeadlineSeconds; zero: none.
	deadline time.Time
	// origin: where the desired pod comes from and which version of it
	// runs (for the status; plan does not read it).
	origin manifest.Pod
	// held: the pod may not run (not admitted, or evicted): nothing starts,
	// what runs is stopped.
	held *held
	// keepDead: how many dead instances of a container stay besides the
	// current one (Config.MaxDeadPerContainer).
	keepDead int
}

// plan decides the next steps for one pod. It is pure: no I/O, no clock but
// now. It returns the actions to carry out in order (nil: nothing to do) and,
// when the pod waits on a backoff, the time to look again.
//
// Called by the loop goroutine only.
func plan(v *podView, now time.Time) (acts []action, wake time.Time) {
	if v.desired == nil {
		if len(v.observed) > 0 {
			return []action{{kind: actKillPod, reason: "pod is no longer desired"}}, time.Time{}
		}
		return nil, time.Time{}
	}
	if v.blocked {
		return nil, time.Time{}
	}
	pod := v.desired
	sandboxes, byName := splitObserved(v.observed)
	var sb *runtime.Container
	if n := len(sandboxes); n > 0 {
		sb = sandboxes[n-1]
	}

	// A pinned metadata.uid keeps the UID across edits; an edit of what the
	// sandbox is made of (namespaces, network, DNS, volumes) replaces the
	// whole pod, the old one fully stopped first, as any update.
	if sb != nil && hashChanged(sb.Labels, LabelSandboxHash, v.hashes[sandboxHashKey]) {
		return []action{{kind: actKillPod, reason: "pod spec changed"}}, time.Time{}
	}

	// Old sandboxes and containers that are not the latest of their name are
	// garbage: remove them (the latest dead one stays for lastState and logs).
	for _, old := range sandboxesToRemove(sandboxes) {
		acts = append(acts, action{kind: actRemoveContainer, id: old.ID, reason: "old sandbox"})
	}
	for name, list := range byName {
		// The latest dead instances before the current one stay (the
		// kubelet's --maximum-dead-containers-per-container, 1 by default;
		// negative: all of them, for GC to trim).
		keepFrom := len(list) - 1 - v.keepDead
		for i, c := range list[:len(list)-1] {
			if c.State == runtime.StateExited && (v.keepDead < 0 || i >= keepFrom) {
				continue
			}
			if c.State == runtime.StateRunning {
				acts = append(acts, action{kind: actStopContainer, id: c.ID, container: name, reason: "superseded"})
			}
			acts = append(acts, action{kind: actRemoveContainer, id: c.ID, container: name, reason: "superseded"})
		}
		if _, ok := v.hashes[name]; !ok { // no longer in the spec (pinned UID edited)
			last := list[len(list)-1]
			acts = append(acts, action{kind: actStopContainer, id: last.ID, container: name, reason: "not in the pod spec"},
				action{kind: actRemoveContainer, id: last.ID, container: name, reason: "not in the pod spec"})
		}
	}

	if v.held != nil {
		// Not admitted, or evicted: what runs stops (with the eviction's
		// grace period), nothing starts until the pod is admitted again.
		for name, list := range byName {
			if last := list[len(list)-1]; last.State == runtime.StateRunning {
				acts = append(acts, action{kind: actStopContainer, id: last.ID, container: name, grace: v.held.grace, reason: "the pod is held: " + v.held.reason})
			}
		}
		if sb != nil && sb.State == runtime.StateRunning {
			acts = append(acts, action{kind: actStopSandbox, id: sb.ID, reason: "the pod is held: " + v.held.reason})
		}
		return acts, time.Time{}
	}
	if !v.deadline.IsZero() && !now.Before(v.deadline) {
		// activeDeadlineSeconds: the pod has failed; nothing runs again.
		for name, list := range byName {
			if last := list[len(list)-1]; last.State == runtime.StateRunning {
				acts = append(acts, action{kind: actStopContainer, id: last.ID, container: name, reason: "the pod's active deadline passed"})
			}
		}
		if sb != nil && sb.State == runtime.StateRunning {
			acts = append(acts, action{kind: actStopSandbox, id: sb.ID, reason: "the pod's active deadline passed"})
		}
		return acts, time.Time{}
	}
	wake = v.deadline

	if podFinished(pod, sb, byName) {
		// Sidecars, and containers that outlived a lost sandbox under
		// restartPolicy Never, do not keep a finished pod alive.
		for name, list := range byName {
			if last := list[len(list)-1]; last.State == runtime.StateRunning {
				acts = append(acts, action{kind: actStopContainer, id: last.ID, container: name, reason: "the pod has finished"})
			}
		}
		if sb != nil && sb.State == runtime.StateRunning {
			acts = append(acts, action{kind: actStopSandbox, id: sb.ID, reason: "all containers have terminated"})
		}
		return acts, time.Time{}
	}

	// A running sandbox whose network set-up never finished (the runner died
	// in between) is replaced like a dead one.
	broken := sb != nil && sb.State == runtime.StateRunning && v.netReady != nil && !v.netReady[sb.ID]
	if sb == nil || sb.State != runtime.StateRunning || broken {
		attempt := 0
		if sb != nil {
			attempt = attemptOf(sb) + 1
			// Containers of a dead sandbox cannot live on: stop them, the new
			// sandbox gets new ones.
			for name, list := range byName {
				if last := list[len(list)-1]; last.State == runtime.StateRunning {
					acts = append(acts, action{kind: actStopContainer, id: last.ID, container: name, reason: "sandbox is gone"})
				}
			}
			if sb.State == runtime.StateCreated || sb.State == runtime.StateUnknown {
				acts = append(acts, action{kind: actRemoveContainer, id: sb.ID, reason: "sandbox never started"})
			}
			if broken {
				acts = append(acts, action{kind: actRemoveContainer, id: sb.ID, reason: "sandbox has no network"})
			}
		}
		acts = append(acts, action{kind: actCreateSandbox, attempt: attempt, reason: "no running sandbox"})
		// Start the first containers right away with the new sandbox.
		starts, next := planContainers(v, pod, nil, byName, now)
		return append(acts, starts...), earliest(wake, next)
	}
	starts, next := planContainers(v, pod, sb, byName, now)
	return append(acts, starts...), earliest(wake, next)
}

// earliest is the earlier of two wake times, zero being none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// planContainers plans the init containers (in order, each to success) and
// then the app containers of a pod whose sandbox sb is running (nil: being
// created in the same plan).
func planContainers(v *podView, pod *v1.Pod, sb *runtime.Container, byName map[string][]*runtime.Container, now time.Time) (acts []action, wake time.Time) {
	// latest is the instance that decides what a container needs. One of an
	// older sandbox counts only for an app container that has exited: its
	// exit decides a restart under the restartPolicy (OnFailure does not
	// rerun a container that succeeded). Init containers run again in a new
	// sandbox, and a running one of an old sandbox is being stopped.
	latest := func(name string, init bool) *runtime.Container {
		list := byName[name]
		if len(list) == 0 {
			return nil
		}
		c := list[len(list)-1]
		if (sb == nil || c.Labels[LabelSandboxID] != sb.ID) && (init || c.State != runtime.StateExited) {
			return nil
		}
		return c
	}
	nextAttempt := func(name string) int {
		if list := byName[name]; len(list) > 0 {
			return attemptOf(list[len(list)-1]) + 1
		}
		return 0
	}
	start := func(name string, init bool) {
		if t, ok := v.notBefore[name]; ok && now.Before(t) {
			if wake.IsZero() || t.Before(wake) {
				wake = t
			}
			return
		}
		acts = append(acts, action{kind: actStartContainer, container: name, init: init, attempt: nextAttempt(name)})
	}
	// check handles a container whose latest instance is c: it returns
	// whether the container is "done" for the purpose of init ordering.
	check := func(name string, c *runtime.Container, init bool) (done bool) {
		switch {
		case c == nil:
			start(name, init)
			return false
		case c.State == runtime.StateCreated || c.State == runtime.StateUnknown:
			// Created but never started (runner died in between): replace it.
			acts = append(acts, action{kind: actRemoveContainer, id: c.ID, container: name, reason: "created but never started"})
			start(name, init)
			return false
		case c.State == runtime.StateRunning:
			if hashChanged(c.Labels, LabelContainerHash, v.hashes[name]) {
				acts = append(acts, action{kind: actStopContainer, id: c.ID, container: name, reason: "container spec changed"})
				return false
			}
			if u, ok := v.unhealthy[c.ID]; ok {
				acts = append(acts, action{kind: actStopContainer, id: c.ID, container: name, grace: u.grace, event: u.message, reason: "its liveness or startup probe failed"})
			}
			return false
		default: // exited
			policy := pod.Spec.RestartPolicy
			if hashChanged(c.Labels, LabelContainerHash, v.hashes[name]) {
				// Stopped for a spec change (a pinned metadata.uid): the new
				// spec has not run yet, whatever the restartPolicy.
				start(name, init)
				return false
			}
			if init && c.ExitCode == 0 {
				return true
			}
			if restart.WantedFor(policy, nil, init, c.ExitCode) {
				start(name, init)
			}
			// An init container that is not done holds the rest back (the
			// pod has failed when it is not to run again).
			return !init
		}
	}

	for i := range pod.Spec.InitContainers {
		ic := &pod.Spec.InitContainers[i]
		c := latest(ic.Name, true)
		if isSidecar(ic) {
			if c != nil && c.State == runtime.StateRunning && !hashChanged(c.Labels, LabelContainerHash, v.hashes[ic.Name]) {
				if u, ok := v.unhealthy[c.ID]; ok {
					acts = append(acts, action{kind: actStopContainer, id: c.ID, container: ic.Name, grace: u.grace, event: u.message, reason: "its liveness or startup probe failed"})
				}
				continue // a running sidecar lets the next init container start
			}
			if c != nil && c.State == runtime.StateExited {
				start(ic.Name, true)
				return acts, wake
			}
			check(ic.Name, c, true)
			return acts, wake
		}
		if !check(ic.Name, c, true) {
			return acts, wake
		}
	}
	for i := range pod.Spec.Containers {
		name := pod.Spec.Containers[i].Name
		check(name, latest(name, false), false)
	}
	return acts, wake
}

func isSidecar(c *v1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
}

// podFinished reports whether a pod has run to its end: restartPolicy Never
// or OnFailure, every app container terminated and none to be restarted; or,
// under restartPolicy Never, an init container failed or the sandbox was lost
// after containers ran (the kubelet makes no second sandbox for such a pod).
// sb is the latest sandbox, nil if none.
func podFinished(pod *v1.Pod, sb *runtime.Container, byName map[string][]*runtime.Container) bool {
	if pod.Spec.RestartPolicy == v1.RestartPolicyAlways {
		return false
	}
	if pod.Spec.RestartPolicy == v1.RestartPolicyNever {
		if sb != nil && sb.State != runtime.StateRunning && len(byName) > 0 {
			return true
		}
		for i := range pod.Spec.InitContainers {
			ic := &pod.Spec.InitContainers[i]
			if list := byName[ic.Name]; len(list) > 0 && !isSidecar(ic) {
				if c := list[len(list)-1]; c.State == runtime.StateExited && c.ExitCode != 0 {
					return true
				}
			}
		}
	}
	for i := range pod.Spec.Containers {
		list := byName[pod.Spec.Containers[i].Name]
		if len(list) == 0 {
			return false
		}
		c := list[len(list)-1]
		if c.State != runtime.StateExited || restart.Wanted(pod.Spec.RestartPolicy, c.ExitCode) {
			return false
		}
	}
	return true
}

// splitObserved sorts a pod's containers into sandboxes (by attempt) and
// containers by name (by attempt).
func splitObserved(observed []*runtime.Container) (sandboxes []*runtime.Container, byName map[string][]*runtime.Container) {
	byName = map[string][]*runtime.Container{}
	for _, c := range observed {
		if isSandbox(c) {
			sandboxes = append(sandboxes, c)
			continue
		}
		name := c.Labels[LabelContainerName]
		byName[name] = append(byName[name], c)
	}
	byAttempt := func(s []*runtime.Container) {
		sort.Slice(s, func(i, j int) bool {
			ai, aj := attemptOf(s[i]), attemptOf(s[j])
			if ai != aj {
				return ai < aj
			}
			return s[i].CreatedAt.Before(s[j].CreatedAt)
		})
	}
	byAttempt(sandboxes)
	for _, list := range byName {
		byAttempt(list)
	}
	return sandboxes, byName
}

// sandboxesToRemove are the sandboxes before the latest, which are dead
// (a running old one is stopped and removed by the same action).
func sandboxesToRemove(sandboxes []*runtime.Container) []*runtime.Container {
	if len(sandboxes) <= 1 {
		return nil
	}
	return sandboxes[:len(sandboxes)-1]
}
