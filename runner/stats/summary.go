package stats

import (
	"strings"
	"time"

	cadvisor "github.com/google/cadvisor/lib/model"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Docker labels the summary reads on cadvisor's containers (dockershim's
// scheme, which runner writes).
const (
	labelPodUID        = "io.kubernetes.pod.uid"
	labelContainerName = "io.kubernetes.container.name"
	labelDockerType    = "io.kubernetes.docker.type"
	labelInstance      = "io.runner.instance"
	typeSandbox        = "podsandbox"
	dockerNamespace    = "docker"
	defaultInterface   = "eth0"
)

// sample is what one summary is built from: cadvisor's containers (the
// root cgroup under "/", Docker's by their cgroup name), the file systems
// and the machine. Fields cadvisor could not give are nil.
type sample struct {
	nodeName   string
	instance   string // only containers with this io.runner.instance label
	containers map[string]*cadvisor.ContainerInfo
	machine    *cadvisor.MachineInfo
	nodeFs     *cadvisor.FsInfo
	imageFs    *cadvisor.FsInfo
	// imagesBytes: the bytes the engine's images take.
	imagesBytes *uint64
	rlimit      *statsapi.RlimitStats
}

// buildSummary is the kubelet's Summary of s for pods (with their status:
// the containers it names are the ones measured). A pod none of whose
// containers cadvisor has sampled is left out, as the kubelet leaves out
// pods it has no stats for. Pure.
func buildSummary(s sample, pods []*v1.Pod) *statsapi.Summary {
	sum := &statsapi.Summary{Node: nodeStats(s), Pods: []statsapi.PodStats{}}
	byPod := map[string][]*cadvisor.ContainerInfo{}
	for _, c := range s.containers {
		if c.Namespace != dockerNamespace || c.Spec.Labels[labelInstance] != s.instance || len(c.Stats) == 0 {
			continue
		}
		uid := c.Spec.Labels[labelPodUID]
		byPod[uid] = append(byPod[uid], c)
	}
	for _, pod := range pods {
		if ps, ok := podStats(s, pod, byPod[string(pod.UID)]); ok {
			sum.Pods = append(sum.Pods, ps)
		}
	}
	return sum
}

func nodeStats(s sample) statsapi.NodeStats {
	n := statsapi.NodeStats{NodeName: s.nodeName, Rlimit: s.rlimit}
	if root := s.containers["/"]; root != nil && len(root.Stats) > 0 {
		n.StartTime = metav1.NewTime(root.Spec.CreationTime)
		last := root.Stats[len(root.Stats)-1]
		n.CPU = cpuStats(root.Stats)
		n.Memory = memoryStats(last, 0)
		if n.Memory != nil && s.machine != nil && s.machine.MemoryCapacity > 0 {
			// memory.available, as the kubelet's eviction computes it.
			avail := uint64(0)
			if ws := *n.Memory.WorkingSetBytes; ws < s.machine.MemoryCapacity {
				avail = s.machine.MemoryCapacity - ws
			}
			n.Memory.AvailableBytes = &avail
		}
		n.Network = networkStats(last)
	}
	if s.nodeFs != nil {
		n.Fs = fsStats(s.nodeFs)
	}
	if s.imageFs != nil {
		img := fsStats(s.imageFs)
		img.UsedBytes = s.imagesBytes
		img.InodesUsed = nil // those of the images alone are not known
		n.Runtime = &statsapi.RuntimeStats{ImageFs: img, ContainerFs: img}
	}
	return n
}

// podStats measures one pod from its containers in cadvisor: those its
// status names (current instances) and its running sandbox.
func podStats(s sample, pod *v1.Pod, found []*cadvisor.ContainerInfo) (statsapi.PodStats, bool) {
	ps := statsapi.PodStats{
		PodRef:     statsapi.PodReference{Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID)},
		Containers: []statsapi.ContainerStats{},
	}
	if pod.Status.StartTime != nil {
		ps.StartTime = *pod.Status.StartTime
	}
	current := map[string]string{} // docker ID → container name
	for _, list := range [][]v1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if id, ok := strings.CutPrefix(cs.ContainerID, "docker://"); ok {
				current[id] = cs.Name
			}
		}
	}
	var members []*cadvisor.ContainerInfo // what the pod's cgroups hold
	var sandbox *cadvisor.ContainerInfo
	for _, c := range found {
		if c.Spec.Labels[labelDockerType] == typeSandbox {
			if sandbox == nil || c.Spec.CreationTime.After(sandbox.Spec.CreationTime) {
				sandbox = c
			}
			continue
		}
		name, ok := current[c.Id]
		if !ok {
			continue // an earlier instance, not yet removed
		}
		members = append(members, c)
		ps.Containers = append(ps.Containers, containerStats(s, name, c))
	}
	if sandbox != nil {
		members = append(members, sandbox)
		if !pod.Spec.HostNetwork {
			ps.Network = networkStats(sandbox.Stats[len(sandbox.Stats)-1])
		}
	}
	if len(members) == 0 {
		return ps, false
	}
	ps.CPU, ps.Memory, ps.ProcessStats = sumUsage(members)
	ps.EphemeralStorage = ephemeral(ps.Containers)
	return ps, true
}

