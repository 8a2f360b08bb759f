package runner

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
)

// Manifests of the plan tests.
const (
	planTwoApps = `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: ns}
spec:
  restartPolicy: %s
  containers:
  - {name: a, image: runner.local/busybox:test}
  - {name: b, image: runner.local/busybox:test}
`
	planOneApp = `
apiVersion: v1
kind: Pod
metadata: {name: job, namespace: ns}
spec:
  restartPolicy: %s
  containers:
  - {name: app, image: runner.local/busybox:test}
`
	planInits = `
apiVersion: v1
kind: Pod
metadata: {name: init, namespace: ns}
spec:
  restartPolicy: %s
  initContainers:
  - {name: i1, image: runner.local/busybox:test}
  - {name: i2, image: runner.local/busybox:test}
  containers:
  - {name: app, image: runner.local/busybox:test}
`
	planSidecar = `
apiVersion: v1
kind: Pod
metadata: {name: side, namespace: ns}
spec:
  restartPolicy: %s
  initContainers:
  - {name: side, image: runner.local/busybox:test, restartPolicy: Always}
  - {name: i2, image: runner.local/busybox:test}
  containers:
  - {name: app, image: runner.local/busybox:test}
`
)

// describe renders actions compactly: "CreateSandbox#1", "Start(a)#0",
// "StartInit(i1)#0", "Stop(a0)", "Remove(sb0)", "StopSandbox(sb0)", "KillPod".
func describe(acts []action) []string {
	out := make([]string, 0, len(acts))
	for _, a := range acts {
		n := "#" + strconv.Itoa(a.attempt)
		switch a.kind {
		case actKillPod:
			out = append(out, "KillPod")
		case actCreateSandbox:
			out = append(out, "CreateSandbox"+n)
		case actStartContainer:
			kind := "Start"
			if a.init {
				kind = "StartInit"
			}
			out = append(out, kind+"("+a.container+")"+n)
		case actStopContainer:
			out = append(out, "Stop("+a.id+")")
		case actRemoveContainer:
			out = append(out, "Remove("+a.id+")")
		case actStopSandbox:
			out = append(out, "StopSandbox("+a.id+")")
		}
	}
	return out
}

// planCase is one row of the plan tables.
type planCase struct {
	name     string
	manifest string // a format with the restartPolicy as its only verb
	policy   v1.RestartPolicy
	// observed builds the engine's view; hash is the current hash of a
	// container by name.
	observed  func(pod *v1.Pod, hash func(string) string) []*runtime.Container
	notBefore map[string]time.Duration // from now
	blocked   bool
	gone      bool // the pod is no longer desired
	want      []string
	wantWake  time.Duration // from now; 0: none
}

func runPlanCase(t *testing.T, tc planCase) {
	t.Helper()
	pod := loadPod(t, strings.ReplaceAll(tc.manifest, "%s", string(tc.policy)))
	hashes := podHashes(pod)
	v := &podView{uid: pod.UID, desired: pod, hashes: hashes, blocked: tc.blocked, notBefore: map[string]time.Time{}, keepDead: 1}
	now := epoch.Add(time.Hour)
	for name, d := range tc.notBefore {
		v.notBefore[name] = now.Add(d)
	}
	if tc.observed != nil {
		v.observed = tc.observed(pod, func(name string) string { return hashes[name] })
	}
	if tc.gone {
		v.desired, v.hashes = nil, nil
	}
	before := describeObserved(v.observed)
	acts, wake := plan(v, now)
	if got := describe(acts); !slices.Equal(got, tc.want) {
		t.Errorf("plan = %q, want %q", got, tc.want)
	}
	var wantWake time.Time
	if tc.wantWake != 0 {
		wantWake = now.Add(tc.wantWake)
	}
	if !wake.Equal(wantWake) {
		t.Errorf("wake = %v, want %v", wake, wantWake)
	}
	if after := describeObserved(v.observed); after != before {
		t.Errorf("plan changed its input: %s, was %s", after, before)
	}
}

// describeObserved renders the observed containers, to check that plan
// does not change them.
func describeObserved(list []*runtime.Container) string {
	var b strings.Builder
	for _, c := range list {
		b.WriteString(c.ID + "/" + c.State.String() + "/" + strconv.Itoa(c.ExitCode) + "/" + c.Labels[LabelAttempt] + ";")
	}
	return b.String()
}

