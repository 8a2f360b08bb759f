package stats

import (
	"testing"
	"time"

	cadvisor "github.com/google/cadvisor/lib/model"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// cadvisorDocker is a cadvisor Docker container with two samples 10 s apart
// whose cpu grew by cpuDelta ns.
func cadvisorDocker(id, podUID, name, typ string, ws uint64, cpuDelta uint64) *cadvisor.ContainerInfo {
	labels := map[string]string{labelPodUID: podUID, labelDockerType: typ, labelInstance: "inst"}
	if name != "" {
		labels[labelContainerName] = name
	}
	mk := func(at time.Time, cpu uint64) *cadvisor.ContainerStats {
		return &cadvisor.ContainerStats{
			Timestamp:  at,
			Cpu:        &cadvisor.CpuStats{Usage: cadvisor.CpuUsage{Total: cpu}},
			Memory:     &cadvisor.MemoryStats{Usage: ws + 100, WorkingSet: ws, RSS: ws / 2},
			Processes:  &cadvisor.ProcessStats{ProcessCount: 1},
			Filesystem: []cadvisor.FsStats{{Device: "/dev/vda", BaseUsage: 4096, Usage: 4096 + 1000}},
			Network: &cadvisor.NetworkStats{Interfaces: []cadvisor.InterfaceStats{
				{Name: "lo", RxBytes: 1}, {Name: "eth0", RxBytes: 500, TxBytes: 700}}},
		}
	}
	return &cadvisor.ContainerInfo{
		ContainerReference: cadvisor.ContainerReference{Id: id, Name: "/docker/" + id, Namespace: dockerNamespace},
		Spec:               cadvisor.ContainerSpec{Labels: labels, CreationTime: t0, HasMemory: true, Memory: cadvisor.MemorySpec{Limit: 1 << 63}},
		Stats:              []*cadvisor.ContainerStats{mk(t0, 1000), mk(t0.Add(10*time.Second), 1000+cpuDelta)},
	}
}

func testPod(uid string, hostNetwork bool, ids ...string) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-node", Namespace: "default", UID: types.UID("uid-" + uid)}}
	p.Spec.HostNetwork = hostNetwork
	for i, id := range ids {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, v1.ContainerStatus{Name: []string{"app", "side"}[i], ContainerID: "docker://" + id})
	}
	return p
}

func TestBuildSummary(t *testing.T) {
	inodes, free := uint64(1000), uint64(400)
	s := sample{
		nodeName: "node", instance: "inst",
		containers: map[string]*cadvisor.ContainerInfo{
			"/": {ContainerReference: cadvisor.ContainerReference{Name: "/"},
				Spec:  cadvisor.ContainerSpec{CreationTime: t0},
				Stats: []*cadvisor.ContainerStats{{Timestamp: t0, Memory: &cadvisor.MemoryStats{WorkingSet: 3 << 30}, Cpu: &cadvisor.CpuStats{}}}},
			"/docker/sb1":  cadvisorDocker("sb1", "uid-a", "POD", typeSandbox, 1<<20, 0),
			"/docker/app1": cadvisorDocker("app1", "uid-a", "app", "container", 10<<20, 5e9), // half a core
			"/docker/old1": cadvisorDocker("old1", "uid-a", "app", "container", 99<<20, 0),   // an earlier attempt
			"/docker/sb2":  cadvisorDocker("sb2", "uid-b", "POD", typeSandbox, 1<<20, 0),
			"/docker/app2": cadvisorDocker("app2", "uid-b", "app", "container", 20<<20, 0),
			"/docker/alien": func() *cadvisor.ContainerInfo {
				c := cadvisorDocker("alien", "uid-a", "app", "container", 1, 0)
				c.Spec.Labels[labelInstance] = "other runner"
				return c
			}(),
		},
		machine: &cadvisor.MachineInfo{MemoryCapacity: 8 << 30},
		nodeFs:  &cadvisor.FsInfo{Device: "/dev/vda", Capacity: 100, Available: 40, Usage: 60, Inodes: &inodes, InodesFree: &free},
		imageFs: &cadvisor.FsInfo{Device: "/dev/vda", Capacity: 100, Available: 40, Usage: 60, Inodes: &inodes, InodesFree: &free},
	}
	pods := []*v1.Pod{testPod("a", false, "app1"), testPod("b", true, "app2"), testPod("c", false, "gone")}
	sum := buildSummary(s, pods)

	n := sum.Node
	if n.NodeName != "node" || *n.Memory.AvailableBytes != 5<<30 || *n.Memory.WorkingSetBytes != 3<<30 {
		t.Errorf("node memory: %+v", n.Memory)
	}
	if *n.Fs.InodesUsed != 600 || *n.Fs.CapacityBytes != 100 || n.Runtime.ImageFs.UsedBytes != nil {
		t.Errorf("node fs %+v imagefs %+v (images' bytes unknown: no usedBytes)", n.Fs, n.Runtime.ImageFs)
	}
	if len(sum.Pods) != 2 {
		t.Fatalf("pods: got %d, want 2 (the pod with no sampled container is left out)", len(sum.Pods))
	}
	a := sum.Pods[0]
	if a.PodRef.UID != "uid-a" || len(a.Containers) != 1 || a.Containers[0].Name != "app" {
		t.Fatalf("pod a: %+v", a)
	}
	app := a.Containers[0]
	if *app.CPU.UsageNanoCores != 5e8 {
		t.Errorf("app nano cores: got %d, want 5e8", *app.CPU.UsageNanoCores)
	}
	if app.Memory.AvailableBytes != nil {
		t.Errorf("no limit: availableBytes must be absent, got %d", *app.Memory.AvailableBytes)
	}
	if *app.Rootfs.UsedBytes != 4096 || *app.Logs.UsedBytes != 1000 || *app.Rootfs.CapacityBytes != 100 {
		t.Errorf("app rootfs %+v logs %+v", app.Rootfs, app.Logs)
	}
	// The pod: app + sandbox, not the old attempt nor the other runner's.
	if got := *a.Memory.WorkingSetBytes; got != 11<<20 {
		t.Errorf("pod a working set: got %d, want %d", got, 11<<20)
	}
	if *a.ProcessStats.ProcessCount != 2 || *a.EphemeralStorage.UsedBytes != 5096 {
		t.Errorf("pod a processes %d, ephemeral %d", *a.ProcessStats.ProcessCount, *a.EphemeralStorage.UsedBytes)
	}
	if a.Network == nil || a.Network.Name != "eth0" || *a.Network.RxBytes != 500 {
		t.Errorf("pod a network: %+v", a.Network)
	}
	if sum.Pods[1].Network != nil {
		t.Errorf("a host-network pod's network is the node's: must be absent, got %+v", sum.Pods[1].Network)
	}
}

