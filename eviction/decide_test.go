package eviction

import (
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// pod is a pod named name with one container requesting (and limited to)
// what the lists give: "memory=100Mi", "cpu=1". prio < 0: no priority set.
func pod(name string, prio int32, requests, limits []string) *v1.Pod {
	rl := func(list []string) v1.ResourceList {
		if len(list) == 0 {
			return nil
		}
		out := v1.ResourceList{}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			out[v1.ResourceName(k)] = *qty(v)
		}
		return out
	}
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{Requests: rl(requests), Limits: rl(limits)}}}},
	}
	if prio >= 0 {
		p.Spec.Priority = &prio
	}
	return p
}

func names(cs []Candidate) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Pod.Name)
	}
	return strings.Join(out, ",")
}

func TestRank(t *testing.T) {
	be := pod("besteffort", 0, nil, nil)
	burst := pod("burstable", 0, []string{"memory=100"}, nil)
	guar := pod("guaranteed", 0, []string{"memory=100", "cpu=1"}, []string{"memory=100", "cpu=1"})
	high := pod("high", 1000, nil, nil)
	crit := pod("critical", 2000001000, nil, nil)
	burstBig := pod("burstable-big", 0, []string{"memory=100"}, nil)
	noStats := pod("no-stats", 5000, nil, nil)
	u := func(memory, procs, nodeBytes, nodeInodes, imageBytes int64) PodUsage {
		return PodUsage{Memory: memory, Processes: procs, NodeFS: DiskUse{nodeBytes, nodeInodes}, ImageFS: DiskUse{imageBytes, 0}}
	}
	usage := map[types.UID]PodUsage{
		be.UID:       u(50, 1, 10, 100, 10),
		burst.UID:    u(150, 5, 500, 10, 500), // 50 over its request
		guar.UID:     u(90, 50, 0, 0, 0),
		high.UID:     u(1000, 2, 900, 1000, 900),
		crit.UID:     u(5000, 500, 5000, 5000, 5000),
		burstBig.UID: u(400, 1, 0, 0, 0), // 300 over
	}
	pods := []*v1.Pod{crit, guar, high, burst, be, burstBig, noStats}
	cands := Candidates(pods, usage, func(p *v1.Pod) int32 { prio, _ := PodPriority(p, nil); return prio })
	tests := []struct {
		signal Signal
		want   string
	}{
		// Over request (every BestEffort using anything is): priority, then
		// use above request. Under request: priority, then use.
		{SignalMemoryAvailable, "no-stats,burstable-big,besteffort,burstable,high,critical,guaranteed"}, // equal: by name
		{SignalNodeFsAvailable, "no-stats,burstable,besteffort,high,critical,burstable-big,guaranteed"},
		{SignalImageFsAvailable, "no-stats,burstable,besteffort,high,critical,burstable-big,guaranteed"},
		{SignalNodeFsInodesFree, "no-stats,besteffort,burstable,burstable-big,guaranteed,high,critical"},
		{SignalPIDAvailable, "no-stats,guaranteed,burstable,besteffort,burstable-big,high,critical"},
	}
	for _, tt := range tests {
		if got := names(Rank(tt.signal, cands)); got != tt.want {
			t.Errorf("%s:\n got  %s\n want %s", tt.signal, got, tt.want)
		}
	}
	if names(cands) != "critical,guaranteed,high,burstable,besteffort,burstable-big,no-stats" {
		t.Error("Rank changed its input")
	}
}

