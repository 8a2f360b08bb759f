package manifest

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestValidateVolumes(t *testing.T) {
	hostPath := func(p *v1.Pod) *v1.HostPathVolumeSource { return p.Spec.Volumes[0].HostPath }
	items := func(p *v1.Pod) []v1.DownwardAPIVolumeFile { return p.Spec.Volumes[2].DownwardAPI.Items }
	const item0, item1 = "spec.volumes[2].downwardAPI.items[0].", "spec.volumes[2].downwardAPI.items[1]."
	runValidateCases(t, []validateCase{
		{"name missing", func(p *v1.Pod) { p.Spec.Volumes[0].Name = "" },
			wantErrs(errRequired("spec.volumes[0].name"), errNotFound(c0("volumeMounts[0].name")))},
		{"name not a label", func(p *v1.Pod) { p.Spec.Volumes[0].Name = "Data" },
			wantErrs(errInvalid("spec.volumes[0].name"), errNotFound(c0("volumeMounts[0].name")))},
		{"name twice", func(p *v1.Pod) { p.Spec.Volumes[1].Name = "data" },
			wantErrs(errDuplicate("spec.volumes[1].name"), errNotFound(c0("volumeMounts[1].name")))},
		{"no source", func(p *v1.Pod) { p.Spec.Volumes[1].VolumeSource = v1.VolumeSource{} }, wantErrs(errRequired("spec.volumes[1]"))},
		{"two sources", func(p *v1.Pod) { p.Spec.Volumes[1].HostPath = &v1.HostPathVolumeSource{Path: "/tmp"} },
			wantErrs(errForbidden("spec.volumes[1].emptyDir"))},
		{"nfs is refused", func(p *v1.Pod) {
			p.Spec.Volumes[1].VolumeSource = v1.VolumeSource{NFS: &v1.NFSVolumeSource{Server: "nfs", Path: "/export"}}
		}, wantErrs(errForbidden("spec.volumes[1].nfs"))},

		{"hostPath path missing", func(p *v1.Pod) { hostPath(p).Path = "" }, wantErrs(errRequired("spec.volumes[0].hostPath.path"))},
		{"hostPath path relative", func(p *v1.Pod) { hostPath(p).Path = "var/lib/etcd" }, wantErrs(errInvalid("spec.volumes[0].hostPath.path"))},
		{"hostPath path steps up", func(p *v1.Pod) { hostPath(p).Path = "/var/../etc" }, wantErrs(errInvalid("spec.volumes[0].hostPath.path"))},
		{"hostPath type", func(p *v1.Pod) {
			typ := v1.HostPathType("Dir")
			hostPath(p).Type = &typ
		}, wantErrs(errUnsupported("spec.volumes[0].hostPath.type"))},
		{"hostPath type Socket", func(p *v1.Pod) {
			typ := v1.HostPathSocket
			hostPath(p).Type = &typ
		}, noErrors()},

		{"emptyDir medium", func(p *v1.Pod) { p.Spec.Volumes[1].EmptyDir.Medium = "Disk" }, wantErrs(errUnsupported("spec.volumes[1].emptyDir.medium"))},
		{"emptyDir default medium", func(p *v1.Pod) { p.Spec.Volumes[1].EmptyDir.Medium = "" }, noErrors()},
		{"emptyDir HugePages is refused", func(p *v1.Pod) { p.Spec.Volumes[1].EmptyDir.Medium = "HugePages" },
			wantErrs(errForbidden("spec.volumes[1].emptyDir.medium"))},
		{"emptyDir HugePages with size is refused", func(p *v1.Pod) { p.Spec.Volumes[1].EmptyDir.Medium = "HugePages-2Mi" },
			wantErrs(errForbidden("spec.volumes[1].emptyDir.medium"))},
		{"emptyDir sizeLimit negative", func(p *v1.Pod) { p.Spec.Volumes[1].EmptyDir.SizeLimit = ptrTo(resource.MustParse("-1Gi")) },
			wantErrs(errInvalid("spec.volumes[1].emptyDir.sizeLimit"))},

		{"downwardAPI path missing", func(p *v1.Pod) { items(p)[0].Path = "" }, wantErrs(errRequired(item0 + "path"))},
		{"downwardAPI path absolute", func(p *v1.Pod) { items(p)[0].Path = "/labels" }, wantErrs(errInvalid(item0 + "path"))},
		{"downwardAPI path steps up", func(p *v1.Pod) { items(p)[0].Path = "a/../../labels" }, wantErrs(errInvalid(item0 + "path"))},
		{"downwardAPI path reserved", func(p *v1.Pod) { items(p)[0].Path = "..data" }, wantErrs(errInvalid(item0 + "path"))},
		{"downwardAPI path twice", func(p *v1.Pod) { items(p)[1].Path = "labels" }, wantErrs(errDuplicate(item1 + "path"))},
		{"downwardAPI neither ref", func(p *v1.Pod) { items(p)[0].FieldRef = nil }, wantErrs(errRequired("spec.volumes[2].downwardAPI.items[0]"))},
		{"downwardAPI both refs", func(p *v1.Pod) { items(p)[0].ResourceFieldRef = items(p)[1].ResourceFieldRef },
			wantErrs(errForbidden(item0 + "resourceFieldRef"))},
		{"downwardAPI fieldRef not for volumes", func(p *v1.Pod) { items(p)[0].FieldRef.FieldPath = "spec.nodeName" },
			wantErrs(errUnsupported(item0 + "fieldRef.fieldPath"))},
		{"downwardAPI fieldRef one label", func(p *v1.Pod) { items(p)[0].FieldRef.FieldPath = "metadata.labels['tier']" }, noErrors()},
		{"downwardAPI fieldRef annotations", func(p *v1.Pod) { items(p)[0].FieldRef.FieldPath = "metadata.annotations" }, noErrors()},
		{"downwardAPI mode", func(p *v1.Pod) { items(p)[0].Mode = ptrTo(int32(01000)) }, wantErrs(errInvalid(item0 + "mode"))},
		{"downwardAPI defaultMode", func(p *v1.Pod) { p.Spec.Volumes[2].DownwardAPI.DefaultMode = ptrTo(int32(-1)) },
			wantErrs(errInvalid("spec.volumes[2].downwardAPI.defaultMode"))},
		{"resourceFieldRef without container", func(p *v1.Pod) { items(p)[1].ResourceFieldRef.ContainerName = "" },
			wantErrs(errRequired(item1 + "resourceFieldRef.containerName"))},
		{"resourceFieldRef unknown container", func(p *v1.Pod) { items(p)[1].ResourceFieldRef.ContainerName = "nope" },
			wantErrs(errNotFound(item1 + "resourceFieldRef.containerName"))},
		{"resourceFieldRef resource", func(p *v1.Pod) { items(p)[1].ResourceFieldRef.Resource = "cpu" },
			wantErrs(errUnsupported(item1 + "resourceFieldRef.resource"))},
		{"resourceFieldRef hugepages", func(p *v1.Pod) { items(p)[1].ResourceFieldRef.Resource = "limits.hugepages-1Gi" }, noErrors()},
	})
}

