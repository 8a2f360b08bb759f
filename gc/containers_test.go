package gc

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/runner/runtime"
)

const testInstance = "inst-1"

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// ctr is a container of pod uid named name, attempt n, created ago before t0.
func ctr(uid, name string, n int, state runtime.State, ago time.Duration) runtime.Container {
	return runtime.Container{
		ID:    fmt.Sprintf("%s-%s-%d", uid, name, n),
		Name:  fmt.Sprintf("k8s_%s_pod-%s_default_%s_%d", name, uid, uid, n),
		State: state,
		Labels: map[string]string{
			LabelPodUID: uid, LabelPodName: "pod-" + uid, LabelPodNamespace: "default",
			LabelContainerName: name, LabelAttempt: strconv.Itoa(n), LabelInstance: testInstance,
			LabelSandboxID: uid + "-POD-0",
		},
		CreatedAt: t0.Add(-ago),
	}
}

// sb is sandbox attempt n of pod uid.
func sb(uid string, n int, state runtime.State, ago time.Duration) runtime.Container {
	c := ctr(uid, "POD", n, state, ago)
	c.Labels[LabelDockerType] = TypeSandbox
	delete(c.Labels, LabelContainerName)
	delete(c.Labels, LabelSandboxID)
	return c
}

func in(c runtime.Container, sandbox string) runtime.Container {
	c.Labels[LabelSandboxID] = sandbox
	return c
}

// crashLoop is pod uid's container "app": dead attempts 0..n-1, the
// first created n+1 minutes ago, one a minute, and attempt n running.
func crashLoop(uid string, n int) []runtime.Container {
	var out []runtime.Container
	for i := 0; i < n; i++ {
		out = append(out, ctr(uid, "app", i, runtime.StateExited, time.Duration(n+1-i)*time.Minute))
	}
	return append(out, ctr(uid, "app", n, runtime.StateRunning, 0))
}

func ids(rs []Removal) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func desired(uids ...string) PodSet {
	p := PodSet{Known: true, Desired: map[types.UID]bool{}}
	for _, u := range uids {
		p.Desired[types.UID(u)] = true
	}
	return p
}