func TestChoose(t *testing.T) {
	snap := Snapshot{Values: map[Signal]Observation{SignalMemoryAvailable: {Available: 80 << 20, Capacity: 8 << 30}}}
	crit := Candidate{Pod: pod("critical", 2000000000, nil, nil), Priority: 2000000000, HasUsage: true}
	grace := int64(60)
	victim := pod("victim", 0, []string{"memory=100Mi"}, nil)
	victim.Spec.TerminationGracePeriodSeconds = &grace
	ranked := []Candidate{crit, {Pod: victim, Usage: PodUsage{Memory: 300 << 20}, HasUsage: true}}
	hard := Threshold{Signal: SignalMemoryAvailable, Value: Value{Quantity: qty("100Mi")}}
	soft := hard
	soft.GracePeriod = time.Minute

	e, ok := Choose(hard, snap, ranked, 0)
	if !ok || e.Pod != victim || e.GracePeriod != 0 || e.Reason != ReasonEvicted || e.Condition != v1.NodeMemoryPressure || e.Signal != SignalMemoryAvailable {
		t.Fatalf("hard: %+v %v", e, ok)
	}
	want := "The node was low on resource: memory (memory.available). Threshold quantity: 100Mi, available: 80Mi. The pod was using 300Mi, request is 100Mi."
	if e.Message != want {
		t.Errorf("message\n %q\nwant %q", e.Message, want)
	}
	for _, tt := range []struct {
		max, want int64
	}{{0, 0}, {30, 30}, {120, 60}, {-1, 60}} {
		if e, _ := Choose(soft, snap, ranked, tt.max); e.GracePeriod != tt.want {
			t.Errorf("soft, max %d: grace %d, want %d", tt.max, e.GracePeriod, tt.want)
		}
	}
	if _, ok := Choose(hard, snap, ranked[:1], 0); ok {
		t.Error("a critical pod was chosen")
	}
	pid := Threshold{Signal: SignalPIDAvailable, Value: Value{Percentage: 0.1}}
	snap.Values[SignalPIDAvailable] = Observation{Available: 100, Capacity: 32768}
	ranked[1].Usage.Processes = 3000
	if e, _ := Choose(pid, snap, ranked, 0); !strings.Contains(e.Message, "pids (pid.available). Threshold quantity: 3276, available: 100. The pod was running 3000 processes.") {
		t.Errorf("pid message %q", e.Message)
	}
}

func TestAdmit(t *testing.T) {
	be := pod("be", -1, nil, nil)
	burst := pod("burst", -1, []string{"memory=1Gi"}, nil)
	tolerant := pod("tolerant", -1, nil, nil)
	tolerant.Spec.Tolerations = []v1.Toleration{{Key: v1.TaintNodeMemoryPressure, Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoSchedule}}
	tolerantAll := pod("tolerant-all", -1, nil, nil)
	tolerantAll.Spec.Tolerations = []v1.Toleration{{Operator: v1.TolerationOpExists}}
	wrongEffect := pod("wrong-effect", -1, nil, nil)
	wrongEffect.Spec.Tolerations = []v1.Toleration{{Key: v1.TaintNodeMemoryPressure, Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute}}
	mem := map[v1.NodeConditionType]bool{v1.NodeMemoryPressure: true}
	disk := map[v1.NodeConditionType]bool{v1.NodeDiskPressure: true}
	pid := map[v1.NodeConditionType]bool{v1.NodePIDPressure: true}
	memDisk := map[v1.NodeConditionType]bool{v1.NodeMemoryPressure: true, v1.NodeDiskPressure: true}
	tests := []struct {
		name     string
		pod      *v1.Pod
		priority int32
		pressure map[v1.NodeConditionType]bool
		evicted  v1.NodeConditionType
		admit    bool
		reason   string
	}{
		{"no pressure", be, 0, nil, "", true, ""},
		{"memory: BestEffort waits", be, 0, mem, "", false, ReasonNodePressure},
		{"memory: Burstable starts", burst, 0, mem, "", true, ""},
		{"memory: BestEffort tolerating the taint starts", tolerant, 0, mem, "", true, ""},
		{"memory: a toleration of everything", tolerantAll, 0, mem, "", true, ""},
		{"memory: a toleration of another effect", wrongEffect, 0, mem, "", false, ReasonNodePressure},
		{"memory: critical BestEffort starts", be, CriticalPriority, mem, "", true, ""},
		{"disk: Burstable waits", burst, 0, disk, "", false, ReasonNodePressure},
		{"pid: Burstable waits", burst, 1000, pid, "", false, ReasonNodePressure},
		{"disk: critical starts", burst, CriticalPriority, disk, "", true, ""},
		{"memory and disk: tolerant waits", tolerant, 0, memDisk, "", false, ReasonNodePressure},
		{"evicted under memory, still there: waits even if Burstable", burst, 0, mem, v1.NodeMemoryPressure, false, ReasonEvicted},
		{"evicted under memory, cleared", burst, 0, nil, v1.NodeMemoryPressure, true, ""},
		{"evicted under memory, now disk pressure", burst, 0, disk, v1.NodeMemoryPressure, false, ReasonNodePressure},
	}
	for _, tt := range tests {
		a := admit(tt.pod, tt.priority, tt.pressure, tt.evicted)
		if a.Admit != tt.admit || a.Reason != tt.reason {
			t.Errorf("%s: %+v, want admit %v reason %q", tt.name, a, tt.admit, tt.reason)
		}
		if !a.Admit && a.Message == "" {
			t.Errorf("%s: no message", tt.name)
		}
	}
	a := admit(be, 0, memDisk, "")
	if !strings.Contains(a.Message, "MemoryPressure, DiskPressure") {
		t.Errorf("message %q names the conditions", a.Message)
	}
}