func TestPlanNewPod(t *testing.T) {
	for _, tc := range []planCase{
		{
			name: "app containers start with the sandbox", manifest: planTwoApps, policy: v1.RestartPolicyAlways,
			want: []string{"CreateSandbox#0", "Start(a)#0", "Start(b)#0"},
		},
		{
			name: "only the first init container starts", manifest: planInits, policy: v1.RestartPolicyAlways,
			want: []string{"CreateSandbox#0", "StartInit(i1)#0"},
		},
		{
			name: "a sidecar starts first, alone", manifest: planSidecar, policy: v1.RestartPolicyAlways,
			want: []string{"CreateSandbox#0", "StartInit(side)#0"},
		},
		{
			name: "blocked by an older pod of the same name", manifest: planTwoApps, policy: v1.RestartPolicyAlways,
			blocked: true, want: []string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { runPlanCase(t, tc) })
	}
}

func TestPlanInitContainers(t *testing.T) {
	sb := func(pod *v1.Pod) *runtime.Container { return observedSandbox(pod, 0, runtime.StateRunning) }
	for _, tc := range []planCase{
		{
			name: "first init running: wait", manifest: planInits, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := sb(pod)
				return []*runtime.Container{s, observedContainer(pod, "i1", 0, s, h("i1"), runtime.StateRunning, 0)}
			},
			want: []string{},
		},
		{
			name: "first init succeeded: the next starts", manifest: planInits, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := sb(pod)
				return []*runtime.Container{s, observedContainer(pod, "i1", 0, s, h("i1"), runtime.StateExited, 0)}
			},
			want: []string{"StartInit(i2)#0"},
		},
		{
			name: "all init succeeded: the app starts", manifest: planInits, policy: v1.RestartPolicyNever,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := sb(pod)
				return []*runtime.Container{s,
					observedContainer(pod, "i1", 0, s, h("i1"), runtime.StateExited, 0),
					observedContainer(pod, "i2", 0, s, h("i2"), runtime.StateExited, 0)}
			},
			want: []string{"Start(app)#0"},
		},
		{
			name: "init failed under Never: pod finished, sandbox stopped", manifest: planInits, policy: v1.RestartPolicyNever,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := sb(pod)
				return []*runtime.Container{s, observedContainer(pod, "i1", 0, s, h("i1"), runtime.StateExited, 1)}
			},
			want: []string{"StopSandbox(sb0)"},
		},
		{
			name: "init failed under Never, sandbox already stopped: nothing", manifest: planInits, policy: v1.RestartPolicyNever,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateExited)
				return []*runtime.Container{s, observedContainer(pod, "i1", 0, s, h("i1"), runtime.StateExited, 1)}
			},
			want: []string{},
		},
		{
			name: "init failed under OnFailure: it restarts", manifest: planInits, policy: v1.RestartPolicyOnFailure,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := sb(pod)
				return []*runtime.Container{s, observedContainer(pod, "i1", 0, s, h("i1"), runtime.StateExited, 1)}
			},
			want: []string{"StartInit(i1)#1"},
		},
		{
			name: "init failed under Always: it restarts", manifest: planInits, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := sb(pod)
				return []*runtime.Container{s,
					observedContainer(pod, "i1", 0, s, h("i1"), runtime.StateExited, 0),
					observedContainer(pod, "i2", 0, s, h("i2"), runtime.StateExited, 2)}
			},
			want: []string{"StartInit(i2)#1"},
		},
		{
			name: "failed init in backoff: wait for it", manifest: planInits, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := sb(pod)
				return []*runtime.Container{s, observedContainer(pod, "i1", 0, s, h("i1"), runtime.StateExited, 1)}
			},
			notBefore: map[string]time.Duration{"i1": 10 * time.Second},
			want:      []string{}, wantWake: 10 * time.Second,
		},
		{
			name: "running sidecar: the next init starts", manifest: planSidecar, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := sb(pod)
				return []*runtime.Container{s, observedContainer(pod, "side", 0, s, h("side"), runtime.StateRunning, 0)}
			},
			want: []string{"StartInit(i2)#0"},
		},
		{
			name: "running sidecar and init done: the app starts", manifest: planSidecar, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := sb(pod)
				return []*runtime.Container{s,
					observedContainer(pod, "side", 0, s, h("side"), runtime.StateRunning, 0),
					observedContainer(pod, "i2", 0, s, h("i2"), runtime.StateExited, 0)}
			},
			want: []string{"Start(app)#0"},
		},
		{
			name: "exited sidecar restarts whatever its code, even under Never", manifest: planSidecar, policy: v1.RestartPolicyNever,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := sb(pod)
				return []*runtime.Container{s,
					observedContainer(pod, "side", 0, s, h("side"), runtime.StateExited, 0),
					observedContainer(pod, "i2", 0, s, h("i2"), runtime.StateExited, 0),
					observedContainer(pod, "app", 0, s, h("app"), runtime.StateRunning, 0)}
			},
			want: []string{"StartInit(side)#1"},
		},
		{
			name: "sidecar with a changed spec is stopped", manifest: planSidecar, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := sb(pod)
				return []*runtime.Container{s, observedContainer(pod, "side", 0, s, "stale", runtime.StateRunning, 0)}
			},
			want: []string{"Stop(side0)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { runPlanCase(t, tc) })
	}
}

