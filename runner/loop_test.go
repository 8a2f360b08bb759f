package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/runner/restart"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// phaseIs reports whether the runner's status of pod has phase.
func (h *harness) phaseIs(pod *v1.Pod, phase v1.PodPhase) bool {
	st := h.status(pod)
	return st != nil && st.Status.Phase == phase
}

// callIndex is the index in calls of the first call of method with arg, or -1.
func callIndex(calls []fake.Call, method, arg string) int {
	return slices.Index(calls, fake.Call{Method: method, Arg: arg})
}

// firstRemovals is the index of the call that removed the last of ids: the
// latest of their first RemoveContainer calls (a removal may be repeated
// harmlessly when a stale event shows a removed container again), or -1 if
// one of them was never removed.
func firstRemovals(calls []fake.Call, ids []string) int {
	last := -1
	for _, id := range ids {
		i := callIndex(calls, "RemoveContainer", id)
		if i < 0 {
			return -1
		}
		last = max(last, i)
	}
	return last
}

func ids(list []runtime.Container) []string {
	out := make([]string, 0, len(list))
	for _, c := range list {
		out = append(out, c.ID)
	}
	return out
}

// sandboxOf is the running sandbox of pod in the engine.
func sandboxOf(t *testing.T, rt *fake.Runtime, pod *v1.Pod) runtime.Container {
	t.Helper()
	for _, c := range podContainers(t, rt, pod) {
		if isSandbox(&c) && c.State == runtime.StateRunning {
			return c
		}
	}
	t.Fatalf("pod %s has no running sandbox", pod.Name)
	return runtime.Container{}
}

func TestLoopStartsPod(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, podYAML("web", "", "a", "b"))
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "a", "b") })
		waitFor(t, "status Running and Ready", func() bool {
			st := h.status(pod)
			return st != nil && st.Status.Phase == v1.PodRunning && conditions(st)[v1.PodReady] == v1.ConditionTrue
		})

		sb := sandboxOf(t, rt, pod)
		if sb.Name != sandboxName(pod, 0) || sb.Labels[LabelInstance] != "inst" || sb.Image != DefaultPauseImage {
			t.Errorf("sandbox %s labels %v image %s", sb.Name, sb.Labels, sb.Image)
		}
		hashes := podHashes(pod)
		for _, name := range []string{"a", "b"} {
			c, _ := latestOf(t, rt, pod, name)
			if c.Name != containerName(name, pod, 0) {
				t.Errorf("container name = %q, want %q", c.Name, containerName(name, pod, 0))
			}
			want := map[string]string{
				LabelInstance: "inst", LabelPodUID: string(pod.UID), LabelPodName: pod.Name, LabelPodNamespace: "ns",
				LabelContainerName: name, LabelDockerType: TypeContainer, LabelSandboxID: sb.ID,
				LabelContainerHash: hashes[name], LabelAttempt: "0",
			}
			for k, v := range want {
				if c.Labels[k] != v {
					t.Errorf("%s: label %s = %q, want %q", name, k, c.Labels[k], v)
				}
			}
			spec, _ := rt.Spec(c.ID)
			if spec.NetworkMode != "container:"+sb.ID {
				t.Errorf("%s: network mode %q, want the sandbox's", name, spec.NetworkMode)
			}
		}
		// The sandbox is made first, then the containers.
		creates := h.callsOf("CreateContainer")
		if len(creates) != 3 || creates[0].Arg != sandboxName(pod, 0) {
			t.Errorf("CreateContainer calls = %v, want the sandbox then a and b", creates)
		}
		// The pause image was present: nothing imported or pulled.
		if n := len(h.callsOf("ImportImage")) + len(h.callsOf("PullImage")); n != 0 {
			t.Errorf("%d image imports/pulls, want none", n)
		}
	})
}