func containerStats(s sample, name string, c *cadvisor.ContainerInfo) statsapi.ContainerStats {
	last := c.Stats[len(c.Stats)-1]
	limit := uint64(0)
	if c.Spec.HasMemory {
		limit = c.Spec.Memory.Limit
	}
	cs := statsapi.ContainerStats{
		Name:      name,
		StartTime: metav1.NewTime(c.Spec.CreationTime),
		CPU:       cpuStats(c.Stats),
		Memory:    memoryStats(last, limit),
	}
	cs.Rootfs, cs.Logs = containerFs(last, s.imageFs)
	return cs
}

// cpuStats: the cumulative usage of the latest sample, and the rate over
// the last two (absent with one sample).
func cpuStats(samples []*cadvisor.ContainerStats) *statsapi.CPUStats {
	last := samples[len(samples)-1]
	if last.Cpu == nil {
		return nil
	}
	total := last.Cpu.Usage.Total
	out := &statsapi.CPUStats{Time: metav1.NewTime(last.Timestamp), UsageCoreNanoSeconds: &total}
	if len(samples) >= 2 {
		prev := samples[len(samples)-2]
		if prev.Cpu != nil && last.Timestamp.After(prev.Timestamp) && total >= prev.Cpu.Usage.Total {
			elapsed := float64(last.Timestamp.Sub(prev.Timestamp))
			rate := uint64(float64(total-prev.Cpu.Usage.Total) / elapsed * float64(time.Second))
			out.UsageNanoCores = &rate
		}
	}
	return out
}

// memoryStats of one sample; limit (0: none) gives the available bytes.
func memoryStats(st *cadvisor.ContainerStats, limit uint64) *statsapi.MemoryStats {
	m := st.Memory
	if m == nil {
		return nil
	}
	out := &statsapi.MemoryStats{
		Time:            metav1.NewTime(st.Timestamp),
		UsageBytes:      ptr(m.Usage),
		WorkingSetBytes: ptr(m.WorkingSet),
		RSSBytes:        ptr(m.RSS),
		PageFaults:      ptr(m.ContainerData.Pgfault),
		MajorPageFaults: ptr(m.ContainerData.Pgmajfault),
	}
	// cgroups report "no limit" as a huge number.
	if limit > 0 && limit < 1<<62 {
		avail := uint64(0)
		if m.WorkingSet < limit {
			avail = limit - m.WorkingSet
		}
		out.AvailableBytes = &avail
	}
	return out
}

// networkStats: every interface, and the default one (eth0, else the
// first) at the top level, as the kubelet shows them.
func networkStats(st *cadvisor.ContainerStats) *statsapi.NetworkStats {
	if st.Network == nil || len(st.Network.Interfaces) == 0 {
		return nil
	}
	out := &statsapi.NetworkStats{Time: metav1.NewTime(st.Timestamp)}
	for _, i := range st.Network.Interfaces {
		is := statsapi.InterfaceStats{Name: i.Name, RxBytes: ptr(i.RxBytes), RxErrors: ptr(i.RxErrors),
			TxBytes: ptr(i.TxBytes), TxErrors: ptr(i.TxErrors)}
		out.Interfaces = append(out.Interfaces, is)
		if i.Name == defaultInterface || out.Name == "" {
			out.InterfaceStats = is
		}
	}
	return out
}

