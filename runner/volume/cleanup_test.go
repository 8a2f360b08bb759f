package volume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestCleanupPodAndContainer(t *testing.T) {
	m := newTestManager(t)
	pod := testPod("uid-1", emptyDirVolume("cache", ""), downwardVolume("info", fieldItem("name", "metadata.name")))
	if err := m.PreparePod(pod); err != nil {
		t.Fatal(err)
	}
	for attempt := 0; attempt < 2; attempt++ {
		if _, err := m.PrepareContainer(pod, &pod.Spec.Containers[0], nil, attempt); err != nil {
			t.Fatal(err)
		}
	}
	dir, _ := m.PodDir("uid-1")
	writeFile(t, filepath.Join(dir, "volumes/empty-dir/cache/data"), "x")
	writeFile(t, filepath.Join(dir, "resolv.conf"), "nameserver 192.0.2.53\n")

	if err := m.CleanupContainer("uid-1", "app", 0); err != nil {
		t.Fatal(err)
	}
	if names := entries(t, filepath.Join(dir, "containers/app")); strings.Join(names, ",") != "1" {
		t.Errorf("after cleanup of attempt 0: %v, want only 1", names)
	}
	if err := m.CleanupContainer("uid-1", "app", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "containers/app")); !os.IsNotExist(err) {
		t.Errorf("the container's directory is left after its last instance: %v", err)
	}
	if err := m.CleanupContainer("uid-1", "app", 1); err != nil {
		t.Errorf("second cleanup of the same instance: %v", err)
	}

	if err := m.CleanupPod("uid-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("pod directory left: %v", err)
	}
	if err := m.CleanupPod("uid-1"); err != nil {
		t.Errorf("cleanup of a pod already gone: %v", err)
	}
	for _, uid := range []types.UID{"..", "", "a/b"} {
		if err := m.CleanupPod(uid); err == nil {
			t.Errorf("CleanupPod(%q): want an error", uid)
		}
	}
	if _, err := os.Stat(m.pods); err != nil {
		t.Fatalf("the pods directory itself went: %v", err)
	}
}

func TestCleanupOrphans(t *testing.T) {
	m := newTestManager(t)
	for _, uid := range []types.UID{"keep-1", "gone-1", "gone-2"} {
		if err := m.PreparePod(testPod(uid, emptyDirVolume("cache", ""))); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(m.pods, "stray-file"), "x")
	if err := os.Mkdir(filepath.Join(m.pods, ".tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	var asked []string
	err := m.CleanupOrphans(func(uid types.UID) bool {
		asked = append(asked, string(uid))
		return strings.HasPrefix(string(uid), "keep")
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(entries(t, m.pods), ","); got != ".tmp,keep-1,stray-file" {
		t.Errorf("left in pods/: %s, want .tmp,keep-1,stray-file", got)
	}
	if strings.Join(asked, ",") != "gone-1,gone-2,keep-1" {
		t.Errorf("keep was asked about %v", asked)
	}
}