// TestLoopAdoption: a new runner of the same instance adopts the running
// pod and changes nothing while the pod is unchanged.
func TestLoopAdoption(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		dir := t.TempDir()
		h1 := startRunner(t, rt, Config{RootDir: dir})
		pod := loadPod(t, podYAML("web", "", "a", "b"))
		h1.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "a", "b") })
		waitFor(t, "status Running", func() bool { return h1.phaseIs(pod, v1.PodRunning) })
		h1.stop()
		before := ids(podContainers(t, rt, pod))
		if !running(t, rt, pod, "a", "b") {
			t.Fatal("stopping the runner stopped the pod")
		}

		h2 := startRunner(t, rt, Config{RootDir: dir})
		h2.send(pod)
		waitFor(t, "the adopted pod's status Running", func() bool { return h2.phaseIs(pod, v1.PodRunning) })
		h2.stop() // waits for any worker it started
		for _, m := range []string{"CreateContainer", "StartContainer", "StopContainer", "KillContainer", "RemoveContainer"} {
			if calls := h2.callsOf(m); len(calls) != 0 {
				t.Errorf("the adopting runner called %v", calls)
			}
		}
		if after := ids(podContainers(t, rt, pod)); !sameSet(before, after) {
			t.Errorf("containers %v, were %v", after, before)
		}
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestLoopTeardown: a pod that leaves the snapshot is stopped and removed,
// containers first, the sandbox last.
func TestLoopTeardown(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, podYAML("web", "", "a", "b"))
		keep := loadPod(t, podYAML("keep", "", "app"))
		h.send(pod, keep)
		waitFor(t, "the pods to run", func() bool { return running(t, rt, pod, "a", "b") && running(t, rt, keep, "app") })
		sb := sandboxOf(t, rt, pod)
		var apps []string
		for _, c := range podContainers(t, rt, pod) {
			if !isSandbox(&c) {
				apps = append(apps, c.ID)
			}
		}
		keepIDs := ids(podContainers(t, rt, keep))

		h.send(keep)
		waitFor(t, "the pod to be removed", func() bool { return len(podContainers(t, rt, pod)) == 0 })
		waitFor(t, "its status to go", func() bool { return h.status(pod) == nil })

		calls := h.calls()
		for _, id := range apps {
			stop, rm := callIndex(calls, "StopContainer", id), callIndex(calls, "RemoveContainer", id)
			if stop < 0 || rm < stop {
				t.Errorf("container %s: stop at %d, remove at %d; want stopped, then removed", id, stop, rm)
			}
		}
		if rmSB := callIndex(calls, "RemoveContainer", sb.ID); rmSB < firstRemovals(calls, apps) {
			t.Errorf("the sandbox was removed (call %d) before its containers (%v)", rmSB, calls)
		}
		if after := ids(podContainers(t, rt, keep)); !sameSet(after, keepIDs) || !running(t, rt, keep, "app") {
			t.Errorf("the other pod was touched: %v, was %v", after, keepIDs)
		}
	})
}

// TestLoopEditedPod: an edited manifest is a new pod (new UID, same name):
// the old one is fully removed before the new sandbox is created.
func TestLoopEditedPod(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		old := loadPod(t, podYAML("web", "", "a", "b"))
		h.send(old)
		waitFor(t, "the old pod to run", func() bool { return running(t, rt, old, "a", "b") })
		oldIDs := ids(podContainers(t, rt, old))

		edited := loadPod(t, podYAML("web", "", "a", "b:/bin/true"))
		if edited.UID == old.UID || edited.Name != old.Name {
			t.Fatalf("edited pod: uid %s name %s; old uid %s name %s", edited.UID, edited.Name, old.UID, old.Name)
		}
		h.send(edited)
		waitFor(t, "the edited pod to run", func() bool { return running(t, rt, edited, "a", "b") })
		if left := podContainers(t, rt, old); len(left) != 0 {
			t.Errorf("old containers left: %v", ids(left))
		}
		calls := h.calls()
		lastRemove := firstRemovals(calls, oldIDs)
		create := callIndex(calls, "CreateContainer", sandboxName(edited, 0))
		if lastRemove < 0 || create < lastRemove {
			t.Errorf("new sandbox created at call %d, old pod's last removal at %d: the old pod must be gone first; calls:\n%v", create, lastRemove, calls)
		}
		for _, id := range oldIDs {
			if callIndex(calls, "RemoveContainer", id) < 0 {
				t.Errorf("old container %s never removed", id)
			}
		}
		waitFor(t, "the edited pod's status Running and the old one's gone", func() bool {
			return h.phaseIs(edited, v1.PodRunning) && h.status(old) == nil
		})
	})
}