func TestPlanRunningContainers(t *testing.T) {
	for _, tc := range []planCase{
		{
			name: "running with the current hash: nothing", manifest: planTwoApps, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateRunning)
				return []*runtime.Container{s,
					observedContainer(pod, "a", 0, s, h("a"), runtime.StateRunning, 0),
					observedContainer(pod, "b", 0, s, h("b"), runtime.StateRunning, 0)}
			},
			want: []string{},
		},
		{
			name: "hash differs: stop it", manifest: planTwoApps, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateRunning)
				return []*runtime.Container{s,
					observedContainer(pod, "a", 0, s, "0123456789abcdef", runtime.StateRunning, 0),
					observedContainer(pod, "b", 0, s, h("b"), runtime.StateRunning, 0)}
			},
			want: []string{"Stop(a0)"},
		},
		{
			name: "one container missing: only it starts", manifest: planTwoApps, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateRunning)
				return []*runtime.Container{s, observedContainer(pod, "a", 0, s, h("a"), runtime.StateRunning, 0)}
			},
			want: []string{"Start(b)#0"},
		},
		{
			name: "created but never started: removed and replaced", manifest: planTwoApps, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateRunning)
				return []*runtime.Container{s,
					observedContainer(pod, "a", 0, s, h("a"), runtime.StateCreated, 0),
					observedContainer(pod, "b", 0, s, h("b"), runtime.StateRunning, 0)}
			},
			want: []string{"Remove(a0)", "Start(a)#1"},
		},
		{
			name: "a container no longer in the spec is stopped and removed", manifest: planOneApp, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateRunning)
				return []*runtime.Container{s,
					observedContainer(pod, "app", 0, s, h("app"), runtime.StateRunning, 0),
					observedContainer(pod, "gone", 0, s, "x", runtime.StateRunning, 0)}
			},
			want: []string{"Stop(gone0)", "Remove(gone0)"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { runPlanCase(t, tc) })
	}
}

// TestPlanExitMatrix: an app container that exited is restarted per the
// restartPolicy × exit code matrix; one that is not restarted finishes the
// pod, whose sandbox is then stopped.
func TestPlanExitMatrix(t *testing.T) {
	restarted := []string{"Start(app)#1"}
	finished := []string{"StopSandbox(sb0)"}
	for _, tc := range []struct {
		policy v1.RestartPolicy
		code   int
		want   []string
	}{
		{v1.RestartPolicyAlways, 0, restarted},
		{v1.RestartPolicyAlways, 1, restarted},
		{v1.RestartPolicyOnFailure, 0, finished},
		{v1.RestartPolicyOnFailure, 1, restarted},
		{v1.RestartPolicyNever, 0, finished},
		{v1.RestartPolicyNever, 1, finished},
	} {
		t.Run(string(tc.policy)+"/"+strconv.Itoa(tc.code), func(t *testing.T) {
			runPlanCase(t, planCase{
				manifest: planOneApp, policy: tc.policy,
				observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
					s := observedSandbox(pod, 0, runtime.StateRunning)
					return []*runtime.Container{s, observedContainer(pod, "app", 0, s, h("app"), runtime.StateExited, tc.code)}
				},
				want: tc.want,
			})
		})
	}
}