func TestQOSClass(t *testing.T) {
	for _, tt := range []struct {
		pod  *v1.Pod
		want v1.PodQOSClass
	}{
		{pod("a", 0, nil, nil), v1.PodQOSBestEffort},
		{pod("b", 0, []string{"cpu=100m"}, nil), v1.PodQOSBurstable},
		{pod("c", 0, []string{"cpu=1", "memory=1Gi"}, []string{"cpu=1", "memory=1Gi"}), v1.PodQOSGuaranteed},
		{pod("d", 0, nil, []string{"cpu=1", "memory=1Gi"}), v1.PodQOSGuaranteed}, // requests default to limits
		{pod("e", 0, []string{"cpu=1", "memory=1Gi"}, []string{"cpu=2", "memory=1Gi"}), v1.PodQOSBurstable},
		{pod("f", 0, nil, []string{"memory=1Gi"}), v1.PodQOSBurstable},
		{pod("g", 0, []string{"ephemeral-storage=1Gi"}, nil), v1.PodQOSBestEffort},
	} {
		if got := QOSClass(tt.pod); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.pod.Name, got, tt.want)
		}
	}
}

func TestPodRequest(t *testing.T) {
	p := pod("p", 0, []string{"memory=100Mi"}, nil)
	p.Spec.Containers = append(p.Spec.Containers, v1.Container{Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceMemory: *qty("50Mi")}}})
	if got := podRequest(p, v1.ResourceMemory); got != 150<<20 {
		t.Errorf("sum %d", got)
	}
	p.Spec.InitContainers = []v1.Container{{Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceMemory: *qty("1Gi")}}}}
	if got := podRequest(p, v1.ResourceMemory); got != 1<<30 {
		t.Errorf("init max %d", got)
	}
	if got := podRequest(p, v1.ResourceEphemeralStorage); got != 0 {
		t.Errorf("none %d", got)
	}
}

func TestPriorityClasses(t *testing.T) {
	classes, err := ParsePriorityClasses([]string{"edge-high=1000000,edge-low=-10", "batch=0"})
	if err != nil {
		t.Fatal(err)
	}
	withClass := func(name string) *v1.Pod { p := pod("x", -1, nil, nil); p.Spec.PriorityClassName = name; return p }
	for _, tt := range []struct {
		pod   *v1.Pod
		want  int32
		known bool
	}{
		{pod("x", 7, nil, nil), 7, true},
		{withClass(""), 0, true},
		{withClass("system-node-critical"), 2000001000, true},
		{withClass("system-cluster-critical"), 2000000000, true},
		{withClass("edge-high"), 1000000, true},
		{withClass("edge-low"), -10, true},
		{withClass("nobody-defined-it"), 0, false},
	} {
		if got, known := PodPriority(tt.pod, classes); got != tt.want || known != tt.known {
			t.Errorf("%q: %d %v, want %d %v", tt.pod.Spec.PriorityClassName, got, known, tt.want, tt.known)
		}
	}
	for _, bad := range []string{"noequals", "Upper=1", "system-x=1", "big=1000000001", "nan=x", "a=1,a=2"} {
		if _, err := ParsePriorityClasses([]string{bad}); err == nil || !strings.Contains(err.Error(), "--priority-class") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if names := slices.Sorted(func(yield func(string) bool) {
		for k := range classes {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(names, []string{"batch", "edge-high", "edge-low"}) {
		t.Errorf("classes %v", names)
	}
}