// TestLoopOtherInstance: containers of another runner instance are never
// touched, not even inspected.
func TestLoopOtherInstance(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		other := startRunner(t, rt, Config{InstanceID: "other"})
		theirs := loadPod(t, podYAML("theirs", "", "app"))
		other.send(theirs)
		waitFor(t, "the other instance's pod to run", func() bool { return running(t, rt, theirs, "app") })
		other.stop()
		theirIDs := ids(podContainers(t, rt, theirs))

		h := startRunner(t, rt, Config{InstanceID: "inst"})
		ours := loadPod(t, podYAML("ours", "", "app"))
		h.send(ours)
		waitFor(t, "our pod to run", func() bool { return running(t, rt, ours, "app") })
		h.send() // nothing desired: ours goes, theirs must stay
		waitFor(t, "our pod to be removed", func() bool { return len(podContainers(t, rt, ours)) == 0 })
		h.stop()

		for _, c := range h.calls() {
			for _, id := range theirIDs {
				if c.Arg == id {
					t.Errorf("call %v touches a container of another instance", c)
				}
			}
		}
		if !running(t, rt, theirs, "app") {
			t.Error("the other instance's pod is no longer running")
		}
		if h.status(theirs) != nil {
			t.Error("the other instance's pod has a status in this runner")
		}
	})
}

// TestLoopOrphans: labelled pods of this instance that are not desired are
// removed once the first snapshot has arrived, and not before.
func TestLoopOrphans(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		dir := t.TempDir()
		h1 := startRunner(t, rt, Config{RootDir: dir})
		orphan := loadPod(t, podYAML("orphan", "", "app"))
		h1.send(orphan)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, orphan, "app") })
		h1.stop()
		n := len(podContainers(t, rt, orphan))

		h2 := startRunner(t, rt, Config{RootDir: dir, SyncFrequency: time.Minute})
		// Adoption is one list; the running containers it adopts are then
		// inspected once, and a relist reuses those inspections.
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := len(h2.callsOf("ListContainers")); got != 2 {
			t.Errorf("%d lists after start and one sync period, want 2", got)
		}
		if got := len(h2.callsOf("InspectContainer")); got != n {
			t.Errorf("%d inspections of %d unchanged containers over two lists, want %d", got, n, n)
		}
		for _, m := range []string{"StopContainer", "KillContainer", "RemoveContainer", "CreateContainer"} {
			if calls := h2.callsOf(m); len(calls) != 0 {
				t.Fatalf("before the first snapshot the runner called %v", calls)
			}
		}
		if !running(t, rt, orphan, "app") {
			t.Fatal("the orphan was stopped before the first snapshot")
		}

		wanted := loadPod(t, podYAML("wanted", "", "app"))
		h2.send(wanted)
		waitFor(t, "the orphan to be removed and the wanted pod to run", func() bool {
			return len(podContainers(t, rt, orphan)) == 0 && running(t, rt, wanted, "app")
		})
	})
}