func TestCPURateNeedsTwoSamples(t *testing.T) {
	one := []*cadvisor.ContainerStats{{Timestamp: t0, Cpu: &cadvisor.CpuStats{Usage: cadvisor.CpuUsage{Total: 7}}}}
	cs := cpuStats(one)
	if *cs.UsageCoreNanoSeconds != 7 || cs.UsageNanoCores != nil {
		t.Errorf("one sample: %+v", cs)
	}
	// A large delta must not overflow: 2 cores for 10 s.
	two := append(one, &cadvisor.ContainerStats{Timestamp: t0.Add(10 * time.Second), Cpu: &cadvisor.CpuStats{Usage: cadvisor.CpuUsage{Total: 7 + 2e10}}})
	if got := *cpuStats(two).UsageNanoCores; got != 2e9 {
		t.Errorf("2 cores: got %d nanocores", got)
	}
}

func TestMemoryAvailableWithLimit(t *testing.T) {
	st := &cadvisor.ContainerStats{Memory: &cadvisor.MemoryStats{WorkingSet: 30}}
	if got := *memoryStats(st, 100).AvailableBytes; got != 70 {
		t.Errorf("available: got %d, want 70", got)
	}
	if got := *memoryStats(&cadvisor.ContainerStats{Memory: &cadvisor.MemoryStats{WorkingSet: 300}}, 100).AvailableBytes; got != 0 {
		t.Errorf("over the limit: got %d, want 0", got)
	}
}

func TestBuildNode(t *testing.T) {
	mi := &cadvisor.MachineInfo{NumCores: 2, MemoryCapacity: 8 << 30, MachineID: "m", BootID: "b"}
	ver := &cadvisor.VersionInfo{KernelVersion: "6.1", ContainerOsVersion: "Debian"}
	n := buildNode(NodeIdentity{Name: "edge1", HostIP: "192.0.2.7", RunnerVersion: "v1", RuntimeVersion: "docker 20.10.24"}, mi, ver, &cadvisor.FsInfo{Capacity: 100 << 30})
	if got := n.Status.Capacity.Cpu().Value(); got != 2 {
		t.Errorf("cpu: %d", got)
	}
	if got := n.Status.Allocatable.Memory().Value(); got != 8<<30 {
		t.Errorf("allocatable memory: %d", got)
	}
	if got := n.Status.Capacity.StorageEphemeral().Value(); got != 100<<30 {
		t.Errorf("ephemeral storage: %d", got)
	}
	if n.Status.Addresses[0].Address != "192.0.2.7" || n.Status.NodeInfo.ContainerRuntimeVersion != "docker://20.10.24" {
		t.Errorf("addresses %+v info %+v", n.Status.Addresses, n.Status.NodeInfo)
	}
	if _, ok := buildNode(NodeIdentity{Name: "x"}, mi, ver, nil).Status.Capacity[v1.ResourceEphemeralStorage]; ok {
		t.Errorf("ephemeral storage without nodefs: must be absent")
	}
}
