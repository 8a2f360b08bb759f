package volume

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func tarOf(t *testing.T, entries ...tar.Header) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range entries {
		h := h
		body := []byte(h.Name)
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write(body)
		}
	}
	_ = tw.Close()
	return &b
}

// TestWriteImageVolume: an image's files land in the volume, symlinks as
// they are (never followed), and no entry reaches outside: not by "..",
// not through a symlink planted earlier in the tarball.
func TestWriteImageVolume(t *testing.T) {
	root := t.TempDir()
	m, err := New(Config{RootDir: root})
	if err != nil {
		t.Fatal(err)
	}
	pod := &v1.Pod{}
	pod.UID, pod.Name, pod.Namespace = "0123456789abcdef", "p", "ns"
	vol := &v1.Volume{Name: "models", VolumeSource: v1.VolumeSource{Image: &v1.ImageVolumeSource{Reference: "models:1"}}}
	pod.Spec.Volumes = []v1.Volume{*vol}
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	rootfs := tarOf(t,
		tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "data/model.bin", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "data/alias", Typeflag: tar.TypeSymlink, Linkname: "model.bin"},
		tar.Header{Name: "data/hard", Typeflag: tar.TypeLink, Linkname: "data/model.bin"},
		tar.Header{Name: "../escape", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "out", Typeflag: tar.TypeSymlink, Linkname: outside},
		tar.Header{Name: "out/planted", Typeflag: tar.TypeReg, Mode: 0o644},
	)
	err = m.WriteImageVolume(pod, vol, "sha256:abc", rootfs)
	if err == nil {
		t.Fatal("an entry through a symlink out of the volume was written, or not refused")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Fatal("a file was written outside the volume through a planted symlink")
	}
	if m.ImageVolumeCurrent(pod, vol, "sha256:abc") {
		t.Error("a volume that failed to be written counts as current")
	}

	good := tarOf(t,
		tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755},
		tar.Header{Name: "data/model.bin", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "data/alias", Typeflag: tar.TypeSymlink, Linkname: "model.bin"},
		tar.Header{Name: "data/hard", Typeflag: tar.TypeLink, Linkname: "data/model.bin"},
		tar.Header{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: "/etc"},
	)
	if err := m.WriteImageVolume(pod, vol, "sha256:abc", good); err != nil {
		t.Fatal(err)
	}
	dir, _ := m.volumePath(pod, vol)
	if data, err := os.ReadFile(filepath.Join(dir, "data", "hard")); err != nil || string(data) != "data/model.bin" {
		t.Errorf("hard link: %q, %v", data, err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "etc")); err != nil || target != "/etc" {
		t.Errorf("the image's symlink is %q, %v; want it kept as it is", target, err)
	}
	if !m.ImageVolumeCurrent(pod, vol, "sha256:abc") || m.ImageVolumeCurrent(pod, vol, "sha256:other") {
		t.Error("ImageVolumeCurrent does not follow the image written")
	}
	mounts, err := m.PrepareContainer(pod, &v1.Container{Name: "app", VolumeMounts: []v1.VolumeMount{{Name: "models", MountPath: "/models"}}}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 1 || mounts[0].Source != dir || !mounts[0].ReadOnly {
		t.Errorf("mounts %+v, want the volume read-only", mounts)
	}
}