// TestLoopRestartsExitedContainer: a container that exits is restarted with
// the next attempt; the status counts the restarts and keeps the last exit.
func TestLoopRestartsExitedContainer(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, podYAML("web", "", "app", "other"))
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app", "other") })
		otherBefore, _ := latestOf(t, rt, pod, "other")

		var exitedIDs []string
		for attempt := 1; attempt <= 3; attempt++ {
			c, _ := latestOf(t, rt, pod, "app")
			if err := rt.Exit(c.ID, 3); err != nil {
				t.Fatal(err)
			}
			exitedIDs = append(exitedIDs, c.ID)
			waitFor(t, fmt.Sprintf("attempt %d to run", attempt), func() bool {
				c, ok := latestOf(t, rt, pod, "app")
				return ok && attemptOf(&c) == attempt && c.State == runtime.StateRunning
			})
			waitFor(t, fmt.Sprintf("restartCount %d", attempt), func() bool {
				st := h.status(pod)
				if st == nil || len(st.Status.ContainerStatuses) == 0 {
					return false
				}
				cs := containerStatusNamed(t, st.Status.ContainerStatuses, "app")
				return cs.RestartCount == int32(attempt) && cs.State.Running != nil
			})
		}
		c, _ := latestOf(t, rt, pod, "app")
		if c.Name != containerName("app", pod, 3) {
			t.Errorf("restarted container name = %q, want attempt 3's", c.Name)
		}
		if creates := h.callsOf("CreateContainer"); callIndex(creates, "CreateContainer", sandboxName(pod, 1)) >= 0 {
			t.Error("a container exit made a new sandbox")
		}
		if now, _ := latestOf(t, rt, pod, "other"); now.ID != otherBefore.ID || now.State != runtime.StateRunning {
			t.Errorf("the sibling container changed: %s %v, was %s", now.ID, now.State, otherBefore.ID)
		}

		// Let the loop finish with attempt 3: restart the sibling, whose plan
		// comes after the one that follows attempt 3's start.
		if err := rt.Exit(otherBefore.ID, 0); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the sibling's restart", func() bool {
			c, _ := latestOf(t, rt, pod, "other")
			return attemptOf(&c) == 1 && c.State == runtime.StateRunning
		})
		// Old instances are garbage, but the latest dead one stays, as the
		// kubelet keeps it: its exit is the lastState, its log `logs --previous`.
		present := map[string]bool{}
		for _, c := range podContainers(t, rt, pod) {
			present[c.ID] = true
		}
		if present[exitedIDs[0]] || present[exitedIDs[1]] {
			t.Errorf("attempts 0 and 1 not removed")
		}
		if !present[exitedIDs[2]] {
			t.Fatalf("attempt 2, the latest dead instance, was removed: no lastState, no previous log")
		}
		waitFor(t, "lastState of the exit with 3", func() bool {
			cs := containerStatusNamed(t, h.status(pod).Status.ContainerStatuses, "app")
			lt := cs.LastTerminationState.Terminated
			return cs.RestartCount == 3 && lt != nil && lt.ExitCode == 3 && lt.ContainerID == "docker://"+exitedIDs[2]
		})
	})
}

// TestLoopCrashLoopBackOff: a container that keeps exiting waits out its
// backoff (virtual time stands still unless the test sleeps); the status
// says CrashLoopBackOff meanwhile.
func TestLoopCrashLoopBackOff(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{Backoff: restart.Policy{Initial: time.Minute, Max: 5 * time.Minute, Reset: time.Hour}})
		pod := loadPod(t, podYAML("web", "", "app"))
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		// First exit: restarted at once.
		c, _ := latestOf(t, rt, pod, "app")
		rt.Exit(c.ID, 1)
		synctest.Wait()
		if c, _ := latestOf(t, rt, pod, "app"); attemptOf(&c) != 1 || c.State != runtime.StateRunning {
			t.Fatalf("after the first exit: attempt %d %v, want attempt 1 running at once", attemptOf(&c), c.State)
		}
		// Second exit: the backoff (1 min) must pass.
		c, _ = latestOf(t, rt, pod, "app")
		rt.Exit(c.ID, 1)
		synctest.Wait()
		st := h.status(pod)
		if got := waitingReasonOf(containerStatusNamed(t, st.Status.ContainerStatuses, "app")); got != reasonCrashLoopBackOff {
			t.Errorf("waiting reason = %q, want %s", got, reasonCrashLoopBackOff)
		}
		if st.Status.Phase != v1.PodRunning {
			t.Errorf("phase in CrashLoopBackOff = %s, want Running", st.Status.Phase)
		}
		time.Sleep(time.Minute - time.Millisecond)
		synctest.Wait()
		if c, _ := latestOf(t, rt, pod, "app"); attemptOf(&c) != 1 {
			t.Fatalf("restarted during the backoff: attempt %d", attemptOf(&c))
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if c, _ := latestOf(t, rt, pod, "app"); attemptOf(&c) != 2 || c.State != runtime.StateRunning {
			t.Fatalf("after the backoff: attempt %d %v, want attempt 2 running", attemptOf(&c), c.State)
		}
	})
}

// TestLoopNeverFailed: restartPolicy Never, a container exits 1: no
// restart, the pod is Failed and its sandbox stopped.
func TestLoopNeverFailed(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, podYAML("job", "Never", "app"))
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		sb := sandboxOf(t, rt, pod)
		c, _ := latestOf(t, rt, pod, "app")
		rt.Exit(c.ID, 1)
		waitFor(t, "phase Failed", func() bool { return h.phaseIs(pod, v1.PodFailed) })
		waitFor(t, "the sandbox to be stopped", func() bool {
			got, err := rt.InspectContainer(context.Background(), sb.ID)
			return err == nil && got.State == runtime.StateExited
		})
		h.stop()
		if latest, _ := latestOf(t, rt, pod, "app"); latest.ID != c.ID {
			t.Errorf("a restartPolicy Never container was restarted as %s", latest.Name)
		}
		cs := containerStatusNamed(t, h.status(pod).Status.ContainerStatuses, "app")
		if term := cs.State.Terminated; term == nil || term.ExitCode != 1 || term.Reason != reasonError {
			t.Errorf("container state = %+v, want terminated Error 1", cs.State)
		}
	})
}