func TestPlanBackoff(t *testing.T) {
	exited := func(pod *v1.Pod, h func(string) string) []*runtime.Container {
		s := observedSandbox(pod, 0, runtime.StateRunning)
		return []*runtime.Container{s,
			observedContainer(pod, "a", 0, s, h("a"), runtime.StateExited, 1),
			observedContainer(pod, "b", 0, s, h("b"), runtime.StateExited, 1)}
	}
	for _, tc := range []planCase{
		{
			name: "backoff pending: no action, wake at notBefore", manifest: planOneApp, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateRunning)
				return []*runtime.Container{s, observedContainer(pod, "app", 0, s, h("app"), runtime.StateExited, 1)}
			},
			notBefore: map[string]time.Duration{"app": 40 * time.Second},
			want:      []string{}, wantWake: 40 * time.Second,
		},
		{
			name: "backoff over: restart", manifest: planOneApp, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateRunning)
				return []*runtime.Container{s, observedContainer(pod, "app", 0, s, h("app"), runtime.StateExited, 1)}
			},
			notBefore: map[string]time.Duration{"app": -time.Second},
			want:      []string{"Start(app)#1"},
		},
		{
			name: "two backoffs: the one over restarts, wake at the other", manifest: planTwoApps, policy: v1.RestartPolicyAlways,
			observed:  exited,
			notBefore: map[string]time.Duration{"a": 0, "b": 5 * time.Second},
			want:      []string{"Start(a)#1"}, wantWake: 5 * time.Second,
		},
		{
			name: "two backoffs pending: wake at the earlier", manifest: planTwoApps, policy: v1.RestartPolicyAlways,
			observed:  exited,
			notBefore: map[string]time.Duration{"a": 9 * time.Second, "b": 3 * time.Second},
			want:      []string{}, wantWake: 3 * time.Second,
		},
	} {
		t.Run(tc.name, func(t *testing.T) { runPlanCase(t, tc) })
	}
}

func TestPlanSandbox(t *testing.T) {
	for _, tc := range []planCase{
		{
			name: "sandbox exited: running containers stopped, everything again with attempt+1", manifest: planTwoApps, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateExited)
				return []*runtime.Container{s,
					observedContainer(pod, "a", 0, s, h("a"), runtime.StateRunning, 0),
					observedContainer(pod, "b", 2, s, h("b"), runtime.StateExited, 1)}
			},
			want: []string{"Stop(a0)", "CreateSandbox#1", "Start(a)#1", "Start(b)#3"},
		},
		{
			name: "sandbox exited: init containers run again from the first", manifest: planInits, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 3, runtime.StateExited)
				return []*runtime.Container{s,
					observedContainer(pod, "i1", 0, s, h("i1"), runtime.StateExited, 0),
					observedContainer(pod, "i2", 0, s, h("i2"), runtime.StateExited, 0),
					observedContainer(pod, "app", 1, s, h("app"), runtime.StateRunning, 0)}
			},
			want: []string{"Stop(app1)", "CreateSandbox#4", "StartInit(i1)#1"},
		},
		{
			name: "sandbox created but never started: removed and replaced", manifest: planOneApp, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				return []*runtime.Container{observedSandbox(pod, 0, runtime.StateCreated)}
			},
			want: []string{"Remove(sb0)", "CreateSandbox#1", "Start(app)#0"},
		},
		{
			name: "old sandboxes are removed", manifest: planOneApp, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				old := observedSandbox(pod, 0, runtime.StateExited)
				s := observedSandbox(pod, 1, runtime.StateRunning)
				return []*runtime.Container{s, old, observedContainer(pod, "app", 1, s, h("app"), runtime.StateRunning, 0)}
			},
			want: []string{"Remove(sb0)"},
		},
		{
			name: "a container of the old sandbox does not count in the new one", manifest: planOneApp, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 1, runtime.StateRunning)
				old := observedSandbox(pod, 0, runtime.StateExited)
				return []*runtime.Container{s, old, observedContainer(pod, "app", 0, old, h("app"), runtime.StateExited, 137)}
			},
			want: []string{"Remove(sb0)", "Start(app)#1"},
		},
		{
			name: "superseded instances are removed, the latest dead one stays", manifest: planOneApp, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateRunning)
				return []*runtime.Container{s,
					observedContainer(pod, "app", 2, s, h("app"), runtime.StateRunning, 0),
					observedContainer(pod, "app", 0, s, h("app"), runtime.StateExited, 1),
					observedContainer(pod, "app", 1, s, h("app"), runtime.StateExited, 1)}
			},
			want: []string{"Remove(app0)"},
		},
		{
			name: "a superseded instance still running is stopped first", manifest: planOneApp, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateRunning)
				return []*runtime.Container{s,
					observedContainer(pod, "app", 0, s, h("app"), runtime.StateRunning, 0),
					observedContainer(pod, "app", 1, s, h("app"), runtime.StateRunning, 0)}
			},
			want: []string{"Stop(app0)", "Remove(app0)"},
		},
		{
			name: "finished pod (Never, all exited) with a running sandbox: stop it", manifest: planTwoApps, policy: v1.RestartPolicyNever,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateRunning)
				return []*runtime.Container{s,
					observedContainer(pod, "a", 0, s, h("a"), runtime.StateExited, 0),
					observedContainer(pod, "b", 0, s, h("b"), runtime.StateExited, 3)}
			},
			want: []string{"StopSandbox(sb0)"},
		},
		{
			name: "finished pod whose sandbox died: no new sandbox", manifest: planTwoApps, policy: v1.RestartPolicyOnFailure,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateExited)
				return []*runtime.Container{s,
					observedContainer(pod, "a", 0, s, h("a"), runtime.StateExited, 0),
					observedContainer(pod, "b", 0, s, h("b"), runtime.StateExited, 0)}
			},
			want: []string{},
		},
		{
			name: "not all containers exited under Never: sandbox keeps running", manifest: planTwoApps, policy: v1.RestartPolicyNever,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateRunning)
				return []*runtime.Container{s,
					observedContainer(pod, "a", 0, s, h("a"), runtime.StateExited, 0),
					observedContainer(pod, "b", 0, s, h("b"), runtime.StateRunning, 0)}
			},
			want: []string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { runPlanCase(t, tc) })
	}
}