func TestPlanContainers(t *testing.T) {
	attempts := func(uid, name string, from, to int) []string {
		var out []string
		for i := from; i <= to; i++ {
			out = append(out, fmt.Sprintf("%s-%s-%d", uid, name, i))
		}
		return out
	}
	cat := func(lists ...[]runtime.Container) []runtime.Container { return slices.Concat(lists...) }
	other := ctr("x", "app", 0, runtime.StateExited, time.Hour)
	other.Labels[LabelInstance] = "other-runner"
	foreign := ctr("y", "app", 0, runtime.StateExited, time.Hour)
	delete(foreign.Labels, LabelInstance)
	noUID := ctr("z", "app", 0, runtime.StateExited, time.Hour)
	delete(noUID.Labels, LabelPodUID)

	tests := []struct {
		name   string
		list   []runtime.Container
		pods   PodSet
		policy ContainerPolicy
		want   []string
	}{
		{
			name: "crash loop of 20 restarts keeps one dead instance",
			list: crashLoop("a", 20), pods: desired("a"), policy: DefaultContainerPolicy,
			want: attempts("a", "app", 0, 18),
		},
		{
			name: "limit 0 still keeps the newest dead instance of a desired container",
			list: crashLoop("a", 3), pods: desired("a"), policy: ContainerPolicy{MaxPerPodContainer: 0, MaxContainers: -1},
			want: attempts("a", "app", 0, 1),
		},
		{
			name: "limit 2",
			list: crashLoop("a", 5), pods: desired("a"), policy: ContainerPolicy{MaxPerPodContainer: 2, MaxContainers: -1},
			want: attempts("a", "app", 0, 2),
		},
		{
			name: "no limits remove nothing of a desired pod",
			list: crashLoop("a", 5), pods: desired("a"), policy: ContainerPolicy{MaxPerPodContainer: -1, MaxContainers: -1},
			want: []string{},
		},
		{
			name: "MinAge keeps the young ones over the limit",
			list: crashLoop("a", 6), pods: desired("a"), policy: ContainerPolicy{MinAge: 4*time.Minute + time.Second, MaxPerPodContainer: 1, MaxContainers: -1},
			// created 7..2 minutes ago: 7, 6, 5 old enough; the newest dead
			// (2 min) is protected and young; the limit keeps attempt 2 (5 min).
			want: attempts("a", "app", 0, 1),
		},
		{
			name: "a pod no longer desired loses every dead container and sandbox",
			list: cat(crashLoop("a", 2)[:2], []runtime.Container{sb("a", 0, runtime.StateExited, time.Hour)}),
			pods: desired(), policy: DefaultContainerPolicy,
			want: []string{"a-POD-0", "a-app-0", "a-app-1"},
		},
		{
			name: "a gone pod's running container stays, and the sandbox it refers to",
			list: cat(crashLoop("a", 2), []runtime.Container{sb("a", 0, runtime.StateExited, time.Hour)}),
			pods: desired(), policy: DefaultContainerPolicy,
			want: attempts("a", "app", 0, 1),
		},
		{
			name: "until the loop knows its pods, none is gone",
			list: cat(crashLoop("a", 3), []runtime.Container{sb("a", 0, runtime.StateExited, time.Hour)}),
			pods: PodSet{}, policy: DefaultContainerPolicy,
			want: attempts("a", "app", 0, 1),
		},
		{
			name: "nothing of a pod the loop is acting on",
			list: crashLoop("a", 5), pods: PodSet{Known: true, Busy: map[types.UID]bool{"a": true}}, policy: DefaultContainerPolicy,
			want: []string{},
		},
		{
			name: "only this instance's containers",
			list: []runtime.Container{other, foreign, noUID}, pods: desired(), policy: DefaultContainerPolicy,
			want: []string{},
		},
		{
			name: "a container created moments ago is being started, not dead",
			list: []runtime.Container{
				ctr("a", "app", 0, runtime.StateCreated, time.Minute),
				ctr("a", "app", 1, runtime.StateCreated, 30*time.Second),
			},
			pods: desired(), policy: DefaultContainerPolicy,
			want: []string{},
		},
		{
			name: "a container left created for long is dead",
			list: []runtime.Container{ctr("a", "app", 0, runtime.StateCreated, time.Hour), ctr("a", "app", 1, runtime.StateUnknown, time.Hour)},
			pods: desired("a"), policy: DefaultContainerPolicy,
			want: []string{"a-app-0"},
		},
		{
			name: "a container left created for long is dead (gone pod)",
			list: []runtime.Container{ctr("a", "app", 0, runtime.StateCreated, time.Hour), ctr("a", "app", 1, runtime.StateUnknown, time.Hour)},
			pods: desired("b"), policy: DefaultContainerPolicy,
			want: []string{"a-app-0", "a-app-1"},
		},
		{
			name: "each container of a pod has its own limit",
			list: cat(crashLoop("a", 3), []runtime.Container{
				ctr("a", "side", 0, runtime.StateExited, 9*time.Minute), ctr("a", "side", 1, runtime.StateExited, 8*time.Minute),
			}),
			pods: desired("a"), policy: DefaultContainerPolicy,
			want: []string{"a-side-0", "a-app-0", "a-app-1"},
		},
		{
			name: "the total limit is spread over the containers first",
			list: cat(crashLoop("a", 3), crashLoop("b", 3), crashLoop("c", 3)),
			pods: desired("a", "b", "c"), policy: ContainerPolicy{MaxPerPodContainer: -1, MaxContainers: 4},
			// 4/3 → one each, the newest (protected anyway); equal ages are
			// ordered by ID.
			want: []string{"a-app-0", "b-app-0", "c-app-0", "a-app-1", "b-app-1", "c-app-1"},
		},
		{
			name: "then across containers, oldest first, protected ones counted",
			list: cat(
				crashLoop("a", 3),
				[]runtime.Container{ctr("b", "app", 0, runtime.StateExited, 30*time.Minute), ctr("b", "app", 1, runtime.StateExited, 20*time.Minute)},
			),
			pods:   desired("a"), // b is gone: its dead containers go anyway
			policy: ContainerPolicy{MaxPerPodContainer: -1, MaxContainers: 1},
			want:   []string{"b-app-0", "b-app-1", "a-app-0", "a-app-1"},
		},
		{
			name: "the total limit reaches unprotected young-newest units",
			list: slices.Concat(
				youngNewest("a"), youngNewest("b"), youngNewest("c"),
			),
			pods: desired("a", "b", "c"), policy: ContainerPolicy{MinAge: time.Hour, MaxPerPodContainer: -1, MaxContainers: 2},
			// each: 3h and 2h old (candidates), 1 min (protected, too young).
			// Spread: 2/3 → 1 each (drops the 3h ones); then 3 > 2: the oldest
			// of the rest goes (equal ages: the lowest ID counts as oldest).
			want: []string{"a-app-0", "b-app-0", "c-app-0", "a-app-1"},
		},
		{
			name: "old sandboxes of a desired pod go, the newest and referenced ones stay",
			list: []runtime.Container{
				sb("a", 0, runtime.StateExited, 3*time.Hour),
				sb("a", 1, runtime.StateExited, 2*time.Hour),
				sb("a", 2, runtime.StateRunning, time.Hour),
				in(ctr("a", "app", 0, runtime.StateExited, 2*time.Hour), "a-POD-1"),
				in(ctr("a", "app", 1, runtime.StateRunning, time.Hour), "a-POD-2"),
			},
			pods: desired("a"), policy: DefaultContainerPolicy,
			want: []string{"a-POD-0"},
		},
		{
			name: "a finished desired pod keeps its dead sandbox and last containers",
			list: []runtime.Container{
				sb("a", 0, runtime.StateExited, 3*time.Hour),
				ctr("a", "app", 0, runtime.StateExited, 3*time.Hour),
				ctr("a", "init", 0, runtime.StateExited, 3*time.Hour),
			},
			pods: desired("a"), policy: ContainerPolicy{MaxPerPodContainer: 0, MaxContainers: 0},
			want: []string{},
		},
		{
			name: "a sandbox younger than MinAge stays",
			list: []runtime.Container{sb("a", 0, runtime.StateExited, time.Minute)},
			pods: desired(), policy: ContainerPolicy{MinAge: time.Hour, MaxPerPodContainer: 1, MaxContainers: -1},
			want: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(PlanContainers(tt.list, testInstance, tt.pods, tt.policy, t0))
			if !slices.Equal(got, tt.want) {
				t.Errorf("removed %v\nwant    %v", got, tt.want)
			}
		})
	}
}