// containerFs splits what cadvisor's Docker handler measured of a
// container: its writable layer (BaseUsage) and its directory under
// Docker's data root, which holds its json-file logs (the rest of Usage).
// Both live on imagefs. Absent until the handler has measured them.
func containerFs(st *cadvisor.ContainerStats, imageFs *cadvisor.FsInfo) (rootfs, logs *statsapi.FsStats) {
	for _, f := range st.Filesystem {
		if imageFs != nil && f.Device != imageFs.Device {
			continue
		}
		mk := func(used uint64) *statsapi.FsStats {
			out := &statsapi.FsStats{Time: metav1.NewTime(st.Timestamp), UsedBytes: ptr(used)}
			if imageFs != nil {
				out.CapacityBytes, out.AvailableBytes = ptr(imageFs.Capacity), ptr(imageFs.Available)
			}
			return out
		}
		rootfs = mk(f.BaseUsage)
		if f.Usage >= f.BaseUsage {
			logs = mk(f.Usage - f.BaseUsage)
		}
		return rootfs, logs
	}
	return nil, nil
}

// sumUsage adds up the cpu, memory and processes of a pod's containers
// (sandbox included: it is part of the pod, as in the kubelet's pod cgroup).
// A figure is given only when every container has it.
func sumUsage(members []*cadvisor.ContainerInfo) (*statsapi.CPUStats, *statsapi.MemoryStats, *statsapi.ProcessStats) {
	var cpu statsapi.CPUStats
	var mem statsapi.MemoryStats
	var procs uint64
	cpuOK, rateOK, memOK, procOK := true, true, true, true
	var coreNs, nanoCores, usage, ws, rss, pf, majpf uint64
	for _, c := range members {
		last := c.Stats[len(c.Stats)-1]
		if last.Timestamp.After(cpu.Time.Time) {
			cpu.Time, mem.Time = metav1.NewTime(last.Timestamp), metav1.NewTime(last.Timestamp)
		}
		if cs := cpuStats(c.Stats); cs != nil {
			coreNs += *cs.UsageCoreNanoSeconds
			if cs.UsageNanoCores != nil {
				nanoCores += *cs.UsageNanoCores
			} else {
				rateOK = false
			}
		} else {
			cpuOK = false
		}
		if m := last.Memory; m != nil {
			usage += m.Usage
			ws += m.WorkingSet
			rss += m.RSS
			pf += m.ContainerData.Pgfault
			majpf += m.ContainerData.Pgmajfault
		} else {
			memOK = false
		}
		if last.Processes != nil {
			procs += last.Processes.ProcessCount
		} else {
			procOK = false
		}
	}
	var cpuOut *statsapi.CPUStats
	if cpuOK {
		cpu.UsageCoreNanoSeconds = &coreNs
		if rateOK {
			cpu.UsageNanoCores = &nanoCores
		}
		cpuOut = &cpu
	}
	var memOut *statsapi.MemoryStats
	if memOK {
		mem.UsageBytes, mem.WorkingSetBytes, mem.RSSBytes = &usage, &ws, &rss
		mem.PageFaults, mem.MajorPageFaults = &pf, &majpf
		memOut = &mem
	}
	var procOut *statsapi.ProcessStats
	if procOK {
		procOut = &statsapi.ProcessStats{ProcessCount: &procs}
	}
	return cpuOut, memOut, procOut
}

// ephemeral is a pod's local storage use: its containers' writable layers
// and logs (emptyDir volumes are not measured yet). Absent when none of
// them has been measured.
func ephemeral(containers []statsapi.ContainerStats) *statsapi.FsStats {
	var used uint64
	var at metav1.Time
	seen := false
	for _, c := range containers {
		for _, f := range []*statsapi.FsStats{c.Rootfs, c.Logs} {
			if f == nil || f.UsedBytes == nil {
				continue
			}
			used += *f.UsedBytes
			seen = true
			if f.Time.After(at.Time) {
				at = f.Time
			}
		}
	}
	if !seen {
		return nil
	}
	return &statsapi.FsStats{Time: at, UsedBytes: &used}
}

// fsStats converts cadvisor's view of a file system.
func fsStats(f *cadvisor.FsInfo) *statsapi.FsStats {
	out := &statsapi.FsStats{
		Time:           metav1.NewTime(f.Timestamp),
		AvailableBytes: ptr(f.Available),
		CapacityBytes:  ptr(f.Capacity),
		UsedBytes:      ptr(f.Usage),
	}
	if f.Inodes != nil && f.InodesFree != nil {
		out.Inodes, out.InodesFree = ptr(*f.Inodes), ptr(*f.InodesFree)
		if *f.Inodes >= *f.InodesFree {
			out.InodesUsed = ptr(*f.Inodes - *f.InodesFree)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