func TestValidateVolumeMounts(t *testing.T) {
	mount := func(p *v1.Pod, i int) *v1.VolumeMount { return &p.Spec.Containers[0].VolumeMounts[i] }
	runValidateCases(t, []validateCase{
		{"name missing", func(p *v1.Pod) { mount(p, 0).Name = "" }, wantErrs(errRequired(c0("volumeMounts[0].name")))},
		{"unknown volume", func(p *v1.Pod) { mount(p, 0).Name = "nope" }, wantErrs(errNotFound(c0("volumeMounts[0].name")))},
		{"unknown volume in an init container", func(p *v1.Pod) {
			p.Spec.InitContainers[0].VolumeMounts = []v1.VolumeMount{{Name: "nope", MountPath: "/x"}}
		}, wantErrs(errNotFound("spec.initContainers[0].volumeMounts[0].name"))},
		{"mountPath missing", func(p *v1.Pod) { mount(p, 0).MountPath = "" }, wantErrs(errRequired(c0("volumeMounts[0].mountPath")))},
		{"mountPath relative", func(p *v1.Pod) { mount(p, 0).MountPath = "data" }, wantErrs(errInvalid(c0("volumeMounts[0].mountPath")))},
		{"mountPath twice", func(p *v1.Pod) { mount(p, 1).MountPath = "/var/lib/etcd" }, wantErrs(errInvalid(c0("volumeMounts[1].mountPath")))},
		{"same volume at two paths", func(p *v1.Pod) {
			p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, v1.VolumeMount{Name: "data", MountPath: "/backup"})
		}, noErrors()},
		{"subPath", func(p *v1.Pod) { mount(p, 0).SubPath = "member" }, noErrors()},
		{"subPath steps up", func(p *v1.Pod) { mount(p, 0).SubPath = "../member" }, wantErrs(errInvalid(c0("volumeMounts[0].subPath")))},
		{"subPath absolute", func(p *v1.Pod) { mount(p, 0).SubPath = "/member" }, wantErrs(errInvalid(c0("volumeMounts[0].subPath")))},
		{"subPathExpr with subPath", func(p *v1.Pod) { mount(p, 0).SubPath, mount(p, 0).SubPathExpr = "a", "$(NODE_NAME)" },
			wantErrs(errInvalid(c0("volumeMounts[0].subPathExpr")))},
		{"mountPropagation", func(p *v1.Pod) { mount(p, 0).MountPropagation = ptrTo(v1.MountPropagationMode("Shared")) },
			wantErrs(errUnsupported(c0("volumeMounts[0].mountPropagation")))},
		{"mountPropagation HostToContainer", func(p *v1.Pod) { mount(p, 0).MountPropagation = ptrTo(v1.MountPropagationHostToContainer) }, noErrors()},
		{"Bidirectional unprivileged", func(p *v1.Pod) { mount(p, 0).MountPropagation = ptrTo(v1.MountPropagationBidirectional) },
			wantErrs(errForbidden(c0("volumeMounts[0].mountPropagation")))},
		{"Bidirectional privileged", func(p *v1.Pod) {
			mount(p, 0).MountPropagation = ptrTo(v1.MountPropagationBidirectional)
			p.Spec.Containers[0].SecurityContext = &v1.SecurityContext{Privileged: ptrTo(true)}
		}, noErrors()},
	})
}

