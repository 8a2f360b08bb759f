package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/golden/cli from the current output")

// goldenNow is the clock of the golden outputs.
var goldenNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// checkGolden compares got with testdata/golden/cli/name (rewritten with
// -update).
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", "cli", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

// statePod builds the pods of the golden table: each a state kubectl
// prints a STATUS for.
func statePod(name string, phase v1.PodPhase, mutate func(p *v1.Pod)) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name + "-node1", Namespace: "default", UID: types.UID("uid-" + name)}}
	p.Spec.NodeName = "node1"
	p.Spec.Containers = []v1.Container{{Name: "app"}}
	p.Status.Phase = phase
	p.Status.StartTime = metaTime(goldenNow.Add(-90 * time.Minute))
	p.Status.PodIP, p.Status.PodIPs = "10.218.0.7", []v1.PodIP{{IP: "10.218.0.7"}}
	p.Status.Conditions = []v1.PodCondition{{Type: v1.PodInitialized, Status: v1.ConditionTrue}}
	mutate(p)
	return p
}

func waiting(reason string) v1.ContainerState {
	return v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: reason}}
}

func terminated(code int32, reason string, finished time.Time) v1.ContainerState {
	return v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: code, Reason: reason, FinishedAt: metav1.NewTime(finished)}}
}

func runningState() v1.ContainerState {
	return v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: metav1.NewTime(goldenNow.Add(-time.Hour))}}
}

