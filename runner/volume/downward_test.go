package volume

import (
	"os"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestFieldValue(t *testing.T) {
	pod := testPod("uid-1")
	pod.Annotations = map[string]string{"note": "a \"quoted\"\nline"}
	pod.Spec.NodeName = "node-a"
	pod.Status.PodIP = "10.218.0.5"
	for _, tc := range []struct {
		path, want string
	}{
		{"metadata.name", "web"},
		{"metadata.namespace", "default"},
		{"metadata.uid", "uid-1"},
		{"metadata.labels", "app=\"web\"\ntier=\"front\""},
		{"metadata.annotations", `note="a \"quoted\"\nline"`},
		{"metadata.labels['tier']", "front"},
		{"metadata.labels['absent']", ""},
		{"metadata.annotations['note']", "a \"quoted\"\nline"},
		{"spec.nodeName", "node-a"},
		{"status.hostIP", "192.0.2.7"},
		{"status.podIP", "10.218.0.5"},
	} {
		got, err := FieldValue(pod, tc.path, testNode)
		if err != nil || got != tc.want {
			t.Errorf("FieldValue(%s) = %q, %v; want %q", tc.path, got, err, tc.want)
		}
	}
	pod.Spec.HostNetwork = true
	if got, _ := FieldValue(pod, "status.podIP", testNode); got != "192.0.2.7" {
		t.Errorf("status.podIP of a host-network pod = %q, want the host's", got)
	}
	for _, bad := range []string{"spec.containers", "metadata.labels[tier]", "metadata.labels['x'"} {
		if _, err := FieldValue(pod, bad, testNode); err == nil {
			t.Errorf("FieldValue(%s): want an error", bad)
		}
	}
}

func TestResourceValue(t *testing.T) {
	c := &v1.Container{Resources: v1.ResourceRequirements{
		Limits: v1.ResourceList{v1.ResourceMemory: resource.MustParse("64Mi"), "hugepages-2Mi": resource.MustParse("4Mi")},
		Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m"), v1.ResourceMemory: resource.MustParse("32Mi"),
			v1.ResourceEphemeralStorage: resource.MustParse("1Gi")},
	}}
	for _, tc := range []struct {
		res, divisor, want string
	}{
		{"limits.memory", "", "67108864"},
		{"limits.memory", "1Mi", "64"},
		{"limits.memory", "1G", "1"}, // rounded up
		{"requests.memory", "1Mi", "32"},
		{"requests.cpu", "", "1"}, // 250m rounded up to a core
		{"requests.cpu", "1m", "250"},
		{"limits.cpu", "", "4"},                    // no limit: the node's CPUs
		{"limits.cpu", "100m", "40"},               // ... in tenths
		{"limits.ephemeral-storage", "1Gi", "100"}, // the node's
		{"requests.ephemeral-storage", "1Mi", "1024"},
		{"limits.hugepages-2Mi", "1Mi", "4"},
		{"requests.hugepages-2Mi", "", "0"},
	} {
		rf := &v1.ResourceFieldSelector{Resource: tc.res}
		if tc.divisor != "" {
			rf.Divisor = resource.MustParse(tc.divisor)
		}
		got, err := ResourceValue(c, rf, testNode)
		if err != nil || got != tc.want {
			t.Errorf("ResourceValue(%s / %s) = %q, %v; want %q", tc.res, tc.divisor, got, err, tc.want)
		}
	}
	for _, bad := range []string{"limits.gpu", "cpu", "usage.cpu"} {
		if _, err := ResourceValue(c, &v1.ResourceFieldSelector{Resource: bad}, testNode); err == nil {
			t.Errorf("ResourceValue(%s): want an error", bad)
		}
	}
}

func TestDownwardAndProjectedFiles(t *testing.T) {
	pod := testPod("uid-1")
	mode := int32(0o600)
	files := map[string]file{}
	err := downwardFiles(pod, []v1.DownwardAPIVolumeFile{
		fieldItem("name", "metadata.name"),
		{Path: "sub/mem", Mode: &mode, ResourceFieldRef: &v1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory", Divisor: resource.MustParse("1Gi")}},
	}, nil, testNode, files)
	if err != nil {
		t.Fatal(err)
	}
	if f := files["name"]; string(f.data) != "web" || f.mode != 0o644 {
		t.Errorf("name = %q %v, want web 0644", f.data, f.mode)
	}
	if f := files["sub/mem"]; string(f.data) != "8" || f.mode != 0o600 {
		t.Errorf("sub/mem = %q %v, want 8 (node memory, GiB) 0600", f.data, f.mode)
	}
	for _, items := range [][]v1.DownwardAPIVolumeFile{
		{fieldItem("../x", "metadata.name")},
		{fieldItem("..data", "metadata.name")},
		{fieldItem("/abs", "metadata.name")},
		{fieldItem("a", "metadata.name"), fieldItem("a", "metadata.uid")},
		{{Path: "r", ResourceFieldRef: &v1.ResourceFieldSelector{ContainerName: "nope", Resource: "limits.cpu"}}},
		{{Path: "none"}},
	} {
		if err := downwardFiles(pod, items, nil, testNode, map[string]file{}); err == nil {
			t.Errorf("downwardFiles(%+v): want an error", items)
		}
	}

	def := int32(0o440)
	proj := &v1.ProjectedVolumeSource{DefaultMode: &def, Sources: []v1.VolumeProjection{
		{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{fieldItem("ns", "metadata.namespace")}}},
		{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{fieldItem("labels", "metadata.labels")}}},
	}}
	files, err = projectedFiles(pod, proj, testNode)
	if err != nil {
		t.Fatal(err)
	}
	if f := files["ns"]; string(f.data) != "default" || f.mode != os.FileMode(def) {
		t.Errorf("ns = %q %v", f.data, f.mode)
	}
	if len(files) != 2 {
		t.Errorf("projected files = %d, want 2", len(files))
	}
	proj.Sources = append(proj.Sources, v1.VolumeProjection{Secret: &v1.SecretProjection{}})
	if _, err := projectedFiles(pod, proj, testNode); err == nil || !strings.Contains(err.Error(), "only downwardAPI") {
		t.Errorf("projected secret: %v, want a refusal", err)
	}
}
