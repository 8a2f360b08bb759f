package volume

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func hostPathVolume(name, path string, typ v1.HostPathType) v1.Volume {
	return v1.Volume{Name: name, VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: path, Type: &typ}}}
}

func TestCheckHostPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	writeFile(t, file, "x")
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct {
		path string
		typ  v1.HostPathType
		ok   bool
	}{
		{dir, v1.HostPathDirectory, true},
		{file, v1.HostPathDirectory, false},
		{file, v1.HostPathFile, true},
		{dir, v1.HostPathFile, false},
		{sock, v1.HostPathSocket, true},
		{file, v1.HostPathSocket, false},
		{"/dev/null", v1.HostPathCharDev, true},
		{"/dev/null", v1.HostPathBlockDev, false},
		{filepath.Join(dir, "missing"), v1.HostPathDirectory, false},
		{filepath.Join(dir, "missing"), v1.HostPathUnset, true},
		{file, v1.HostPathDirectoryOrCreate, false},
	} {
		typ := tc.typ
		if err := checkHostPath(tc.path, &typ); (err == nil) != tc.ok {
			t.Errorf("checkHostPath(%s, %q) = %v, want ok=%v", tc.path, tc.typ, err, tc.ok)
		}
	}
	newDir := filepath.Join(dir, "a", "b")
	typ := v1.HostPathDirectoryOrCreate
	if err := checkHostPath(newDir, &typ); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(newDir); err != nil || !st.IsDir() {
		t.Errorf("DirectoryOrCreate did not create %s: %v", newDir, err)
	}
	newFile := filepath.Join(dir, "c", "f")
	typ = v1.HostPathFileOrCreate
	if err := checkHostPath(newFile, &typ); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(newFile); err != nil || !st.Mode().IsRegular() {
		t.Errorf("FileOrCreate did not create %s: %v", newFile, err)
	}
}

func TestPreparePodWritesVolumes(t *testing.T) {
	m := newTestManager(t)
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	def := int32(0o644)
	pod := testPod("uid-1",
		emptyDirVolume("cache", ""),
		downwardVolume("info", fieldItem("labels", "metadata.labels"), fieldItem("ns/name", "metadata.namespace")),
		v1.Volume{Name: "proj", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{DefaultMode: &def,
			Sources: []v1.VolumeProjection{{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{fieldItem("uid", "metadata.uid")}}}}}}},
	)
	for i := 0; i < 2; i++ { // idempotent
		if err := m.PreparePod(pod); err != nil {
			t.Fatal(err)
		}
	}
	dir, _ := m.PodDir("uid-1")
	if st, err := os.Stat(filepath.Join(dir, "volumes/empty-dir/cache")); err != nil || st.Mode().Perm() != 0o777 {
		t.Errorf("emptyDir: %v %v, want mode 0777 whatever the umask", st.Mode(), err)
	}
	if got := readFile(t, filepath.Join(dir, "volumes/downward-api/info/labels")); got != "app=\"web\"\ntier=\"front\"" {
		t.Errorf("labels = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "volumes/downward-api/info/ns/name")); got != "default" {
		t.Errorf("ns/name = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "volumes/projected/proj/uid")); got != "uid-1" {
		t.Errorf("projected uid = %q", got)
	}
	// A label changed (a pinned UID keeps the pod): the file follows.
	pod.Labels["tier"] = "back"
	if err := m.PreparePod(pod); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "volumes/downward-api/info/labels")); !strings.Contains(got, "back") {
		t.Errorf("labels after a change = %q", got)
	}
}

