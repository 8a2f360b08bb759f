package runner

import (
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// statusOf computes the status of pod with the observed containers and the
// loop's memory st at now.
func statusOf(t *testing.T, pod *v1.Pod, observed []*runtime.Container, st *podState, now time.Time) *v1.Pod {
	t.Helper()
	r, err := New(Config{Runtime: fake.New(), RootDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if st == nil {
		st = newPodState()
	}
	v := &podView{uid: pod.UID, desired: pod, hashes: podHashes(pod), observed: observed, notBefore: st.notBefore, keepDead: 1}
	before := pod.DeepCopy()
	got := r.computeStatus(v, st, now)
	if got == pod {
		t.Fatal("computeStatus returned the desired pod itself, not a copy")
	}
	if pod.Status.Phase != "" || len(pod.Status.ContainerStatuses) != 0 || pod.Name != before.Name {
		t.Fatal("computeStatus changed the desired pod")
	}
	return got
}

func conditions(p *v1.Pod) map[v1.PodConditionType]v1.ConditionStatus {
	out := map[v1.PodConditionType]v1.ConditionStatus{}
	for _, c := range p.Status.Conditions {
		out[c.Type] = c.Status
	}
	return out
}

func wantConditions(t *testing.T, p *v1.Pod, initialized, ready bool) {
	t.Helper()
	b := func(ok bool) v1.ConditionStatus {
		if ok {
			return v1.ConditionTrue
		}
		return v1.ConditionFalse
	}
	got := conditions(p)
	for typ, want := range map[v1.PodConditionType]v1.ConditionStatus{
		v1.PodInitialized: b(initialized), v1.ContainersReady: b(ready), v1.PodReady: b(ready), v1.PodScheduled: v1.ConditionTrue,
	} {
		if got[typ] != want {
			t.Errorf("condition %s = %q, want %q", typ, got[typ], want)
		}
	}
}

func containerStatusNamed(t *testing.T, list []v1.ContainerStatus, name string) v1.ContainerStatus {
	t.Helper()
	for _, cs := range list {
		if cs.Name == name {
			return cs
		}
	}
	t.Fatalf("no status of container %s in %v", name, list)
	return v1.ContainerStatus{}
}

func waitingReasonOf(cs v1.ContainerStatus) string {
	if cs.State.Waiting == nil {
		return ""
	}
	return cs.State.Waiting.Reason
}

func TestStatusPendingWhileCreating(t *testing.T) {
	pod := loadPod(t, podYAML("web", "", "app"))
	got := statusOf(t, pod, nil, nil, epoch)
	if got.Status.Phase != v1.PodPending {
		t.Errorf("phase = %s, want Pending", got.Status.Phase)
	}
	cs := containerStatusNamed(t, got.Status.ContainerStatuses, "app")
	if r := waitingReasonOf(cs); r != reasonContainerCreating {
		t.Errorf("waiting reason = %q, want ContainerCreating", r)
	}
	if cs.Ready || cs.RestartCount != 0 || cs.Image != testImage {
		t.Errorf("status = %+v, want not ready, no restarts, image %s", cs, testImage)
	}
	if got.Status.QOSClass != v1.PodQOSBestEffort {
		t.Errorf("qosClass = %s, want BestEffort", got.Status.QOSClass)
	}
	wantConditions(t, got, true, false)
	if conditions(got)[v1.PodReadyToStartContainers] != v1.ConditionFalse {
		t.Error("PodReadyToStartContainers is true without a sandbox")
	}
}

func TestStatusRunning(t *testing.T) {
	pod := loadPod(t, podYAML("web", "", "a", "b"))
	h := podHashes(pod)
	sb := observedSandbox(pod, 0, runtime.StateRunning)
	a := observedContainer(pod, "a", 0, sb, h["a"], runtime.StateRunning, 0)
	a.ImageID = "sha256:abc"
	obs := []*runtime.Container{sb, a, observedContainer(pod, "b", 0, sb, h["b"], runtime.StateRunning, 0)}
	got := statusOf(t, pod, obs, nil, epoch.Add(time.Hour))
	if got.Status.Phase != v1.PodRunning {
		t.Errorf("phase = %s, want Running", got.Status.Phase)
	}
	cs := containerStatusNamed(t, got.Status.ContainerStatuses, "a")
	if cs.State.Running == nil || !cs.State.Running.StartedAt.Time.Equal(a.StartedAt) {
		t.Errorf("state = %+v, want running since %v", cs.State, a.StartedAt)
	}
	if !cs.Ready || cs.Started == nil || !*cs.Started {
		t.Errorf("ready = %v, started = %v; want both true", cs.Ready, cs.Started)
	}
	if cs.ContainerID != "docker://"+a.ID || cs.ImageID != "sha256:abc" {
		t.Errorf("containerID = %q, imageID = %q", cs.ContainerID, cs.ImageID)
	}
	if got.Status.StartTime == nil || !got.Status.StartTime.Time.Equal(sb.CreatedAt) {
		t.Errorf("startTime = %v, want the sandbox's creation %v", got.Status.StartTime, sb.CreatedAt)
	}
	wantConditions(t, got, true, true)
	if conditions(got)[v1.PodReadyToStartContainers] != v1.ConditionTrue {
		t.Error("PodReadyToStartContainers is false with a running sandbox")
	}
}

// TestStatusPendingUntilAllCreated: a pod is Pending while any of its
// containers still waits to be created, even if another runs (the kubelet's
// getPhase: waiting > 0 → Pending).
func TestStatusPendingUntilAllCreated(t *testing.T) {
	pod := loadPod(t, podYAML("web", "", "a", "b"))
	h := podHashes(pod)
	sb := observedSandbox(pod, 0, runtime.StateRunning)
	st := newPodState()
	st.waiting["b"] = waitingReason{reason: reasonErrImagePull, message: "pull failed"}
	got := statusOf(t, pod, []*runtime.Container{sb, observedContainer(pod, "a", 0, sb, h["a"], runtime.StateRunning, 0)}, st, epoch)
	if got.Status.Phase != v1.PodPending {
		t.Errorf("phase = %s, want Pending", got.Status.Phase)
	}
	wantConditions(t, got, true, false)
}

func TestStatusTerminated(t *testing.T) {
	for _, tc := range []struct {
		name      string
		policy    string
		codes     [2]int
		oom       bool
		phase     v1.PodPhase
		reasonOfB string
	}{
		{"all succeeded", "Never", [2]int{0, 0}, false, v1.PodSucceeded, reasonCompleted},
		{"one failed under Never", "Never", [2]int{0, 1}, false, v1.PodFailed, reasonError},
		{"OOM-killed under Never", "Never", [2]int{0, 137}, true, v1.PodFailed, reasonOOMKilled},
		{"all succeeded under OnFailure", "OnFailure", [2]int{0, 0}, false, v1.PodSucceeded, reasonCompleted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := loadPod(t, podYAML("job", tc.policy, "a", "b"))
			h := podHashes(pod)
			sb := observedSandbox(pod, 0, runtime.StateExited)
			b := observedContainer(pod, "b", 0, sb, h["b"], runtime.StateExited, tc.codes[1])
			b.OOMKilled = tc.oom
			obs := []*runtime.Container{sb, observedContainer(pod, "a", 0, sb, h["a"], runtime.StateExited, tc.codes[0]), b}
			got := statusOf(t, pod, obs, nil, epoch.Add(time.Hour))
			if got.Status.Phase != tc.phase {
				t.Errorf("phase = %s, want %s", got.Status.Phase, tc.phase)
			}
			cs := containerStatusNamed(t, got.Status.ContainerStatuses, "b")
			term := cs.State.Terminated
			if term == nil {
				t.Fatalf("state = %+v, want terminated", cs.State)
			}
			if term.Reason != tc.reasonOfB || term.ExitCode != int32(tc.codes[1]) {
				t.Errorf("terminated = %s/%d, want %s/%d", term.Reason, term.ExitCode, tc.reasonOfB, tc.codes[1])
			}
			if !term.StartedAt.Time.Equal(b.StartedAt) || !term.FinishedAt.Time.Equal(b.FinishedAt) || term.ContainerID != "docker://"+b.ID {
				t.Errorf("terminated = %+v, want the instance's times and id", term)
			}
			if cs.Ready {
				t.Error("a terminated container is ready")
			}
			wantConditions(t, got, true, false)
		})
	}
}

// TestStatusCrashLoopBackOff: a container waiting out its backoff shows
// CrashLoopBackOff with the exit it is waiting after as lastState, and the
// pod stays Running (it is restarting, as the kubelet reports it).
func TestStatusCrashLoopBackOff(t *testing.T) {
	pod := loadPod(t, podYAML("web", "", "app"))
	h := podHashes(pod)
	sb := observedSandbox(pod, 0, runtime.StateRunning)
	prev := observedContainer(pod, "app", 0, sb, h["app"], runtime.StateExited, 1)
	last := observedContainer(pod, "app", 1, sb, h["app"], runtime.StateExited, 2)
	now := last.FinishedAt.Add(time.Second)
	st := newPodState()
	st.notBefore["app"] = now.Add(20 * time.Second)
	got := statusOf(t, pod, []*runtime.Container{sb, prev, last}, st, now)
	cs := containerStatusNamed(t, got.Status.ContainerStatuses, "app")
	if r := waitingReasonOf(cs); r != reasonCrashLoopBackOff {
		t.Fatalf("state = %+v, want waiting CrashLoopBackOff", cs.State)
	}
	if !strings.Contains(cs.State.Waiting.Message, "20s") {
		t.Errorf("message = %q, want the time left (20s)", cs.State.Waiting.Message)
	}
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 2 || lt.Reason != reasonError {
		t.Errorf("lastState = %+v, want the exit with code 2", cs.LastTerminationState)
	}
	if cs.RestartCount != 1 {
		t.Errorf("restartCount = %d, want 1", cs.RestartCount)
	}
	if got.Status.Phase != v1.PodRunning {
		t.Errorf("phase = %s, want Running (restartPolicy Always, restarting)", got.Status.Phase)
	}
	wantConditions(t, got, true, false)

	// Once the backoff is over the exit shows as it is.
	got = statusOf(t, pod, []*runtime.Container{sb, prev, last}, st, now.Add(time.Minute))
	cs = containerStatusNamed(t, got.Status.ContainerStatuses, "app")
	if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 2 {
		t.Errorf("after the backoff state = %+v, want terminated with 2", cs.State)
	}
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 1 {
		t.Errorf("after the backoff lastState = %+v, want the exit with code 1", cs.LastTerminationState)
	}
}

func TestStatusLastStateAfterRestart(t *testing.T) {
	pod := loadPod(t, podYAML("web", "", "app"))
	h := podHashes(pod)
	sb := observedSandbox(pod, 0, runtime.StateRunning)
	prev := observedContainer(pod, "app", 2, sb, h["app"], runtime.StateExited, 3)
	prev.OOMKilled = true
	cur := observedContainer(pod, "app", 3, sb, h["app"], runtime.StateRunning, 0)
	got := statusOf(t, pod, []*runtime.Container{cur, sb, prev}, nil, epoch.Add(time.Hour))
	cs := containerStatusNamed(t, got.Status.ContainerStatuses, "app")
	if cs.State.Running == nil || cs.RestartCount != 3 || !cs.Ready {
		t.Errorf("status = %+v, want running, ready, 3 restarts", cs)
	}
	lt := cs.LastTerminationState.Terminated
	if lt == nil || lt.ExitCode != 3 || lt.Reason != reasonOOMKilled || lt.ContainerID != "docker://"+prev.ID {
		t.Errorf("lastState = %+v, want the previous instance, OOMKilled", cs.LastTerminationState)
	}
	if got.Status.Phase != v1.PodRunning {
		t.Errorf("phase = %s, want Running", got.Status.Phase)
	}
}

func TestStatusImageReasons(t *testing.T) {
	pod := loadPod(t, podYAML("web", "", "app"))
	sb := observedSandbox(pod, 0, runtime.StateRunning)
	now := epoch.Add(time.Hour)
	for _, tc := range []struct {
		name      string
		reason    string
		notBefore time.Duration
		want      string
	}{
		{"pull failed, backoff pending", reasonErrImagePull, 10 * time.Second, reasonImagePullBackOff},
		{"pull failed, retry due", reasonErrImagePull, -time.Second, reasonErrImagePull},
		{"never pull", reasonErrImageNeverPull, 10 * time.Second, reasonErrImageNeverPull},
		{"create error", reasonCreateError, 10 * time.Second, reasonCreateError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newPodState()
			st.waiting["app"] = waitingReason{reason: tc.reason, message: "the message"}
			st.notBefore["app"] = now.Add(tc.notBefore)
			got := statusOf(t, pod, []*runtime.Container{sb}, st, now)
			cs := containerStatusNamed(t, got.Status.ContainerStatuses, "app")
			if r := waitingReasonOf(cs); r != tc.want || cs.State.Waiting.Message != "the message" {
				t.Errorf("state = %+v, want waiting %s with the message", cs.State, tc.want)
			}
			if got.Status.Phase != v1.PodPending {
				t.Errorf("phase = %s, want Pending", got.Status.Phase)
			}
		})
	}
	t.Run("a running instance hides an old reason", func(t *testing.T) {
		h := podHashes(pod)
		st := newPodState()
		st.waiting["app"] = waitingReason{reason: reasonErrImagePull, message: "old"}
		got := statusOf(t, pod, []*runtime.Container{sb, observedContainer(pod, "app", 0, sb, h["app"], runtime.StateRunning, 0)}, st, now)
		if cs := containerStatusNamed(t, got.Status.ContainerStatuses, "app"); cs.State.Running == nil {
			t.Errorf("state = %+v, want running", cs.State)
		}
	})
}

func TestStatusInitContainers(t *testing.T) {
	pod := loadPod(t, strings.ReplaceAll(planInits, "%s", "Always"))
	h := podHashes(pod)
	sb := observedSandbox(pod, 0, runtime.StateRunning)
	now := epoch.Add(time.Hour)

	t.Run("first init running", func(t *testing.T) {
		got := statusOf(t, pod, []*runtime.Container{sb, observedContainer(pod, "i1", 0, sb, h["i1"], runtime.StateRunning, 0)}, nil, now)
		if got.Status.Phase != v1.PodPending {
			t.Errorf("phase = %s, want Pending", got.Status.Phase)
		}
		if n := len(got.Status.InitContainerStatuses); n != 2 {
			t.Fatalf("%d init container statuses, want 2", n)
		}
		if r := waitingReasonOf(containerStatusNamed(t, got.Status.ContainerStatuses, "app")); r != reasonPodInitializing {
			t.Errorf("app waiting reason = %q, want PodInitializing", r)
		}
		if cs := containerStatusNamed(t, got.Status.InitContainerStatuses, "i1"); cs.State.Running == nil || cs.Ready {
			t.Errorf("i1 status = %+v, want running and not ready", cs)
		}
		wantConditions(t, got, false, false)
	})
	t.Run("init done, app running", func(t *testing.T) {
		got := statusOf(t, pod, []*runtime.Container{sb,
			observedContainer(pod, "i1", 0, sb, h["i1"], runtime.StateExited, 0),
			observedContainer(pod, "i2", 0, sb, h["i2"], runtime.StateExited, 0),
			observedContainer(pod, "app", 0, sb, h["app"], runtime.StateRunning, 0)}, nil, now)
		if got.Status.Phase != v1.PodRunning {
			t.Errorf("phase = %s, want Running", got.Status.Phase)
		}
		wantConditions(t, got, true, true)
		// As the kubelet reports them: an init container that completed is ready.
		if cs := containerStatusNamed(t, got.Status.InitContainerStatuses, "i2"); cs.State.Terminated == nil || cs.State.Terminated.Reason != reasonCompleted || !cs.Ready {
			t.Errorf("i2 status = %+v, want terminated Completed and ready", cs)
		}
	})
	t.Run("init failed under Never", func(t *testing.T) {
		never := loadPod(t, strings.ReplaceAll(planInits, "%s", "Never"))
		hn := podHashes(never)
		sbn := observedSandbox(never, 0, runtime.StateExited)
		got := statusOf(t, never, []*runtime.Container{sbn, observedContainer(never, "i1", 0, sbn, hn["i1"], runtime.StateExited, 1)}, nil, now)
		if got.Status.Phase != v1.PodFailed {
			t.Errorf("phase = %s, want Failed", got.Status.Phase)
		}
		wantConditions(t, got, false, false)
	})
}

func TestStatusSidecar(t *testing.T) {
	pod := loadPod(t, strings.ReplaceAll(planSidecar, "%s", "Always"))
	h := podHashes(pod)
	sb := observedSandbox(pod, 0, runtime.StateRunning)
	got := statusOf(t, pod, []*runtime.Container{sb,
		observedContainer(pod, "side", 0, sb, h["side"], runtime.StateRunning, 0),
		observedContainer(pod, "i2", 0, sb, h["i2"], runtime.StateExited, 0),
		observedContainer(pod, "app", 0, sb, h["app"], runtime.StateRunning, 0)}, nil, epoch.Add(time.Hour))
	if got.Status.Phase != v1.PodRunning {
		t.Errorf("phase = %s, want Running", got.Status.Phase)
	}
	wantConditions(t, got, true, true)
	// A running sidecar without a readiness probe is ready, as in the kubelet.
	if cs := containerStatusNamed(t, got.Status.InitContainerStatuses, "side"); cs.State.Running == nil || !cs.Ready {
		t.Errorf("sidecar status = %+v, want running and ready", cs)
	}

	// A sidecar that is down holds Initialized back.
	got = statusOf(t, pod, []*runtime.Container{sb,
		observedContainer(pod, "side", 0, sb, h["side"], runtime.StateExited, 1),
		observedContainer(pod, "i2", 0, sb, h["i2"], runtime.StateExited, 0),
		observedContainer(pod, "app", 0, sb, h["app"], runtime.StateRunning, 0)}, nil, epoch.Add(time.Hour))
	wantConditions(t, got, false, false)
}

func TestStatusSandboxFailure(t *testing.T) {
	pod := loadPod(t, podYAML("web", "", "app"))
	st := newPodState()
	st.syncErr = syncError{reason: reasonFailedCreateSandbox, message: "create sandbox: boom"}
	got := statusOf(t, pod, nil, st, epoch)
	if got.Status.Reason != reasonFailedCreateSandbox || got.Status.Message != st.syncErr.message {
		t.Errorf("reason, message = %q, %q; want %s and the error", got.Status.Reason, got.Status.Message, reasonFailedCreateSandbox)
	}
	// Once a sandbox runs, the old failure is no longer the pod's reason.
	got = statusOf(t, pod, []*runtime.Container{observedSandbox(pod, 1, runtime.StateRunning)}, st, epoch)
	if got.Status.Reason != "" {
		t.Errorf("reason = %q with a running sandbox, want none", got.Status.Reason)
	}
}

func TestStatusStore(t *testing.T) {
	s := newStatusStore()
	ch := s.Changed()
	a := loadPod(t, podYAML("b-pod", "", "app"))
	b := loadPod(t, podYAML("a-pod", "", "app"))
	s.put(a.UID, a)
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by put")
	}
	s.put(b.UID, b)
	if l := s.List(); len(l) != 2 || l[0].Name != "a-pod" || l[1].Name != "b-pod" {
		t.Fatalf("List = %v, want a-pod, b-pod", l)
	}
	ch = s.Changed()
	s.delete("no-such-uid")
	select {
	case <-ch:
		t.Fatal("Changed closed by deleting nothing")
	default:
	}
	s.delete(a.UID)
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by delete")
	}
	if l := s.List(); len(l) != 1 || l[0].UID != b.UID {
		t.Fatalf("List after delete = %v", l)
	}
}
