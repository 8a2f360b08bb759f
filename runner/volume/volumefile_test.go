package volume

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadVolumeFile(t *testing.T) {
	m := newTestManager(t)
	pod := testPod("uid-1", emptyDirVolume("env", ""))
	if err := m.PreparePod(pod); err != nil {
		t.Fatal(err)
	}
	dir, _ := m.PodDir("uid-1")
	vol := filepath.Join(dir, "volumes/empty-dir/env")
	secret := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secret, "HOST=secret")
	writeFile(t, filepath.Join(vol, "vars"), "A=1\n")
	if err := os.MkdirAll(filepath.Join(vol, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"abs": secret, "up": "../../../../../../../../" + secret, "link": "vars"} {
		if err := os.Symlink(target, filepath.Join(vol, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(vol, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"vars", "link", "./d/../vars"} {
		got, err := m.ReadVolumeFile(pod, "env", rel, 100)
		if rel == "./d/../vars" {
			if err == nil {
				t.Errorf("%s: '..' accepted", rel)
			}
			continue
		}
		if err != nil || string(got) != "A=1\n" {
			t.Errorf("%s: %q, %v", rel, got, err)
		}
	}
	for _, rel := range []string{"abs", "up", "fifo", "d", "/etc/passwd"} {
		got, err := m.ReadVolumeFile(pod, "env", rel, 100)
		if err == nil || strings.Contains(string(got), "secret") {
			t.Errorf("%s: %q, %v; want an error", rel, got, err)
		}
	}
	if _, err := m.ReadVolumeFile(pod, "env", "missing", 100); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v, want fs.ErrNotExist", err)
	}
	if _, err := m.ReadVolumeFile(pod, "env", "vars", 3); err == nil {
		t.Error("a file over the bound: want an error")
	}
	if _, err := m.ReadVolumeFile(pod, "nope", "vars", 100); err == nil {
		t.Error("unknown volume: want an error")
	}
}
