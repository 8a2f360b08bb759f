package volume

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func withLimits(pod *v1.Pod, mem ...string) *v1.Pod {
	pod.Spec.Containers = nil
	for i, m := range mem {
		c := v1.Container{Name: string(rune('a' + i))}
		if m != "" {
			c.Resources.Limits = v1.ResourceList{v1.ResourceMemory: resource.MustParse(m)}
		}
		pod.Spec.Containers = append(pod.Spec.Containers, c)
	}
	return pod
}

func TestEmptyDirMount(t *testing.T) {
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	const node = 8 << 30
	hugePod := testPod("u")
	hugePod.Spec.Containers[0].Resources.Requests = v1.ResourceList{"hugepages-2Mi": resource.MustParse("4Mi")}
	twoSizes := testPod("u")
	twoSizes.Spec.Containers[0].Resources.Requests = v1.ResourceList{"hugepages-2Mi": resource.MustParse("4Mi"), "hugepages-1Gi": resource.MustParse("1Gi")}
	for _, tc := range []struct {
		name         string
		pod          *v1.Pod
		ed           v1.EmptyDirVolumeSource
		fstype, opts string
		err          string
	}{
		{name: "disk", pod: testPod("u"), ed: v1.EmptyDirVolumeSource{}},
		{name: "memory, no limits: node memory", pod: withLimits(testPod("u"), "64Mi", ""),
			ed: v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory}, fstype: "tmpfs", opts: "mode=0777,size=8589934592"},
		{name: "memory: the pod's limit", pod: withLimits(testPod("u"), "64Mi", "32Mi"),
			ed: v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory}, fstype: "tmpfs", opts: "mode=0777,size=100663296"},
		{name: "memory: sizeLimit below the pod's limit", pod: withLimits(testPod("u"), "64Mi"),
			ed: v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory, SizeLimit: q("1Mi")}, fstype: "tmpfs", opts: "mode=0777,size=1048576"},
		{name: "memory: sizeLimit above the pod's limit", pod: withLimits(testPod("u"), "64Mi"),
			ed: v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory, SizeLimit: q("1Gi")}, fstype: "tmpfs", opts: "mode=0777,size=67108864"},
		{name: "memory: sizeLimit above the node", pod: testPod("u"),
			ed: v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory, SizeLimit: q("1Ti")}, fstype: "tmpfs", opts: "mode=0777,size=8589934592"},
		{name: "hugepages of the pod's size", pod: hugePod,
			ed: v1.EmptyDirVolumeSource{Medium: v1.StorageMediumHugePages}, fstype: "hugetlbfs", opts: "pagesize=2097152"},
		{name: "hugepages of a named size", pod: twoSizes,
			ed: v1.EmptyDirVolumeSource{Medium: "HugePages-1Gi"}, fstype: "hugetlbfs", opts: "pagesize=1073741824"},
		{name: "hugepages, no request", pod: testPod("u"), ed: v1.EmptyDirVolumeSource{Medium: v1.StorageMediumHugePages}, err: "needs a container"},
		{name: "hugepages, size not requested", pod: hugePod, ed: v1.EmptyDirVolumeSource{Medium: "HugePages-1Gi"}, err: "hugepages-1Gi"},
		{name: "hugepages, ambiguous", pod: twoSizes, ed: v1.EmptyDirVolumeSource{Medium: v1.StorageMediumHugePages}, err: "HugePages-1Gi, HugePages-2Mi"},
		{name: "unknown medium", pod: testPod("u"), ed: v1.EmptyDirVolumeSource{Medium: "Disk"}, err: "not supported"},
	} {
		fstype, opts, err := emptyDirMount(tc.pod, &tc.ed, node)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || fstype != tc.fstype || opts != tc.opts {
			t.Errorf("%s: = %q %q %v; want %q %q", tc.name, fstype, opts, err, tc.fstype, tc.opts)
		}
	}
}

func TestPodMemoryLimitCountsInitAndSidecars(t *testing.T) {
	always := v1.ContainerRestartPolicyAlways
	pod := withLimits(testPod("u"), "64Mi")
	pod.Spec.InitContainers = []v1.Container{
		{Name: "init", Resources: v1.ResourceRequirements{Limits: v1.ResourceList{v1.ResourceMemory: resource.MustParse("128Mi")}}},
	}
	if got := podMemoryLimit(pod); got != 128<<20 {
		t.Errorf("init larger than the app: %d, want 128Mi", got)
	}
	pod.Spec.InitContainers = append(pod.Spec.InitContainers, v1.Container{Name: "sidecar", RestartPolicy: &always,
		Resources: v1.ResourceRequirements{Limits: v1.ResourceList{v1.ResourceMemory: resource.MustParse("96Mi")}}})
	if got := podMemoryLimit(pod); got != 160<<20 {
		t.Errorf("with a sidecar: %d, want 64Mi+96Mi", got)
	}
	pod.Spec.InitContainers[0].Resources = v1.ResourceRequirements{}
	if got := podMemoryLimit(pod); got != 0 {
		t.Errorf("an init container without a limit: %d, want 0 (unlimited)", got)
	}
}
