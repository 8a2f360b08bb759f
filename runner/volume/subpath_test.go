package volume

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// sameFile reports whether the handle fd and path name the same inode.
func sameFile(t *testing.T, fd *os.File, path string) bool {
	t.Helper()
	var a, b unix.Stat_t
	if err := unix.Fstat(int(fd.Fd()), &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(path, &b); err != nil {
		t.Fatal(err)
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// plantedVolume is a volume a pod has filled with symlinks, beside a host
// directory holding a marker the pod must never reach.
func plantedVolume(t *testing.T) (vol, outside string) {
	t.Helper()
	base := t.TempDir()
	vol, outside = filepath.Join(base, "vol"), filepath.Join(base, "host")
	for _, d := range []string{filepath.Join(vol, "real", "inside"), filepath.Join(outside, "etc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(outside, "marker"), "host")
	writeFile(t, filepath.Join(vol, "real", "file"), "in volume")
	for name, target := range map[string]string{
		"s":        "/",                           // CVE-2017-1002101's plant
		"abs":      outside,                       // an absolute path to a host directory
		"up":       "../../../../../../../..",     // '..' past the root
		"up2":      "real/../../host",             // '..' to a sibling of the volume
		"dangling": filepath.Join(outside, "new"), // does not exist yet
		"rel":      "real",                        // stays inside: fine
		"relfile":  "real/file",                   // stays inside: fine
	} {
		if err := os.Symlink(target, filepath.Join(vol, name)); err != nil {
			t.Fatal(err)
		}
	}
	return vol, outside
}

func TestOpenSubPathRefusesEscapes(t *testing.T) {
	vol, outside := plantedVolume(t)
	for _, sub := range []string{"s", "s/etc", "s" + outside, "abs", "abs/etc", "up", "up/etc", "up2", "dangling", "dangling/x/y", "real/../s/etc"} {
		fd, err := openSubPath(vol, sub, 0o777)
		if err == nil {
			fd.Close()
			t.Errorf("subPath %q: resolved, want a refusal", sub)
		}
	}
	if _, err := os.Lstat(filepath.Join(outside, "new")); !os.IsNotExist(err) {
		t.Errorf("a directory was created outside the volume through a dangling symlink: %v", err)
	}
	if names := entries(t, outside); strings.Join(names, ",") != "etc,marker" {
		t.Errorf("outside the volume changed: %v", names)
	}
}

func TestOpenSubPathInsideTheVolume(t *testing.T) {
	vol, _ := plantedVolume(t)
	for sub, want := range map[string]string{
		"real":           "real",
		"real/inside":    "real/inside",
		"rel":            "real",
		"rel/inside":     "real/inside",
		"./real//inside": "real/inside",
		"relfile":        "real/file",
	} {
		fd, err := openSubPath(vol, sub, 0o777)
		if err != nil {
			t.Errorf("subPath %q: %v", sub, err)
			continue
		}
		if !sameFile(t, fd, filepath.Join(vol, want)) {
			t.Errorf("subPath %q does not open %s", sub, want)
		}
		fd.Close()
	}
}

func TestOpenSubPathCreatesMissingInside(t *testing.T) {
	vol, _ := plantedVolume(t)
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	fd, err := openSubPath(vol, "new/deep/dir", 0o777)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if !sameFile(t, fd, filepath.Join(vol, "new/deep/dir")) {
		t.Fatal("the handle is not the created directory")
	}
	for _, d := range []string{"new", "new/deep", "new/deep/dir"} {
		st, err := os.Lstat(filepath.Join(vol, d))
		if err != nil || !st.IsDir() || st.Mode().Perm() != 0o777 {
			t.Errorf("%s: %v %v, want a directory with the volume's mode 0777 whatever the umask", d, st.Mode(), err)
		}
	}
	// Through a symlink that stays inside, the missing part is created
	// where the symlink leads.
	fd2, err := openSubPath(vol, "rel/made", 0o777)
	if err != nil {
		t.Fatal(err)
	}
	fd2.Close()
	if st, err := os.Lstat(filepath.Join(vol, "real", "made")); err != nil || !st.IsDir() {
		t.Errorf("rel/made was not created as real/made: %v", err)
	}
}

// The second layer alone: a symlink swapped in after the first check is
// still resolved inside the volume by filepath-securejoin.
func TestOpenInRootConfinesSwappedSymlinks(t *testing.T) {
	vol, outside := plantedVolume(t)
	rootFd, err := os.OpenFile(vol, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rootFd.Close()
	for sub, want := range map[string]string{"s": ".", "s/real": "real", "up/real/inside": "real/inside", "abs": ""} {
		fd, err := openInRoot(rootFd, sub)
		if want == "" {
			// abs -> <outside> means <vol>/<outside> inside the root,
			// which does not exist.
			if err == nil {
				t.Errorf("%q: opened %s, want not found", sub, fd.Name())
				fd.Close()
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", sub, err)
			continue
		}
		if !sameFile(t, fd, filepath.Join(vol, want)) || sameFile(t, fd, outside) {
			t.Errorf("%q was not resolved to %s inside the volume", sub, want)
		}
		fd.Close()
	}
}