func goldenPods() []*v1.Pod {
	always := v1.ContainerRestartPolicyAlways
	return []*v1.Pod{
		statePod("running", v1.PodRunning, func(p *v1.Pod) {
			p.Status.Conditions = append(p.Status.Conditions, v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionTrue})
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", Ready: true, State: runningState()}}
		}),
		statePod("crashloop", v1.PodRunning, func(p *v1.Pod) {
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", RestartCount: 4, State: waiting("CrashLoopBackOff"),
				LastTerminationState: terminated(1, "Error", goldenNow.Add(-40*time.Second))}}
		}),
		statePod("completed", v1.PodSucceeded, func(p *v1.Pod) {
			p.Spec.RestartPolicy = v1.RestartPolicyNever
			p.Status.PodIP, p.Status.PodIPs = "", nil
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", State: terminated(0, "Completed", goldenNow.Add(-time.Hour))}}
		}),
		statePod("error", v1.PodFailed, func(p *v1.Pod) {
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", State: terminated(2, "Error", goldenNow.Add(-time.Hour))}}
		}),
		statePod("exitcode", v1.PodFailed, func(p *v1.Pod) {
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", State: terminated(3, "", goldenNow.Add(-time.Hour))}}
		}),
		statePod("noimage", v1.PodPending, func(p *v1.Pod) {
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", State: waiting("ImagePullBackOff")}}
		}),
		statePod("creating", v1.PodPending, func(p *v1.Pod) {
			p.Status.StartTime = nil
			p.CreationTimestamp = metav1.NewTime(goldenNow.Add(-3 * time.Second))
			p.Status.PodIP, p.Status.PodIPs = "", nil
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", State: waiting("ContainerCreating")}}
		}),
		statePod("init", v1.PodPending, func(p *v1.Pod) {
			p.Spec.InitContainers = []v1.Container{{Name: "i0"}, {Name: "i1"}}
			p.Status.Conditions = []v1.PodCondition{{Type: v1.PodInitialized, Status: v1.ConditionFalse}}
			p.Status.InitContainerStatuses = []v1.ContainerStatus{{Name: "i0", State: runningState()}, {Name: "i1", State: waiting("PodInitializing")}}
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", State: waiting("PodInitializing")}}
		}),
		statePod("init2", v1.PodPending, func(p *v1.Pod) {
			p.Spec.InitContainers = []v1.Container{{Name: "i0"}, {Name: "i1"}}
			p.Status.Conditions = []v1.PodCondition{{Type: v1.PodInitialized, Status: v1.ConditionFalse}}
			p.Status.InitContainerStatuses = []v1.ContainerStatus{{Name: "i0", State: terminated(0, "Completed", goldenNow)},
				{Name: "i1", RestartCount: 2, State: waiting("CrashLoopBackOff"), LastTerminationState: terminated(1, "Error", goldenNow.Add(-5*time.Minute))}}
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", State: waiting("PodInitializing")}}
		}),
		statePod("initerror", v1.PodFailed, func(p *v1.Pod) {
			p.Spec.InitContainers = []v1.Container{{Name: "i0"}}
			p.Status.Conditions = []v1.PodCondition{{Type: v1.PodInitialized, Status: v1.ConditionFalse}}
			p.Status.InitContainerStatuses = []v1.ContainerStatus{{Name: "i0", State: terminated(1, "Error", goldenNow)}}
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", State: waiting("PodInitializing")}}
		}),
		statePod("podinit", v1.PodPending, func(p *v1.Pod) {
			p.Spec.InitContainers = []v1.Container{{Name: "i0"}}
			p.Status.InitContainerStatuses = []v1.ContainerStatus{{Name: "i0", State: terminated(0, "Completed", goldenNow)}}
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", State: waiting("PodInitializing")}}
		}),
		statePod("sidecar", v1.PodRunning, func(p *v1.Pod) {
			p.Spec.InitContainers = []v1.Container{{Name: "log", RestartPolicy: &always}}
			p.Status.Conditions = append(p.Status.Conditions, v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionTrue})
			p.Status.InitContainerStatuses = []v1.ContainerStatus{{Name: "log", Ready: true, Started: ptrOf(true), RestartCount: 1,
				State: runningState(), LastTerminationState: terminated(137, "Error", goldenNow.Add(-26*time.Hour))}}
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", Ready: true, State: runningState()}}
		}),
		statePod("notready", v1.PodRunning, func(p *v1.Pod) {
			p.Spec.Containers = []v1.Container{{Name: "app"}, {Name: "job"}}
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", Ready: true, State: runningState()},
				{Name: "job", State: terminated(0, "Completed", goldenNow)}}
		}),
		statePod("terminating", v1.PodRunning, func(p *v1.Pod) {
			p.DeletionTimestamp = metaTime(goldenNow)
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", Ready: true, State: runningState()}}
		}),
		statePod("failedsync", v1.PodPending, func(p *v1.Pod) {
			p.Status.Reason = "FailedCreatePodSandBox"
			p.Status.PodIP, p.Status.PodIPs = "", nil
			p.Status.StartTime = nil
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "app", State: waiting("ContainerCreating")}}
		}),
	}
}

func TestPodTableGolden(t *testing.T) {
	for _, wide := range []bool{false, true} {
		var b bytes.Buffer
		if err := printPodTable(&b, goldenPods(), wide, goldenNow); err != nil {
			t.Fatal(err)
		}
		name := "pods.txt"
		if wide {
			name = "pods-wide.txt"
		}
		checkGolden(t, name, b.Bytes())
	}
}

// TestPodStatusColumn pins the STATUS column of each state to what
// kubectl prints for it, independently of the golden file.
func TestPodStatusColumn(t *testing.T) {
	want := map[string]string{
		"running": "Running", "crashloop": "CrashLoopBackOff", "completed": "Completed", "error": "Error",
		"exitcode": "ExitCode:3", "noimage": "ImagePullBackOff", "creating": "ContainerCreating", "init": "Init:0/2",
		"init2": "Init:CrashLoopBackOff", "initerror": "Init:Error", "podinit": "PodInitializing", "sidecar": "Running",
		"notready": "NotReady", "terminating": "Terminating", "failedsync": "ContainerCreating",
	}
	for _, p := range goldenPods() {
		key := string(p.UID)[len("uid-"):]
		if got := podRowOf(p, goldenNow).status; got != want[key] {
			t.Errorf("%s: STATUS %q, want %q", key, got, want[key])
		}
	}
}
