package volume

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/moby/sys/mountinfo"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// newRootManager is a Manager for a test that mounts: whatever the test
// leaves mounted under its root is unmounted before the root is removed.
func newRootManager(t *testing.T) *Manager {
	t.Helper()
	requireRoot(t)
	m := newTestManager(t)
	t.Cleanup(func() {
		if err := unmountAll(m.pods); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return m
}

// mountsLeft lists the mounts at or below dir.
func mountsLeft(t *testing.T, dir string) []string {
	t.Helper()
	points, err := mountsUnder(dir)
	if err != nil {
		t.Fatal(err)
	}
	return points
}

func fstypeOf(t *testing.T, path string) string {
	t.Helper()
	infos, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(path))
	if err != nil || len(infos) == 0 {
		return ""
	}
	return infos[len(infos)-1].FSType
}

// A pod with a tmpfs emptyDir, a disk emptyDir and subPath mounts of both
// is prepared twice (no second tmpfs, no second bind) and then removed:
// no directory and no mount is left.
func TestCleanupPodUnmountsTmpfsAndSubPaths(t *testing.T) {
	m := newRootManager(t)
	limit := resource.MustParse("8Mi")
	mem := emptyDirVolume("mem", v1.StorageMediumMemory)
	mem.EmptyDir.SizeLimit = &limit
	pod := testPod("uid-int", mem, emptyDirVolume("disk", ""))
	c := &pod.Spec.Containers[0]
	c.Env = []v1.EnvVar{{Name: "POD", Value: "web"}}
	c.VolumeMounts = []v1.VolumeMount{
		{Name: "mem", MountPath: "/mem"},
		{Name: "mem", MountPath: "/mem-sub", SubPath: "a/b"},
		{Name: "disk", MountPath: "/logs", SubPathExpr: "logs/$(POD)"},
		{Name: "disk", MountPath: "/conf", SubPath: "conf.txt"},
	}
	dir, _ := m.PodDir(pod.UID)
	memDir := filepath.Join(dir, "volumes/empty-dir/mem")
	diskDir := filepath.Join(dir, "volumes/empty-dir/disk")
	for i := 0; i < 2; i++ {
		if err := m.PreparePod(pod); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			writeFile(t, filepath.Join(diskDir, "conf.txt"), "conf")
		}
		if _, err := m.PrepareContainer(pod, c, map[string]string{"POD": "web"}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := fstypeOf(t, memDir); got != "tmpfs" {
		t.Fatalf("mem volume is on %q, want tmpfs", got)
	}
	infos, _ := mountinfo.GetMounts(mountinfo.SingleEntryFilter(memDir))
	if len(infos) != 1 || !strings.Contains(infos[0].VFSOptions, "size=8192k") {
		t.Fatalf("tmpfs mounts on %s: %+v, want one of size 8Mi", memDir, infos)
	}
	// Each subPath is a bind of the resolved path, on the instance's own
	// mount point; preparing again replaced, not stacked, them.
	sub := filepath.Join(dir, "containers/app/0/subpaths")
	if got := len(mountsLeft(t, sub)); got != 3 {
		t.Fatalf("%d mounts under %s, want 3: %v", got, sub, mountsLeft(t, sub))
	}
	writeFile(t, filepath.Join(sub, "1", "through-bind"), "x")
	if got := readFile(t, filepath.Join(memDir, "a/b/through-bind")); got != "x" {
		t.Errorf("subPath a/b of the tmpfs does not show the volume's a/b")
	}
	if got := readFile(t, filepath.Join(sub, "3")); got != "conf" {
		t.Errorf("the file subPath shows %q", got)
	}
	if st, err := os.Stat(filepath.Join(diskDir, "logs/web")); err != nil || !st.IsDir() {
		t.Errorf("subPathExpr logs/$(POD) did not create logs/web: %v", err)
	}

	// A busy tmpfs: the pod directory is left, with its data, and the
	// error says so; once free, the cleanup completes.
	busy, err := os.Open(filepath.Join(memDir, "a/b/through-bind"))
	if err != nil {
		t.Fatal(err)
	}
	cwd, _ := os.Getwd()
	if err := os.Chdir(memDir); err != nil {
		t.Fatal(err)
	}
	err = m.CleanupPod(pod.UID)
	_ = os.Chdir(cwd)
	busy.Close()
	if err == nil || !strings.Contains(err.Error(), "left in place") {
		t.Fatalf("CleanupPod with a busy tmpfs = %v, want an error that leaves the directory", err)
	}
	if _, err := os.Stat(filepath.Join(diskDir, "conf.txt")); err != nil {
		t.Fatalf("data removed although a mount could not be unmounted: %v", err)
	}

	if err := m.CleanupPod(pod.UID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("pod directory left: %v", err)
	}
	if left := mountsLeft(t, m.pods); len(left) != 0 {
		t.Errorf("mounts left: %v", left)
	}
}

func TestCleanupContainerUnmountsItsSubPaths(t *testing.T) {
	m := newRootManager(t)
	pod := testPod("uid-ctr", emptyDirVolume("data", ""))
	c := &pod.Spec.Containers[0]
	c.VolumeMounts = []v1.VolumeMount{{Name: "data", MountPath: "/d", SubPath: "x"}}
	if err := m.PreparePod(pod); err != nil {
		t.Fatal(err)
	}
	for attempt := 0; attempt < 2; attempt++ {
		if _, err := m.PrepareContainer(pod, c, nil, attempt); err != nil {
			t.Fatal(err)
		}
	}
	dir, _ := m.PodDir(pod.UID)
	if err := m.CleanupContainer(pod.UID, "app", 0); err != nil {
		t.Fatal(err)
	}
	if left := mountsLeft(t, dir); len(left) != 1 || !strings.Contains(left[0], "/containers/app/1/") {
		t.Errorf("mounts after cleanup of attempt 0: %v, want attempt 1's only", left)
	}
	if _, err := os.Stat(filepath.Join(dir, "volumes/empty-dir/data/x")); err != nil {
		t.Errorf("the volume's data went with the container: %v", err)
	}
	if err := m.CleanupContainer(pod.UID, "app", 1); err != nil {
		t.Fatal(err)
	}
	if left := mountsLeft(t, dir); len(left) != 0 {
		t.Errorf("mounts left: %v", left)
	}
}

// A failed PrepareContainer undoes the subPath mounts it made.
func TestPrepareContainerFailureUnmounts(t *testing.T) {
	m := newRootManager(t)
	pod := testPod("uid-fail", emptyDirVolume("data", ""))
	c := &pod.Spec.Containers[0]
	c.VolumeMounts = []v1.VolumeMount{
		{Name: "data", MountPath: "/ok", SubPath: "fine"},
		{Name: "data", MountPath: "/bad", SubPathExpr: "$(UNSET)"},
	}
	if err := m.PreparePod(pod); err != nil {
		t.Fatal(err)
	}
	if _, err := m.PrepareContainer(pod, c, nil, 0); err == nil {
		t.Fatal("want an error")
	}
	if left := mountsLeft(t, m.pods); len(left) != 0 {
		t.Errorf("mounts left after a failed prepare: %v", left)
	}
}

// fsGroup: an emptyDir and the downwardAPI files belong to the group, and
// the emptyDir passes it on (setgid).
func TestFSGroupOwnership(t *testing.T) {
	m := newRootManager(t)
	gid := int64(4321)
	pod := testPod("uid-fsg", emptyDirVolume("data", ""), emptyDirVolume("mem", v1.StorageMediumMemory),
		downwardVolume("info", fieldItem("name", "metadata.name")))
	pod.Spec.SecurityContext = &v1.PodSecurityContext{FSGroup: &gid}
	mode := int32(0o400)
	pod.Spec.Volumes[2].DownwardAPI.Items[0].Mode = &mode
	if err := m.PreparePod(pod); err != nil {
		t.Fatal(err)
	}
	dir, _ := m.PodDir(pod.UID)
	for _, p := range []string{"volumes/empty-dir/data", "volumes/empty-dir/mem"} {
		st, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if g := gidOf(st); g != 4321 || st.Mode()&os.ModeSetgid == 0 || st.Mode().Perm() != 0o777 {
			t.Errorf("%s: gid %d mode %v, want gid 4321, setgid, 0777", p, g, st.Mode())
		}
	}
	st, err := os.Stat(filepath.Join(dir, "volumes/downward-api/info/name"))
	if err != nil {
		t.Fatal(err)
	}
	if g := gidOf(st); g != 4321 || st.Mode().Perm() != 0o440 {
		t.Errorf("downwardAPI file: gid %d mode %v, want gid 4321 and 0440 (group-readable)", g, st.Mode())
	}
}

func gidOf(st os.FileInfo) int {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Gid)
	}
	return -1
}