func TestValidateResources(t *testing.T) {
	res := func(p *v1.Pod) *v1.ResourceRequirements { return &p.Spec.Containers[0].Resources }
	q := resource.MustParse
	runValidateCases(t, []validateCase{
		{"unknown resource", func(p *v1.Pod) { res(p).Limits["gpu"] = q("1") }, wantErrs(errInvalid(c0("resources.limits[gpu]")))},
		{"negative request", func(p *v1.Pod) { res(p).Requests[v1.ResourceCPU] = q("-100m") },
			wantErrs(errInvalid(c0("resources.requests[cpu]")))},
		{"request above limit", func(p *v1.Pod) { res(p).Requests[v1.ResourceMemory] = q("2Gi") },
			wantErrs(errInvalid(c0("resources.requests[memory]")))},
		{"request without limit", func(p *v1.Pod) { res(p).Requests[v1.ResourceEphemeralStorage] = q("1Gi") }, noErrors()},
		{"extended resource", func(p *v1.Pod) {
			res(p).Requests["example.com/gpu"] = q("1")
			res(p).Limits["example.com/gpu"] = q("1")
		}, noErrors()},
		{"extended request below limit", func(p *v1.Pod) {
			res(p).Requests["example.com/gpu"] = q("1")
			res(p).Limits["example.com/gpu"] = q("2")
		}, wantErrs(errInvalid(c0("resources.requests[example.com/gpu]")))},
		{"extended request without limit", func(p *v1.Pod) { res(p).Requests["example.com/gpu"] = q("1") },
			wantErrs(errRequired(c0("resources.limits[example.com/gpu]")))},
		{"extended limit only", func(p *v1.Pod) { res(p).Limits["example.com/gpu"] = q("1") }, noErrors()},
		{"extended fraction", func(p *v1.Pod) {
			res(p).Requests["example.com/gpu"] = q("500m")
			res(p).Limits["example.com/gpu"] = q("500m")
		}, wantErrs(errInvalid(c0("resources.limits[example.com/gpu]")), errInvalid(c0("resources.requests[example.com/gpu]")))},
		{"extended name", func(p *v1.Pod) { res(p).Limits["example.com/big gpu"] = q("1") },
			wantErrs(errInvalid(c0("resources.limits[example.com/big gpu]")))},
		{"extended name with requests prefix", func(p *v1.Pod) { res(p).Limits["requests.example.com/gpu"] = q("1") },
			wantErrs(errInvalid(c0("resources.limits[requests.example.com/gpu]")))},
		{"hugepages", func(p *v1.Pod) {
			res(p).Requests["hugepages-2Mi"] = q("4Mi")
			res(p).Limits["hugepages-2Mi"] = q("4Mi")
		}, noErrors()},
		{"hugepages not a multiple of the page size", func(p *v1.Pod) { res(p).Limits["hugepages-2Mi"] = q("3Mi") },
			wantErrs(errInvalid(c0("resources.limits[hugepages-2Mi]")))},
		{"hugepages request below limit", func(p *v1.Pod) {
			res(p).Requests["hugepages-2Mi"] = q("2Mi")
			res(p).Limits["hugepages-2Mi"] = q("4Mi")
		}, wantErrs(errInvalid(c0("resources.requests[hugepages-2Mi]")))},
		{"hugepages bad size", func(p *v1.Pod) { res(p).Limits["hugepages-big"] = q("1") },
			wantErrs(errInvalid(c0("resources.limits[hugepages-big]")))},
		{"hugepages without cpu or memory", func(p *v1.Pod) {
			p.Spec.Containers[1].Resources.Limits = v1.ResourceList{"hugepages-2Mi": q("2Mi")}
		}, wantErrs(errForbidden("spec.containers[1].resources"))},
		{"init container resources", func(p *v1.Pod) {
			p.Spec.InitContainers[0].Resources.Requests = v1.ResourceList{v1.ResourceCPU: q("-1")}
		}, wantErrs(errInvalid("spec.initContainers[0].resources.requests[cpu]"))},
	})
}
