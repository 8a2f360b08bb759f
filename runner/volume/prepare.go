package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
)

// Directory names of the volume kinds under <pod>/volumes.
const (
	emptyDirKind  = "empty-dir"
	downwardKind  = "downward-api"
	projectedKind = "projected"
	imageKind     = "image"
)

// PreparePod makes the host side of every volume of the pod, as the
// kubelet does before it creates the sandbox: emptyDir directories (a tmpfs
// for medium Memory, sized as the kubelet sizes it; hugetlbfs for
// HugePages), downwardAPI and projected downwardAPI files (rewritten when
// their values changed), hostPath types checked or created. Idempotent:
// runner's worker calls it before it creates the sandbox and again before
// each container start.
func (m *Manager) PreparePod(pod *v1.Pod) error {
	dir, err := m.PodDir(pod.UID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create directory of pod %s: %w", podKey(pod), err)
	}
	for i := range pod.Spec.Volumes {
		vol := &pod.Spec.Volumes[i]
		if err := m.prepareVolume(pod, vol); err != nil {
			return fmt.Errorf("volume %s of pod %s: %w", vol.Name, podKey(pod), err)
		}
	}
	return nil
}

func (m *Manager) prepareVolume(pod *v1.Pod, vol *v1.Volume) error {
	path, err := m.volumePath(pod, vol)
	if err != nil {
		return err
	}
	var gid *int64
	if sc := pod.Spec.SecurityContext; sc != nil {
		gid = sc.FSGroup
	}
	switch {
	case vol.HostPath != nil:
		return checkHostPath(path, vol.HostPath.Type)
	case vol.EmptyDir != nil:
		return m.prepareEmptyDir(pod, path, vol.EmptyDir, gid)
	case vol.DownwardAPI != nil:
		files := map[string]file{}
		if err := downwardFiles(pod, vol.DownwardAPI.Items, vol.DownwardAPI.DefaultMode, m.node, files); err != nil {
			return err
		}
		return m.writeFiles(path, files, gid)
	case vol.Projected != nil:
		files, err := projectedFiles(pod, vol.Projected, m.node)
		if err != nil {
			return err
		}
		return m.writeFiles(path, files, gid)
	case vol.Image != nil:
		// Filled by the caller from the image (WriteImageVolume) before
		// the containers that mount it start.
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("image volume not written yet: %w", err)
		}
	}
	return nil
}

// volumePath is where a volume lives on the host: a hostPath's own path,
// else a directory under <pod>/volumes. Other sources are refused.
func (m *Manager) volumePath(pod *v1.Pod, vol *v1.Volume) (string, error) {
	if err := checkName("volume", vol.Name); err != nil {
		return "", err
	}
	var kind string
	switch {
	case vol.HostPath != nil:
		if !filepath.IsAbs(vol.HostPath.Path) {
			return "", fmt.Errorf("hostPath %q is not an absolute path", vol.HostPath.Path)
		}
		return filepath.Clean(vol.HostPath.Path), nil
	case vol.EmptyDir != nil:
		kind = emptyDirKind
	case vol.DownwardAPI != nil:
		kind = downwardKind
	case vol.Projected != nil:
		kind = projectedKind
	case vol.Image != nil:
		kind = imageKind
	default:
		return "", errors.New("only hostPath, emptyDir, downwardAPI, projected (downwardAPI sources) and image volumes can be used without an apiserver")
	}
	dir, err := m.PodDir(pod.UID)
	if err != nil {
		return "", err
	}
	return m.under(dir, "volumes", kind, vol.Name)
}

// writeFiles writes a downwardAPI or projected volume.
func (m *Manager) writeFiles(path string, files map[string]file, gid *int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	_, err := writeAtomic(path, files, gid)
	return err
}

// prepareEmptyDir creates an emptyDir as the kubelet does: mode 0777 (and,
// with fsGroup, owned by that group with setgid, so that files created in
// it are the group's), on a tmpfs or hugetlbfs when the medium says so.
// Ownership and mode are set when the directory or its mount is new; what
// the pod changes afterwards it keeps.
func (m *Manager) prepareEmptyDir(pod *v1.Pod, path string, ed *v1.EmptyDirVolumeSource, gid *int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	fresh := true
	if err := os.Mkdir(path, 0o777); errors.Is(err, fs.ErrExist) {
		fresh = false
	} else if err != nil {
		return err
	}
	fstype, options, err := emptyDirMount(pod, ed, m.node.MemoryBytes)
	if err != nil {
		return err
	}
	if fstype != "" {
		mounted, err := mountFS(path, fstype, options)
		if err != nil {
			return err
		}
		fresh = fresh || mounted
	}
	if !fresh {
		return nil
	}
	mode := os.FileMode(0o777)
	if gid != nil {
		if err := os.Lchown(path, -1, int(*gid)); err != nil {
			return err
		}
		mode |= os.ModeSetgid
	}
	return os.Chmod(path, mode)
}

// checkHostPath checks or creates a hostPath per its type, as the kubelet:
// DirectoryOrCreate makes the directory (0755), FileOrCreate the file
// (0644) in an existing or new directory; the other types must match what
// is there. The path is the manifest's: it is trusted to name a host path.
func checkHostPath(path string, t *v1.HostPathType) error {
	typ := v1.HostPathUnset
	if t != nil {
		typ = *t
	}
	if typ == v1.HostPathUnset {
		return nil
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		switch typ {
		case v1.HostPathDirectoryOrCreate:
			if err := os.MkdirAll(path, 0o755); err != nil {
				return fmt.Errorf("hostPath %s (type %s): %w", path, typ, err)
			}
			return nil
		case v1.HostPathFileOrCreate:
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return fmt.Errorf("hostPath %s (type %s): %w", path, typ, err)
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|nonBlock, 0o644)
			if err != nil {
				return fmt.Errorf("hostPath %s (type %s): %w", path, typ, err)
			}
			return f.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("hostPath %s (type %s): %w", path, typ, err)
	}
	mode := st.Mode()
	ok := true
	switch typ {
	case v1.HostPathDirectory, v1.HostPathDirectoryOrCreate:
		ok = mode.IsDir()
	case v1.HostPathFile, v1.HostPathFileOrCreate:
		ok = mode.IsRegular()
	case v1.HostPathSocket:
		ok = mode&os.ModeSocket != 0
	case v1.HostPathCharDev:
		ok = mode&os.ModeCharDevice != 0
	case v1.HostPathBlockDev:
		ok = mode&os.ModeDevice != 0 && mode&os.ModeCharDevice == 0
	}
	if !ok {
		return fmt.Errorf("hostPath %s is not a %s (it is %s)", path, typ, describeMode(mode))
	}
	return nil
}

// describeMode names a file's type for error messages (manifest.NotRegular
// for all but a regular file).
func describeMode(mode os.FileMode) string {
	if mode.IsRegular() {
		return "a regular file"
	}
	return manifest.NotRegular(mode)
}

func podKey(pod *v1.Pod) string { return pod.Namespace + "/" + pod.Name }
