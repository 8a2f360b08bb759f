package volume

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// imageIDFile names, inside an image volume's directory, the image its
// content comes from; a volume whose file names the same image is not
// written again.
const imageIDFile = "..image-id"

// ImageVolumeCurrent reports whether image volume vol of pod holds the
// content of image imageID already. Called by runner's volumes hook before
// it exports the image.
func (m *Manager) ImageVolumeCurrent(pod *v1.Pod, vol *v1.Volume, imageID string) bool {
	dir, err := m.volumePath(pod, vol)
	if err != nil {
		return false
	}
	got, err := os.ReadFile(filepath.Join(filepath.Dir(dir), "."+vol.Name+imageIDFile))
	return err == nil && string(got) == imageID
}

// WriteImageVolume fills image volume vol of pod with the root file system
// of image imageID, read as a tarball from rootfs (the engine's export of a
// container made from the image): into a new directory, then renamed into
// place, so that a container never mounts half a volume. Entries are
// created inside that directory through an os.Root: no path in the
// tarball, and no symlink in it, can make a file appear outside; devices
// are left out. Called by runner's volumes hook before the sandbox starts.
func (m *Manager) WriteImageVolume(pod *v1.Pod, vol *v1.Volume, imageID string, rootfs io.Reader) error {
	dir, err := m.volumePath(pod, vol)
	if err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+vol.Name+".new-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return err
	}
	err = untar(root, rootfs)
	root.Close()
	if err != nil {
		return fmt.Errorf("image volume %s: %w", vol.Name, err)
	}
	old := filepath.Join(parent, "."+vol.Name+".old")
	_ = os.RemoveAll(old)
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	_ = os.RemoveAll(old)
	return os.WriteFile(filepath.Join(parent, "."+vol.Name+imageIDFile), []byte(imageID), 0o600)
}

// untar extracts a tarball into root: directories, regular files,
// symlinks (their targets are the image's business: they are never
// followed here) and hard links within it.
func untar(root *os.Root, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		if name == "." || name == ".." || strings.HasPrefix(name, "../") {
			continue
		}
		mode := fs.FileMode(h.Mode).Perm()
		if dir := path.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.Mkdir(name, mode|0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		case tar.TypeReg:
			f, err := root.OpenFile(name, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			_ = root.Remove(name)
			if err := root.Symlink(h.Linkname, name); err != nil {
				return err
			}
		case tar.TypeLink:
			target := path.Clean(strings.TrimPrefix(h.Linkname, "/"))
			_ = root.Remove(name)
			if err := root.Link(target, name); err != nil {
				return err
			}
		}
	}
}
