package stats

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLayerDir(t *testing.T) {
	root := t.TempDir()
	id := strings.Repeat("a", 64)
	mounts := filepath.Join(root, "image", "overlay2", "layerdb", "mounts", id)
	if err := os.MkdirAll(mounts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mounts, "mount-id"), []byte("f00d\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := newDiskUsage(root, "overlay2", nil)
	if got, ok := d.layerDir(id); !ok || got != filepath.Join(root, "overlay2", "f00d", "diff") {
		t.Errorf("overlay2: %q %v", got, ok)
	}
	if _, ok := newDiskUsage(root, "devicemapper", nil).layerDir(id); ok {
		t.Errorf("devicemapper: the layer is not a directory; must be left out")
	}
	// A mount-id that would lead elsewhere is refused.
	if err := os.WriteFile(filepath.Join(mounts, "mount-id"), []byte("../../etc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, ok := d.layerDir(id); ok {
		t.Errorf("a mount-id with a path in it: got %q", got)
	}
	if _, ok := d.layerDir("unknown"); ok {
		t.Errorf("a container without a layer record")
	}
}

func TestCgroupOfThisProcess(t *testing.T) {
	name, err := cgroupOf(os.Getpid())
	if err != nil || !strings.HasPrefix(name, "/") {
		t.Errorf("cgroup of this process: %q %v", name, err)
	}
	if _, err := cgroupOf(-1); err == nil {
		t.Errorf("no process: want an error")
	}
}

func TestMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		file, content string
		want          uint64
		ok            bool
	}{
		{"memory.limit_in_bytes", "104857600\n", 104857600, true},
		{"memory.max", "max\n", 0, false},
		{"memory.max", "2097152\n", 2097152, true},
	} {
		os.Remove(filepath.Join(dir, "memory.limit_in_bytes"))
		os.Remove(filepath.Join(dir, "memory.max"))
		if err := os.WriteFile(filepath.Join(dir, c.file), []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		key := "memory"
		if c.file == "memory.max" {
			key = ""
		}
		if got, ok := memoryLimit(map[string]string{key: dir}); got != c.want || ok != c.ok {
			t.Errorf("%s %q: got %d %v", c.file, c.content, got, ok)
		}
	}
	if _, ok := memoryLimit(map[string]string{}); ok {
		t.Errorf("no memory controller: no limit")
	}
}
