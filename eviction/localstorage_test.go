package eviction

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestOverLimit(t *testing.T) {
	dir := t.TempDir()
	limit := resource.MustParse("64Ki")
	pod := &v1.Pod{}
	pod.Name, pod.Namespace, pod.UID = "big", "ns", "uid-big"
	pod.Spec.Volumes = []v1.Volume{
		{Name: "mem", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory, SizeLimit: &limit}}},
		{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{SizeLimit: &limit}}},
	}
	vol := filepath.Join(dir, "uid-big", "volumes", "empty-dir", "scratch")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "small"), make([]byte, 16<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, over := overLimit(context.Background(), []*v1.Pod{pod}, dir); over {
		t.Fatal("16 KiB counted over a 64 KiB limit")
	}
	if err := os.WriteFile(filepath.Join(vol, "big"), make([]byte, 256<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	e, over := overLimit(context.Background(), []*v1.Pod{pod}, dir)
	if !over || e.Pod != pod || !strings.Contains(e.Message, `Usage of EmptyDir volume "scratch" exceeds the limit "64Ki"`) {
		t.Fatalf("overLimit = %+v, %v; want the scratch volume over its limit", e, over)
	}
	if a := admit(pod, 0, nil, e.Condition); a.Admit {
		t.Error("a pod evicted for its emptyDir's size is admitted again without a change of its manifest")
	}
}