// TestLoopSucceeded: restartPolicy OnFailure, exit 0: Succeeded.
func TestLoopSucceeded(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, podYAML("job", "OnFailure", "app"))
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		c, _ := latestOf(t, rt, pod, "app")
		rt.Exit(c.ID, 0)
		waitFor(t, "phase Succeeded", func() bool { return h.phaseIs(pod, v1.PodSucceeded) })
	})
}

// TestLoopInitContainers: init containers run one after the other to
// success before the app container.
func TestLoopInitContainers(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, `
apiVersion: v1
kind: Pod
metadata: {name: init, namespace: ns}
spec:
  initContainers:
  - {name: i1, image: runner.local/busybox:test}
  - {name: i2, image: runner.local/busybox:test}
  containers:
  - {name: app, image: runner.local/busybox:test}
`)
		h.send(pod)
		for _, name := range []string{"i1", "i2"} {
			waitFor(t, name+" to run", func() bool {
				c, ok := latestOf(t, rt, pod, name)
				return ok && c.State == runtime.StateRunning
			})
			if _, ok := latestOf(t, rt, pod, "app"); ok {
				t.Fatalf("app created while %s runs", name)
			}
			c, _ := latestOf(t, rt, pod, name)
			rt.Exit(c.ID, 0)
		}
		waitFor(t, "the app to run", func() bool { return running(t, rt, pod, "app") })
		waitFor(t, "Initialized and Running", func() bool {
			st := h.status(pod)
			return st != nil && st.Status.Phase == v1.PodRunning && conditions(st)[v1.PodInitialized] == v1.ConditionTrue
		})
	})
}

// TestLoopImageNeverPull: an absent image with imagePullPolicy Never is
// never pulled; the status says ErrImageNeverPull.
func TestLoopImageNeverPull(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers:\n  - {name: app, image: runner.local/absent:v1, imagePullPolicy: Never}\n")
		h.send(pod)
		waitFor(t, "ErrImageNeverPull", func() bool {
			st := h.status(pod)
			return st != nil && len(st.Status.ContainerStatuses) == 1 &&
				waitingReasonOf(st.Status.ContainerStatuses[0]) == reasonErrImageNeverPull
		})
		h.stop()
		if p := h.callsOf("PullImage"); len(p) != 0 {
			t.Errorf("pulls with policy Never: %v", p)
		}
		if h.status(pod).Status.Phase != v1.PodPending {
			t.Errorf("phase = %s, want Pending", h.status(pod).Status.Phase)
		}
	})
}

// TestLoopImagePullRecovers: a pull that fails is retried after its
// backoff and the pod runs once the image can be had.
func TestLoopImagePullRecovers(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers:\n  - {name: app, image: runner.local/late:v1}\n")
		h.send(pod)
		waitFor(t, "ErrImagePull or ImagePullBackOff", func() bool {
			st := h.status(pod)
			if st == nil || len(st.Status.ContainerStatuses) != 1 {
				return false
			}
			r := waitingReasonOf(st.Status.ContainerStatuses[0])
			return r == reasonErrImagePull || r == reasonImagePullBackOff
		})
		waitFor(t, "a second pull", func() bool { return len(h.callsOf("PullImage")) >= 2 })
		rt.AllowPull("runner.local/late:v1")
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		waitFor(t, "status Running", func() bool { return h.phaseIs(pod, v1.PodRunning) })
	})
}

