package volume

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// emptyDirMount is the file system an emptyDir is mounted with: none for
// the default medium; tmpfs for Memory, sized as the kubelet sizes it (the
// smallest of the node's memory, the pod's memory limit when every
// container sets one, and the volume's sizeLimit); hugetlbfs for HugePages,
// with the page size of the medium or of the pod's one hugepages-<size>
// request. Pure.
func emptyDirMount(pod *v1.Pod, ed *v1.EmptyDirVolumeSource, nodeMemory int64) (fstype, options string, err error) {
	switch medium := ed.Medium; {
	case medium == v1.StorageMediumDefault:
		return "", "", nil
	case medium == v1.StorageMediumMemory:
		return "tmpfs", fmt.Sprintf("mode=0777,size=%d", memoryVolumeSize(pod, ed.SizeLimit, nodeMemory)), nil
	case medium == v1.StorageMediumHugePages, strings.HasPrefix(string(medium), string(v1.StorageMediumHugePagesPrefix)):
		size, err := hugePageSize(pod, medium)
		if err != nil {
			return "", "", err
		}
		return "hugetlbfs", "pagesize=" + strconv.FormatInt(size, 10), nil
	default:
		return "", "", fmt.Errorf("emptyDir medium %q is not supported; use \"\", Memory or HugePages[-<size>]", medium)
	}
}

// memoryVolumeSize is the size of a Memory emptyDir in bytes.
func memoryVolumeSize(pod *v1.Pod, sizeLimit *resource.Quantity, nodeMemory int64) int64 {
	size := nodeMemory
	if limit := podMemoryLimit(pod); limit > 0 && (size <= 0 || limit <= size) {
		size = limit
	}
	if sizeLimit != nil {
		if v := sizeLimit.Value(); v > 0 && (size <= 0 || v <= size) {
			size = v
		}
	}
	return size
}

// podMemoryLimit is the pod's memory limit as the kubelet sets its cgroup:
// the larger of the sum of its containers' limits and the largest init
// container limit, plus overhead; 0 when some container sets none.
func podMemoryLimit(pod *v1.Pod) int64 {
	var sum, initMax int64
	for _, c := range pod.Spec.Containers {
		q, ok := c.Resources.Limits[v1.ResourceMemory]
		if !ok || q.IsZero() {
			return 0
		}
		sum += q.Value()
	}
	for _, c := range pod.Spec.InitContainers {
		q, ok := c.Resources.Limits[v1.ResourceMemory]
		if !ok || q.IsZero() {
			return 0
		}
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			sum += q.Value() // a sidecar runs beside the app containers
			continue
		}
		initMax = max(initMax, q.Value())
	}
	if q, ok := pod.Spec.Overhead[v1.ResourceMemory]; ok {
		sum += q.Value()
	}
	return max(sum, initMax)
}

// hugePageSize is the page size of a HugePages emptyDir: the medium's own
// (HugePages-2Mi), which the pod must request, or, for plain HugePages, the
// one size the pod requests.
func hugePageSize(pod *v1.Pod, medium v1.StorageMedium) (int64, error) {
	requested := map[int64]string{}
	for _, list := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			for _, rl := range []v1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
				for name := range rl {
					s, ok := strings.CutPrefix(string(name), v1.ResourceHugePagesPrefix)
					if !ok {
						continue
					}
					if q, err := resource.ParseQuantity(s); err == nil && q.Value() > 0 {
						requested[q.Value()] = s
					}
				}
			}
		}
	}
	if s, ok := strings.CutPrefix(string(medium), string(v1.StorageMediumHugePagesPrefix)); ok {
		q, err := resource.ParseQuantity(s)
		if err != nil || q.Value() <= 0 {
			return 0, fmt.Errorf("emptyDir medium %s: %q is not a page size", medium, s)
		}
		if _, ok := requested[q.Value()]; !ok {
			return 0, fmt.Errorf("emptyDir medium %s needs a container of the pod to request hugepages-%s", medium, s)
		}
		return q.Value(), nil
	}
	switch len(requested) {
	case 0:
		return 0, fmt.Errorf("emptyDir medium HugePages needs a container of the pod to request hugepages-<size>")
	case 1:
		for size := range requested {
			return size, nil
		}
	}
	names := make([]string, 0, len(requested))
	for _, s := range requested {
		names = append(names, "HugePages-"+s)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("emptyDir medium HugePages is ambiguous: the pod requests several page sizes; use one of %s", strings.Join(names, ", "))
}