// youngNewest is pod uid's "app": dead 3h and 2h ago, and dead 1 min ago.
func youngNewest(uid string) []runtime.Container {
	return []runtime.Container{
		ctr(uid, "app", 0, runtime.StateExited, 3*time.Hour),
		ctr(uid, "app", 1, runtime.StateExited, 2*time.Hour),
		ctr(uid, "app", 2, runtime.StateExited, time.Minute),
	}
}

func TestPlanContainersReasonsAndOrder(t *testing.T) {
	list := slices.Concat(crashLoop("a", 3), []runtime.Container{
		sb("b", 0, runtime.StateExited, 10*time.Hour),
		ctr("b", "app", 0, runtime.StateExited, 10*time.Hour),
	})
	got := PlanContainers(list, testInstance, desired("a"), DefaultContainerPolicy, t0)
	want := []Removal{
		{Kind: KindSandbox, ID: "b-POD-0", Name: "k8s_POD_pod-b_default_b_0", Pod: "default/pod-b", PodUID: "b", Reason: ReasonPodGone},
		{Kind: KindContainer, ID: "b-app-0", Name: "k8s_app_pod-b_default_b_0", Pod: "default/pod-b", PodUID: "b", Container: "app", Reason: ReasonPodGone},
		{Kind: KindContainer, ID: "a-app-0", Name: "k8s_app_pod-a_default_a_0", Pod: "default/pod-a", PodUID: "a", Container: "app", Reason: reasonPerContainer(1)},
		{Kind: KindContainer, ID: "a-app-1", Name: "k8s_app_pod-a_default_a_1", Pod: "default/pod-a", PodUID: "a", Container: "app", Reason: reasonPerContainer(1)},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}
