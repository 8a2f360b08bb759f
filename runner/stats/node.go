package stats

import (
	goruntime "runtime"
	"strings"

	cadvisor "github.com/google/cadvisor/lib/model"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeIdentity is what the node is called and how it is reached; runner
// knows it, cadvisor does not.
type NodeIdentity struct {
	Name   string
	HostIP string
	// RunnerVersion stands where the kubelet's version is.
	RunnerVersion string
	// RuntimeVersion is the engine's, e.g. "docker 20.10.24".
	RuntimeVersion string
	// Labels are the node's labels (kubernetes.io/hostname, os, arch).
	Labels map[string]string
}

// Node is this node as a v1 Node: identity, addresses, capacity and
// allocatable (cpu, memory, ephemeral-storage: the size of --root-dir's file
// system). Allocatable equals capacity: runner reserves nothing yet.
// Called by the API's handler on its goroutine.
func (p *Provider) Node(id NodeIdentity) (*v1.Node, error) {
	mi, err := p.Machine()
	if err != nil {
		return nil, err
	}
	ver, err := p.Version()
	if err != nil {
		return nil, err
	}
	var nodeFs *cadvisor.FsInfo
	if fs, err := p.NodeFs(); err == nil {
		nodeFs = &fs
	}
	return buildNode(id, mi, ver, nodeFs), nil
}

// buildNode is the Node of what cadvisor read. Pure.
func buildNode(id NodeIdentity, mi *cadvisor.MachineInfo, ver *cadvisor.VersionInfo, nodeFs *cadvisor.FsInfo) *v1.Node {
	n := &v1.Node{
		TypeMeta:   metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: id.Name, Labels: id.Labels},
	}
	capacity := v1.ResourceList{
		v1.ResourceCPU:    *resource.NewQuantity(int64(mi.NumCores), resource.DecimalSI),
		v1.ResourceMemory: *resource.NewQuantity(int64(mi.MemoryCapacity), resource.BinarySI),
	}
	if nodeFs != nil {
		capacity[v1.ResourceEphemeralStorage] = *resource.NewQuantity(int64(nodeFs.Capacity), resource.BinarySI)
	}
	n.Status.Capacity = capacity
	n.Status.Allocatable = capacity.DeepCopy()
	n.Status.Addresses = []v1.NodeAddress{{Type: v1.NodeHostName, Address: id.Name}}
	if id.HostIP != "" {
		n.Status.Addresses = append([]v1.NodeAddress{{Type: v1.NodeInternalIP, Address: id.HostIP}}, n.Status.Addresses...)
	}
	n.Status.NodeInfo = v1.NodeSystemInfo{
		MachineID: mi.MachineID, SystemUUID: mi.SystemUUID, BootID: mi.BootID,
		KernelVersion: ver.KernelVersion, OSImage: ver.ContainerOsVersion,
		KubeletVersion: id.RunnerVersion, OperatingSystem: goruntime.GOOS, Architecture: goruntime.GOARCH,
	}
	// As the kubelet shows it: "docker://20.10.24".
	if name, v, ok := strings.Cut(id.RuntimeVersion, " "); ok {
		n.Status.NodeInfo.ContainerRuntimeVersion = name + "://" + v
	}
	return n
}