func TestPlanTeardown(t *testing.T) {
	for _, tc := range []planCase{
		{
			name: "not desired: kill the pod", manifest: planTwoApps, policy: v1.RestartPolicyAlways, gone: true,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateRunning)
				return []*runtime.Container{s, observedContainer(pod, "a", 0, s, h("a"), runtime.StateRunning, 0)}
			},
			want: []string{"KillPod"},
		},
		{
			name: "not desired, only dead containers: kill the pod", manifest: planTwoApps, policy: v1.RestartPolicyAlways, gone: true,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				return []*runtime.Container{observedSandbox(pod, 0, runtime.StateExited)}
			},
			want: []string{"KillPod"},
		},
		{
			name: "not desired and nothing left: nothing", manifest: planTwoApps, policy: v1.RestartPolicyAlways, gone: true,
			want: []string{},
		},
		{
			name: "blocked even with containers of its own: nothing", manifest: planTwoApps, policy: v1.RestartPolicyAlways, blocked: true,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				return []*runtime.Container{observedSandbox(pod, 0, runtime.StateExited)}
			},
			want: []string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { runPlanCase(t, tc) })
	}
}

// TestPlanSandboxLossHonoursRestartPolicy: when the sandbox dies, the
// kubelet starts again only what the restartPolicy allows: under Never a
// container that has run is never run a second time; under OnFailure a
// container that succeeded is not run again.
func TestPlanSandboxLossHonoursRestartPolicy(t *testing.T) {
	t.Run("Never", func(t *testing.T) {
		pod := loadPod(t, strings.ReplaceAll(planOneApp, "%s", "Never"))
		h := podHashes(pod)
		s := observedSandbox(pod, 0, runtime.StateExited)
		v := &podView{uid: pod.UID, desired: pod, hashes: h, notBefore: map[string]time.Time{}, keepDead: 1,
			observed: []*runtime.Container{s, observedContainer(pod, "app", 0, s, h["app"], runtime.StateRunning, 0)}}
		got := describe(must(plan(v, epoch)))
		if !slices.Contains(got, "Stop(app0)") {
			t.Errorf("plan = %q: the container of the dead sandbox is not stopped", got)
		}
		if slices.Contains(got, "Start(app)#1") {
			t.Errorf("plan = %q: a restartPolicy Never container is started a second time", got)
		}
	})
	t.Run("OnFailure", func(t *testing.T) {
		pod := loadPod(t, strings.ReplaceAll(planTwoApps, "%s", "OnFailure"))
		h := podHashes(pod)
		s := observedSandbox(pod, 0, runtime.StateExited)
		v := &podView{uid: pod.UID, desired: pod, hashes: h, notBefore: map[string]time.Time{}, keepDead: 1,
			observed: []*runtime.Container{s,
				observedContainer(pod, "a", 0, s, h["a"], runtime.StateExited, 0),
				observedContainer(pod, "b", 0, s, h["b"], runtime.StateRunning, 0)}}
		got := describe(must(plan(v, epoch)))
		want := []string{"Stop(b0)", "CreateSandbox#1", "Start(b)#1"}
		if !slices.Equal(got, want) {
			t.Errorf("plan = %q, want %q (a container that succeeded is not run again under OnFailure)", got, want)
		}
	})
}