// TestLoopSandboxCreateFailureRetried: a failed sandbox creation is
// reported and retried; the pod converges.
func TestLoopSandboxCreateFailureRetried(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		rt.FailNext("CreateContainer", errors.New("engine hiccup"))
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, podYAML("web", "", "app"))
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		creates := h.callsOf("CreateContainer")
		if n := len(slices.DeleteFunc(slices.Clone(creates), func(c fake.Call) bool { return c.Arg != sandboxName(pod, 0) })); n != 2 {
			t.Errorf("sandbox creations = %d (%v), want the failed one and the retry", n, creates)
		}
		waitFor(t, "status Running", func() bool { return h.phaseIs(pod, v1.PodRunning) })
		if st := h.status(pod); st.Status.Reason != "" {
			t.Errorf("reason = %q after recovery, want none", st.Status.Reason)
		}
	})
}

// TestLoopContainerCreateFailureRetried: a container whose creation fails
// is created again; its sandbox is kept.
func TestLoopContainerCreateFailureRetried(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		dir := t.TempDir()
		h1 := startRunner(t, rt, Config{RootDir: dir})
		pod := loadPod(t, podYAML("web", "", "app"))
		h1.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		h1.stop()
		sb := sandboxOf(t, rt, pod)
		c, _ := latestOf(t, rt, pod, "app")
		if err := rt.RemoveContainer(context.Background(), c.ID); err != nil {
			t.Fatal(err)
		}

		// The next runner finds the sandbox without its container; the first
		// CreateContainer it makes is the container's, and it fails.
		rt.FailNext("CreateContainer", errors.New("engine hiccup"))
		h2 := startRunner(t, rt, Config{RootDir: dir})
		h2.send(pod)
		waitFor(t, "the container to run again", func() bool { return running(t, rt, pod, "app") })
		creates := h2.callsOf("CreateContainer")
		if len(creates) != 2 || creates[0].Arg != containerName("app", pod, 0) || creates[1].Arg != containerName("app", pod, 0) {
			t.Errorf("CreateContainer calls = %v, want attempt 0 twice", creates)
		}
		if now := sandboxOf(t, rt, pod); now.ID != sb.ID {
			t.Error("the sandbox was replaced")
		}
	})
}

// TestLoopShutdown: cancelling Run returns promptly and leaves the pods
// running; no goroutine outlives it (the bubble fails the test otherwise).
func TestLoopShutdown(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, podYAML("web", "", "a", "b"))
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "a", "b") })
		// A restart in flight while the runner stops.
		c, _ := latestOf(t, rt, pod, "a")
		rt.Exit(c.ID, 1)
		start := time.Now()
		h.stop()
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Run took %v to return after cancel", d)
		}
		if n := len(h.callsOf("StopContainer")) + len(h.callsOf("RemoveContainer")); n != 0 {
			t.Errorf("shutdown stopped or removed containers: %v", h.calls())
		}
		if sb := sandboxOf(t, rt, pod); sb.State != runtime.StateRunning {
			t.Error("shutdown stopped the sandbox")
		}
	})
}

// TestLoopRunFailsWithoutEngine: Run returns an error when it cannot list
// the engine's containers at start.
func TestLoopRunFailsWithoutEngine(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		rt.FailNext("ListContainers", errors.New("engine down"))
		r, err := New(Config{Runtime: rt, RootDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
		defer cancel()
		if err := r.Run(ctx, make(chan manifest.Snapshot)); err == nil {
			t.Error("Run with a failing engine: no error")
		}
	})
}

// heldList is the fake engine with one list held back: the nth
// ListContainers call reads the engine at once but returns only when the
// test releases it, as a slow relist would.
type heldList struct {
	*fake.Runtime
	n       int
	calls   atomic.Int32
	listed  chan struct{} // closed when the held list has read the engine
	release chan struct{}
}

func (h *heldList) ListContainers(ctx context.Context, match map[string]string) ([]runtime.Container, error) {
	list, err := h.Runtime.ListContainers(ctx, match)
	if int(h.calls.Add(1)) == h.n {
		close(h.listed)
		select {
		case <-h.release:
		case <-ctx.Done():
		}
	}
	return list, err
}

