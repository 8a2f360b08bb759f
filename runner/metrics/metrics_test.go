package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

type podList []*v1.Pod

func (l podList) List() []*v1.Pod { return l }

func running(at time.Time) v1.ContainerState {
	return v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: metav1.NewTime(at)}}
}

func exited(id string) v1.ContainerState {
	return v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: 1, ContainerID: id}}
}

func TestCountPods(t *testing.T) {
	sandboxUp := []v1.PodCondition{{Type: v1.PodReadyToStartContainers, Status: v1.ConditionTrue}}
	pods := podList{
		{Status: v1.PodStatus{Conditions: sandboxUp, ContainerStatuses: []v1.ContainerStatus{
			{ContainerID: "docker://b", State: running(time.Now()), LastTerminationState: exited("docker://a")},
			{ContainerID: "docker://c", State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}, LastTerminationState: exited("docker://c")},
		}}},
		{Status: v1.PodStatus{ // sandbox down; never created; one completed init container
			Conditions:            []v1.PodCondition{{Type: v1.PodReadyToStartContainers, Status: v1.ConditionFalse}},
			InitContainerStatuses: []v1.ContainerStatus{{ContainerID: "docker://i", State: exited("docker://i")}},
			ContainerStatuses:     []v1.ContainerStatus{{State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ErrImagePull"}}}},
		}},
	}
	n, states := countPods(pods)
	if n != 1 {
		t.Errorf("running pods: got %d, want 1", n)
	}
	want := map[string]int{stateRunning: 1, stateExited: 3}
	for _, s := range []string{stateRunning, stateExited, stateCreated} {
		if states[s] != want[s] {
			t.Errorf("%s: got %d, want %d", s, states[s], want[s])
		}
	}
}

func TestStartWatch(t *testing.T) {
	seen := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pod := func(uid string, phase v1.PodPhase, started time.Time) *v1.Pod {
		p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{UID: types.UID("u-" + uid),
			Annotations: map[string]string{manifest.AnnotationConfigSeen: seen.Format(time.RFC3339Nano)}}}
		p.Status.Phase = phase
		if phase == v1.PodRunning {
			p.Status.ContainerStatuses = []v1.ContainerStatus{{State: running(started)}}
		}
		return p
	}
	w := newStartWatch()
	if evs := w.update([]*v1.Pod{pod("a", v1.PodPending, time.Time{})}, seen.Add(time.Second)); len(evs) != 0 {
		t.Fatalf("pending: %+v", evs)
	}
	evs := w.update([]*v1.Pod{pod("a", v1.PodRunning, seen.Add(2*time.Second)), pod("adopted", v1.PodRunning, seen.Add(-time.Hour))}, seen.Add(3*time.Second))
	if len(evs) != 1 || evs[0].uid != "u-a" || evs[0].started != 3*time.Second {
		t.Fatalf("first running: %+v (the adopted pod, running before runner saw it, is not measured)", evs)
	}
	if evs := w.update([]*v1.Pod{pod("a", v1.PodRunning, seen.Add(2*time.Second))}, seen.Add(4*time.Second)); len(evs) != 0 {
		t.Fatalf("measured once: %+v", evs)
	}
	w.update(nil, seen.Add(5*time.Second)) // torn down
	evs = w.update([]*v1.Pod{pod("a", v1.PodRunning, seen.Add(2*time.Second))}, seen.Add(6*time.Second))
	if len(evs) != 1 || !evs[0].restarted || evs[0].started != 6*time.Second {
		t.Fatalf("back with the same UID: %+v", evs)
	}
	w.update(nil, seen.Add(7*time.Second))
	w.update(nil, seen.Add(7*time.Second+goneMemory+time.Second))
	if len(w.gone) != 0 {
		t.Errorf("UIDs gone for longer than %v are forgotten: %v", goneMemory, w.gone)
	}
}

func TestInstrumentedRuntime(t *testing.T) {
	m := New(Config{})
	f := fake.New()
	rt := m.InstrumentRuntime(f)
	ctx := context.Background()
	if err := rt.ImportImage(ctx, "img:1", strings.NewReader(""), nil); err != nil {
		t.Fatal(err)
	}
	sb, err := rt.CreateContainer(ctx, runtime.ContainerSpec{Name: "sb", Image: "img:1", Labels: map[string]string{labelDockerType: typeSandbox}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, sb); err != nil {
		t.Fatal(err)
	}
	f.FailNext("CreateContainer", errors.New("no"))
	if _, err := rt.CreateContainer(ctx, runtime.ContainerSpec{Name: "c1", Image: "img:1"}); err == nil {
		t.Fatal("injected create error lost")
	}
	id, err := rt.CreateContainer(ctx, runtime.ContainerSpec{Name: "i1", Image: "img:1", Labels: map[string]string{labelInitContainer: "true"}})
	if err != nil {
		t.Fatal(err)
	}
	f.FailNext("StartContainer", errors.New("no"))
	if err := rt.StartContainer(ctx, id); err == nil {
		t.Fatal("injected start error lost")
	}
	for name, c := range map[string]struct {
		got  float64
		want float64
	}{
		"started pods":                {testutil.ToFloat64(m.startedPods), 1},
		"started pods errors":         {testutil.ToFloat64(m.startedPodsErrors), 0},
		"started containers":          {testutil.ToFloat64(m.startedContainers.WithLabelValues(typeContainer)), 1},
		"started init containers":     {testutil.ToFloat64(m.startedContainers.WithLabelValues(typeInitContainer)), 1},
		"create errors":               {testutil.ToFloat64(m.startedContainersErrors.WithLabelValues(typeContainer, codeCreateError)), 1},
		"run errors":                  {testutil.ToFloat64(m.startedContainersErrors.WithLabelValues(typeInitContainer, codeRunError)), 1},
		"create_container operations": {testutil.ToFloat64(m.runtimeOps.WithLabelValues(opCreateContainer)), 3},
		"create_container errors":     {testutil.ToFloat64(m.runtimeErrors.WithLabelValues(opCreateContainer)), 1},
		"start_container errors":      {testutil.ToFloat64(m.runtimeErrors.WithLabelValues(opStartContainer)), 1},
		"import_image operations":     {testutil.ToFloat64(m.runtimeOps.WithLabelValues(opImportImage)), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", name, c.got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.runtimeDuration); n != 3 {
		t.Errorf("duration series: got %d, want 3 (import, create, start)", n)
	}
}

func TestRegistryGathers(t *testing.T) {
	m := New(Config{NodeName: "n1", Pods: podList{}})
	m.ObserveSnapshot(manifest.Snapshot{Source: manifest.SourceFile, Partial: true, Problems: manifest.Problems{{File: "a.yaml"}}})
	m.ObservePodWorker("create", time.Second)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range fams {
		have[f.GetName()] = true
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "kubelet_running_pods", "kubelet_running_containers",
		"kubelet_node_name", "kubelet_pod_worker_duration_seconds", "runner_manifest_problems", "runner_manifest_source_errors_total", "runner_desired_pods"} {
		if !have[name] {
			t.Errorf("series %s missing", name)
		}
	}
	if got := testutil.ToFloat64(m.sourceErrors.WithLabelValues(manifest.SourceFile)); got != 1 {
		t.Errorf("source errors: %v", got)
	}
}