// TestPlanFinishedPodStopsSidecars: a pod that has run to its end
// (restartPolicy Never, every app container exited) stops its sidecars too,
// not only the sandbox: a sidecar does not keep a finished pod alive.
func TestPlanFinishedPodStopsSidecars(t *testing.T) {
	pod := loadPod(t, strings.ReplaceAll(planSidecar, "%s", "Never"))
	h := podHashes(pod)
	s := observedSandbox(pod, 0, runtime.StateRunning)
	v := &podView{uid: pod.UID, desired: pod, hashes: h, notBefore: map[string]time.Time{}, keepDead: 1,
		observed: []*runtime.Container{s,
			observedContainer(pod, "side", 0, s, h["side"], runtime.StateRunning, 0),
			observedContainer(pod, "i2", 0, s, h["i2"], runtime.StateExited, 0),
			observedContainer(pod, "app", 0, s, h["app"], runtime.StateExited, 0)}}
	got := describe(must(plan(v, epoch)))
	want := []string{"Stop(side0)", "StopSandbox(sb0)"}
	if !slices.Equal(got, want) {
		t.Errorf("plan = %q, want %q", got, want)
	}
}

// TestPlanIsDeterministic: the same input gives the same plan, whatever
// the order of the observed containers.
func TestPlanIsDeterministic(t *testing.T) {
	pod := loadPod(t, strings.ReplaceAll(planTwoApps, "%s", "Always"))
	h := podHashes(pod)
	s := observedSandbox(pod, 1, runtime.StateExited)
	old := observedSandbox(pod, 0, runtime.StateExited)
	list := []*runtime.Container{s, old,
		observedContainer(pod, "a", 0, s, h["a"], runtime.StateExited, 1),
		observedContainer(pod, "b", 0, s, h["b"], runtime.StateExited, 1)}
	var first []string
	for i := range 20 {
		shuffled := slices.Clone(list)
		for j := range shuffled {
			k := (j*7 + i) % len(shuffled)
			shuffled[j], shuffled[k] = shuffled[k], shuffled[j]
		}
		v := &podView{uid: pod.UID, desired: pod, hashes: h, notBefore: map[string]time.Time{}, keepDead: 1, observed: shuffled}
		got := describe(must(plan(v, epoch)))
		if i == 0 {
			first = got
			continue
		}
		if !slices.Equal(got, first) {
			t.Fatalf("plan #%d = %q, plan #0 = %q", i, got, first)
		}
	}
	want := []string{"Remove(sb0)", "CreateSandbox#2", "Start(a)#1", "Start(b)#1"}
	if !slices.Equal(first, want) {
		t.Errorf("plan = %q, want %q", first, want)
	}
}

// must drops plan's wake time.
func must(acts []action, _ time.Time) []action { return acts }

// TestPlanKeepsDeadInstances: as many dead instances as configured stay
// besides the current one; the older ones go.
func TestPlanKeepsDeadInstances(t *testing.T) {
	pod := loadPod(t, strings.ReplaceAll(planOneApp, "%s", "Always"))
	h := podHashes(pod)
	sb := observedSandbox(pod, 0, runtime.StateRunning)
	var observed []*runtime.Container
	for i := range 4 {
		observed = append(observed, observedContainer(pod, "app", i, sb, h["app"], runtime.StateExited, 1))
	}
	observed = append(observed, sb, observedContainer(pod, "app", 4, sb, h["app"], runtime.StateRunning, 0))
	for _, tc := range []struct {
		keep int
		want []string
	}{
		{1, []string{"Remove(app0)", "Remove(app1)", "Remove(app2)"}},
		{2, []string{"Remove(app0)", "Remove(app1)"}},
		{-1, []string{}},
	} {
		v := &podView{uid: pod.UID, desired: pod, hashes: h, notBefore: map[string]time.Time{}, keepDead: tc.keep, observed: observed}
		acts, _ := plan(v, epoch.Add(time.Hour))
		got := describe(acts)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("keep %d: plan = %q, want %q", tc.keep, got, tc.want)
		}
	}
}