// TestLoopStaleRelistKeepsNewContainers: a full relist that read the engine
// before a worker made the pod's containers, and arrives after the worker
// reported them, must not make the loop forget them (it would create the
// sandbox again: a name conflict, a failed sync and a stall).
func TestLoopStaleRelistKeepsNewContainers(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		// Call 1 is Run's own list at start, call 2 the watcher's first relist.
		held := &heldList{Runtime: rt, n: 2, listed: make(chan struct{}), release: make(chan struct{})}
		h := startRunner(t, rt, Config{Runtime: held, SyncFrequency: time.Second})
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case <-held.listed:
		default:
			t.Fatal("the watcher did not relist after a sync period")
		}
		pod := loadPod(t, podYAML("web", "", "app"))
		h.send(pod)
		waitFor(t, "status Running", func() bool { return h.phaseIs(pod, v1.PodRunning) })
		close(held.release) // the relist, empty, arrives now
		synctest.Wait()
		c, _ := latestOf(t, rt, pod, "app")
		rt.Exit(c.ID, 1)
		waitFor(t, "the restart", func() bool {
			c, _ := latestOf(t, rt, pod, "app")
			return attemptOf(&c) == 1 && c.State == runtime.StateRunning
		})
		h.stop()
		var sandboxes []fake.Call
		for _, c := range h.callsOf("CreateContainer") {
			if c.Arg == sandboxName(pod, 0) || c.Arg == sandboxName(pod, 1) {
				sandboxes = append(sandboxes, c)
			}
		}
		if len(sandboxes) != 1 {
			t.Errorf("sandbox creations %v, want one", sandboxes)
		}
	})
}

// newTestLoop is a loop as Run makes it, over a fresh runner on the fake
// engine, for tests that drive its inputs by hand.
func newTestLoop(t *testing.T) *loop {
	r, err := New(Config{Runtime: newFakeRuntime(), RootDir: t.TempDir(), Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	l := newLoop(r, context.Background())
	l.timer = time.NewTimer(time.Hour)
	return l
}

// TestLoopFailedSyncKeepsNewChanges: after a worker's step failed, the pod
// waits before its next plan, but news of a container that step did not
// act on (a sibling exited meanwhile) is planned at once; echoes of the
// failed step's own actions wait.
func TestLoopFailedSyncKeepsNewChanges(t *testing.T) {
	for _, tc := range []struct {
		name      string
		newsOf    string // "" for none, else the container whose exit comes in
		wantAtOnc bool
	}{
		{"news of a sibling", "b", true},
		{"echo of the failed step", "a", false},
		{"no news", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				l := newTestLoop(t)
				defer l.timer.Stop()
				pod := loadPod(t, podYAML("web", "", "a", "b"))
				l.applySnapshot(snapshotOf(pod))
				h := podHashes(pod)
				sb := observedSandbox(pod, 0, runtime.StateRunning)
				a := observedContainer(pod, "a", 0, sb, h["a"], runtime.StateRunning, 0)
				b := observedContainer(pod, "b", 0, sb, h["b"], runtime.StateRunning, 0)
				observedUpdate{full: true, containers: []runtime.Container{*sb, *a, *b}, seq: 1}.apply(l)
				// A worker is busy with the pod (it stops a)...
				st := l.podState(pod.UID)
				st.busy, st.urgent, l.running = true, false, 1
				clear(l.dirty)
				// ...news comes in meanwhile...
				if tc.newsOf != "" {
					c := *a
					if tc.newsOf == "b" {
						c = *b
					}
					c.State, c.ExitCode, c.FinishedAt = runtime.StateExited, 1, time.Now()
					observedUpdate{containers: []runtime.Container{c}, seq: 2}.apply(l)
				}
				// ...and the worker reports a failure of its step on a.
				workResult{uid: pod.UID, err: errors.New("stop container a: engine hiccup"), acted: map[string]bool{a.ID: true}}.apply(l)
				if st.retryAt.IsZero() {
					t.Fatal("a failed step set no retry time")
				}
				l.dispatch(context.Background())
				if got := !l.dirty[pod.UID]; got != tc.wantAtOnc {
					t.Errorf("planned at once = %v, want %v", got, tc.wantAtOnc)
				}
				for l.running > 0 {
					(<-l.r.inbox).apply(l)
				}
			})
		})
	}
}