func TestPreparePodRefuses(t *testing.T) {
	m := newTestManager(t)
	for name, pod := range map[string]*v1.Pod{
		"bad uid":           testPod("../x", emptyDirVolume("a", "")),
		"bad volume name":   testPod("u", emptyDirVolume("../a", "")),
		"secret volume":     testPod("u", v1.Volume{Name: "s", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{}}}),
		"relative hostPath": testPod("u", hostPathVolume("h", "var/lib", v1.HostPathUnset)),
		"hostPath type":     testPod("u", hostPathVolume("h", "/dev/null", v1.HostPathDirectory)),
		"downward escape":   testPod("u", downwardVolume("d", fieldItem("../../x", "metadata.name"))),
	} {
		if err := m.PreparePod(pod); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	if names := entries(t, filepath.Dir(m.pods)); strings.Join(names, ",") != "pods" {
		t.Errorf("the root dir holds more than pods/: %v", names)
	}
}

func TestPrepareContainerMounts(t *testing.T) {
	m := newTestManager(t)
	host := t.TempDir()
	prop := v1.MountPropagationHostToContainer
	pod := testPod("uid-1", emptyDirVolume("cache", ""), downwardVolume("info", fieldItem("name", "metadata.name")),
		hostPathVolume("etc", host, v1.HostPathDirectory))
	c := &pod.Spec.Containers[0]
	c.VolumeMounts = []v1.VolumeMount{
		{Name: "cache", MountPath: "/cache"},
		{Name: "info", MountPath: "/info"}, // read-only whatever the manifest says
		{Name: "etc", MountPath: "/host", ReadOnly: true, MountPropagation: &prop},
	}
	if err := m.PreparePod(pod); err != nil {
		t.Fatal(err)
	}
	mounts, err := m.PrepareContainer(pod, c, nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := m.PodDir("uid-1")
	want := []struct {
		src, target, prop string
		ro                bool
	}{
		{dir + "/volumes/empty-dir/cache", "/cache", "", false},
		{dir + "/volumes/downward-api/info", "/info", "", true},
		{host, "/host", "rslave", true},
		{dir + "/containers/app/3/termination-log", "/dev/termination-log", "", false},
	}
	if len(mounts) != len(want) {
		t.Fatalf("mounts = %+v", mounts)
	}
	for i, w := range want {
		g := mounts[i]
		if g.Source != w.src || g.Target != w.target || g.ReadOnly != w.ro || g.Propagation != w.prop {
			t.Errorf("mount %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestPrepareContainerRefusesBadSubPaths(t *testing.T) {
	m := newTestManager(t)
	pod := testPod("uid-1", emptyDirVolume("data", ""))
	if err := m.PreparePod(pod); err != nil {
		t.Fatal(err)
	}
	dir, _ := m.PodDir("uid-1")
	vol := filepath.Join(dir, "volumes/empty-dir/data")
	if err := os.Symlink("/", filepath.Join(vol, "s")); err != nil {
		t.Fatal(err)
	}
	for _, vm := range []v1.VolumeMount{
		{Name: "data", MountPath: "/x", SubPath: "s"},
		{Name: "data", MountPath: "/x", SubPath: "s/etc"},
		{Name: "data", MountPath: "/x", SubPath: "../x"},
		{Name: "data", MountPath: "/x", SubPath: "/etc"},
		{Name: "data", MountPath: "/x", SubPathExpr: "$(LINK)/etc"},
		{Name: "data", MountPath: "/x", SubPathExpr: "$(UNSET)"},
		{Name: "data", MountPath: "/x", SubPathExpr: "$(UP)/x"},
		{Name: "data", MountPath: "/x", SubPath: "a", SubPathExpr: "b"},
		{Name: "nope", MountPath: "/x"},
	} {
		c := pod.Spec.Containers[0]
		c.VolumeMounts = []v1.VolumeMount{vm}
		if mounts, err := m.PrepareContainer(pod, &c, map[string]string{"LINK": "s", "UP": ".."}, 0); err == nil {
			t.Errorf("%+v: mounts %+v, want an error", vm, mounts)
		}
	}
	if _, err := os.Lstat(filepath.Join(vol, "etc")); !os.IsNotExist(err) {
		t.Errorf("something was created for a refused subPath: %v", err)
	}
}
