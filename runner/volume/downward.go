package volume

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Node is what the downward API tells of the machine: the host's address
// and the capacity a container limit falls back to when the container sets
// none, as the kubelet falls back to node allocatable.
type Node struct {
	// HostIP is status.hostIP (and the pod IP of host-network pods).
	HostIP string
	// CPUs, MemoryBytes and EphemeralStorageBytes stand in for
	// limits.cpu, limits.memory and limits.ephemeral-storage.
	CPUs                  int
	MemoryBytes           int64
	EphemeralStorageBytes int64
}

// FieldValue is the value of a downward-API fieldRef (env or volume file)
// as the kubelet gives it: metadata.labels and metadata.annotations are
// sorted key="value" lines; a subscripted label or annotation that is not
// set is empty; status.podIP is the pod's own address (the host's on the
// host network). Pure; called by runner for env and by PreparePod.
func FieldValue(pod *v1.Pod, fieldPath string, node Node) (string, error) {
	switch fieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return node.HostIP, nil
	case "status.podIP", "status.podIPs":
		if pod.Spec.HostNetwork {
			return node.HostIP, nil
		}
		return pod.Status.PodIP, nil
	}
	if key, ok := subscript(fieldPath, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(fieldPath, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", fieldPath)
}

// subscript returns key when fieldPath is base['key'].
func subscript(fieldPath, base string) (string, bool) {
	rest, ok := strings.CutPrefix(fieldPath, base+"['")
	if !ok || !strings.HasSuffix(rest, "']") {
		return "", false
	}
	return strings.TrimSuffix(rest, "']"), true
}

// formatMap renders labels or annotations as the kubelet does: one
// key="value" line per key, sorted, no newline after the last.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return strings.Join(lines, "\n")
}

// ResourceValue is the value of a resourceFieldRef of container c, divided
// by the selector's divisor and rounded up, as the kubelet computes it: a
// limit the container does not set (cpu, memory, ephemeral-storage) is the
// node's capacity. Pure; called by runner for env and by PreparePod.
func ResourceValue(c *v1.Container, rf *v1.ResourceFieldSelector, node Node) (string, error) {
	divisor := rf.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	kind, name, ok := strings.Cut(rf.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("unsupported resource %q", rf.Resource)
	}
	list := c.Resources.Requests
	if kind == "limits" {
		list = c.Resources.Limits
	}
	q, set := list[v1.ResourceName(name)]
	switch {
	case name == "cpu":
		if !set && kind == "limits" {
			q = *resource.NewQuantity(int64(node.CPUs), resource.DecimalSI)
		}
		return strconv.FormatInt(ceilDiv(q.MilliValue(), divisor.MilliValue()), 10), nil
	case name == "memory":
		if !set && kind == "limits" {
			q = *resource.NewQuantity(node.MemoryBytes, resource.BinarySI)
		}
	case name == "ephemeral-storage":
		if !set && kind == "limits" {
			q = *resource.NewQuantity(node.EphemeralStorageBytes, resource.BinarySI)
		}
	case strings.HasPrefix(name, v1.ResourceHugePagesPrefix):
	default:
		return "", fmt.Errorf("unsupported resource %q", rf.Resource)
	}
	return strconv.FormatInt(ceilDiv(q.Value(), divisor.Value()), 10), nil
}

// ceilDiv divides rounding up; a divisor below 1 counts as 1.
func ceilDiv(n, d int64) int64 {
	if d < 1 {
		d = 1
	}
	if n <= 0 {
		return 0
	}
	return (n + d - 1) / d
}

// file is one file of a downwardAPI or projected volume.
type file struct {
	data []byte
	mode os.FileMode
}

// downwardFiles computes the files of downwardAPI items, each with its mode
// (the item's, else defaultMode, else 0644). Pure.
func downwardFiles(pod *v1.Pod, items []v1.DownwardAPIVolumeFile, defaultMode *int32, node Node, into map[string]file) error {
	for _, item := range items {
		if err := CheckItemPath(item.Path); err != nil {
			return err
		}
		if _, dup := into[item.Path]; dup {
			return fmt.Errorf("file path %q is used twice in the volume", item.Path)
		}
		var val string
		var err error
		switch {
		case item.FieldRef != nil:
			val, err = FieldValue(pod, item.FieldRef.FieldPath, node)
		case item.ResourceFieldRef != nil:
			c := findContainer(pod, item.ResourceFieldRef.ContainerName)
			if c == nil {
				err = fmt.Errorf("resourceFieldRef names no container %q", item.ResourceFieldRef.ContainerName)
			} else {
				val, err = ResourceValue(c, item.ResourceFieldRef, node)
			}
		default:
			err = fmt.Errorf("sets neither fieldRef nor resourceFieldRef")
		}
		if err != nil {
			return fmt.Errorf("file %s: %w", item.Path, err)
		}
		mode := os.FileMode(v1.DownwardAPIVolumeSourceDefaultMode)
		switch {
		case item.Mode != nil:
			mode = os.FileMode(*item.Mode)
		case defaultMode != nil:
			mode = os.FileMode(*defaultMode)
		}
		into[item.Path] = file{data: []byte(val), mode: mode & os.ModePerm}
	}
	return nil
}

// projectedFiles computes the files of a projected volume, whose sources
// may only be downwardAPI (validation refuses the others). Pure.
func projectedFiles(pod *v1.Pod, src *v1.ProjectedVolumeSource, node Node) (map[string]file, error) {
	mode := src.DefaultMode
	if mode == nil {
		m := int32(v1.ProjectedVolumeSourceDefaultMode)
		mode = &m
	}
	files := map[string]file{}
	for i, s := range src.Sources {
		if s.DownwardAPI == nil {
			return nil, fmt.Errorf("sources[%d]: only downwardAPI sources can be projected without an apiserver", i)
		}
		if err := downwardFiles(pod, s.DownwardAPI.Items, mode, node, files); err != nil {
			return nil, fmt.Errorf("sources[%d]: %w", i, err)
		}
	}
	return files, nil
}

// findContainer finds an init or app container of the pod by name.
func findContainer(pod *v1.Pod, name string) *v1.Container {
	for _, list := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}
