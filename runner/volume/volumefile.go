package volume

import (
	"fmt"
	"io"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
)

// ReadVolumeFile reads the regular file at rel inside the pod's volume
// named volume, at most max bytes (more is an error), resolved like a
// subPath: a symlink the pod planted cannot lead out of the volume, and a
// FIFO or device in its place is an error, never opened for reading. A
// missing file is an error that matches fs.ErrNotExist. For env
// fileKeyRef, whose file an init container writes into an emptyDir; called
// by a worker before it creates the container.
func (m *Manager) ReadVolumeFile(pod *v1.Pod, volume, rel string, max int64) ([]byte, error) {
	vol := findVolume(pod, volume)
	if vol == nil {
		return nil, fmt.Errorf("pod %s has no volume %q", podKey(pod), volume)
	}
	root, err := m.volumePath(pod, vol)
	if err != nil {
		return nil, err
	}
	handle, err := resolveInVolume(root, rel, nil)
	if err != nil {
		return nil, fmt.Errorf("volume %s of pod %s: %w", volume, podKey(pod), err)
	}
	defer handle.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(handle.Fd()), &st); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("volume %s of pod %s: %s is not a regular file", volume, podKey(pod), rel)
	}
	f, err := pathrs.Reopen(handle, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("volume %s of pod %s: open %s: %w", volume, podKey(pod), rel, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("volume %s of pod %s: %s is larger than %d bytes", volume, podKey(pod), rel, max)
	}
	return data, nil
}
