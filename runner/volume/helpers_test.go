package volume

import (
	"io"
	"log/slog"
	"os"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// testNode is the machine the unit tests pretend to run on.
var testNode = Node{HostIP: "192.0.2.7", CPUs: 4, MemoryBytes: 8 << 30, EphemeralStorageBytes: 100 << 30}

// newTestManager is a Manager on a fresh temporary root.
func newTestManager(t *testing.T) *Manager {
	t.Helper()
	m, err := New(Config{RootDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Node: testNode})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testPod is a pod with one container "app" and the given volumes.
func testPod(uid types.UID, vols ...v1.Volume) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: uid,
			Labels: map[string]string{"app": "web", "tier": "front"}},
		Spec: v1.PodSpec{
			Volumes:    vols,
			Containers: []v1.Container{{Name: "app", Image: "busybox", TerminationMessagePath: "/dev/termination-log"}},
		},
	}
}

func emptyDirVolume(name string, medium v1.StorageMedium) v1.Volume {
	return v1.Volume{Name: name, VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: medium}}}
}

func downwardVolume(name string, items ...v1.DownwardAPIVolumeFile) v1.Volume {
	return v1.Volume{Name: name, VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: items}}}
}

func fieldItem(path, fieldPath string) v1.DownwardAPIVolumeFile {
	return v1.DownwardAPIVolumeFile{Path: path, FieldRef: &v1.ObjectFieldSelector{FieldPath: fieldPath}}
}

// requireRoot skips a test that needs root and mounts under -short, or
// when not root outside CI; in CI (CI or RUNNER_REQUIRE_INTEGRATION=1) a
// missing root fails it.
func requireRoot(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (needs root to mount); skipped with -short")
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" || os.Getenv("RUNNER_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("this integration test needs root (to mount tmpfs and bind mounts), and CI requires it")
		}
		t.Skip("integration test needs root to mount; skipped")
	}
}

// writeFile writes a file for a test, failing it on error.
func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readFile reads a file for a test, failing it on error.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