// TestLoopEngineCallsPerPodStart: a pod start costs the engine calls it
// needs and no more: its image looked at, its sandbox and container created
// and started (the pause image is looked at once per runner). What the
// worker made is reported by it, not read back, and the engine's events of
// it cost no inspection.
func TestLoopEngineCallsPerPodStart(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		var pods []*v1.Pod
		for i := range 3 {
			pods = append(pods, loadPod(t, podYAML(fmt.Sprintf("web%d", i), "", "app")))
		}
		before := len(h.calls())
		h.send(pods...)
		waitFor(t, "the pods to run", func() bool {
			for _, p := range pods {
				if !h.phaseIs(p, v1.PodRunning) {
					return false
				}
			}
			return true
		})
		calls := h.calls()[before:]
		perPod := map[string]int{}
		for _, c := range calls {
			perPod[c.Method]++
		}
		// 3 pods × (InspectImage, 2 × CreateContainer, 2 × StartContainer) + the pause image once.
		want := map[string]int{"InspectImage": 3 + 1, "CreateContainer": 6, "StartContainer": 6}
		for m, n := range perPod {
			if want[m] != n {
				t.Errorf("%s called %d times, want %d (all calls: %v)", m, n, want[m], calls)
			}
		}
		if len(calls) > 3*5+1 {
			t.Errorf("%d engine calls for 3 pod starts, want at most %d", len(calls), 3*5+1)
		}
		// The next relist is one list: what the workers started is known.
		before = len(h.calls())
		time.Sleep(time.Minute)
		synctest.Wait()
		if calls := h.calls()[before:]; len(calls) != 1 || calls[0].Method != "ListContainers" {
			t.Errorf("a relist in the steady state made the calls %v, want one list", calls)
		}
	})
}

// TestLoopAdoptionCost: a restarted runner adopts running pods from one
// list; the details of running containers are inspected afterwards, off the
// path of adoption, and nothing is changed.
func TestLoopAdoptionCost(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		dir := t.TempDir()
		h1 := startRunner(t, rt, Config{RootDir: dir})
		var pods []*v1.Pod
		for i := range 5 {
			pods = append(pods, loadPod(t, podYAML(fmt.Sprintf("web%d", i), "", "app")))
		}
		h1.send(pods...)
		waitFor(t, "the pods to run", func() bool {
			for _, p := range pods {
				if !running(t, rt, p, "app") {
					return false
				}
			}
			return true
		})
		h1.stop()

		h2 := startRunner(t, rt, Config{RootDir: dir})
		h2.send(pods...)
		synctest.Wait()
		got := map[string]int{}
		for _, c := range h2.calls() {
			got[c.Method]++
		}
		want := map[string]int{"Events": 1, "ListContainers": 1, "InspectContainer": 10}
		if !maps.Equal(got, want) {
			t.Errorf("adoption of 5 running pods made the calls %v, want %v", got, want)
		}
		for _, p := range pods {
			if !h2.phaseIs(p, v1.PodRunning) {
				t.Errorf("pod %s: phase %v, want Running", p.Name, h2.status(p).Status.Phase)
			}
			st := h2.status(p)
			if cs := containerStatusNamed(t, st.Status.ContainerStatuses, "app"); cs.State.Running == nil || cs.State.Running.StartedAt.IsZero() {
				t.Errorf("pod %s: container state %+v, want running with its start time (filled in after adoption)", p.Name, cs.State)
			}
		}
	})
}

// TestLoopPartialSnapshot: a snapshot that could not read all of one
// source's input keeps that source's pods, even those it lacks, and
// removes a pod that a sure source no longer has.
func TestLoopPartialSnapshot(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		fromFile := loadPod(t, podYAML("file", "", "app"))
		fromURL := loadPod(t, podYAML("url", "", "app"))
		fromURL.Annotations[manifest.AnnotationConfigSource] = manifest.SourceHTTP
		h.send(fromFile, fromURL)
		waitFor(t, "both pods to run", func() bool { return running(t, rt, fromFile, "app") && running(t, rt, fromURL, "app") })

		// The file source cannot read its directory; the URL answered and
		// no longer has its pod.
		s := manifest.Snapshot{Partial: true, PartialSources: []string{manifest.SourceFile}}
		select {
		case h.snaps <- s:
		case <-time.After(waitDeadline):
			t.Fatal("snapshot not taken")
		}
		waitFor(t, "the URL's pod to go", func() bool { return len(podContainers(t, rt, fromURL)) == 0 })
		if !running(t, rt, fromFile, "app") {
			t.Error("the pod of the unsure file source was stopped")
		}
		// The file source is sure again and lacks its pod: now it goes.
		h.send()
		waitFor(t, "the file's pod to go", func() bool { return len(podContainers(t, rt, fromFile)) == 0 })
	})
}
