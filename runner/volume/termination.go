package volume

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/types"
)

// MaxTerminationMessage is the most of a termination-log file that is read
// back: its last 4 KiB, as the kubelet reads it.
const MaxTerminationMessage = 4096

// TerminationMessage reads back the termination-log file of a container
// instance: its last MaxTerminationMessage bytes. A missing file (or
// instance directory) is "" and no error, as for the kubelet, so that
// FallbackToLogsOnError can apply. The file must be a regular file: a
// symlink or anything else put in its place is an error, never followed or
// opened (a FIFO cannot block the read). Called by runner when it builds
// the status of a container that exited.
func (m *Manager) TerminationMessage(uid types.UID, container string, attempt int) (string, error) {
	dir, err := m.instanceDir(uid, container, attempt)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(m.pods, dir)
	if err != nil {
		return "", err
	}
	// The instance directory is opened inside the pods directory, so that
	// no symlink along the way leads elsewhere.
	d, err := pathrs.OpenInRoot(m.pods, rel)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("termination log of container %s of pod %s: %w", container, uid, err)
	}
	defer d.Close()
	fd, err := unix.Openat(int(d.Fd()), terminationLog, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("termination log of container %s of pod %s: open %s: %w", container, uid, terminationLog, err)
	}
	f := os.NewFile(uintptr(fd), filepath.Join(dir, terminationLog))
	defer f.Close()
	data, err := readTail(f, MaxTerminationMessage)
	if err != nil {
		return "", fmt.Errorf("termination log of container %s of pod %s: %w", container, uid, err)
	}
	return string(data), nil
}

// readTail reads the last max bytes of the regular file f.
func readTail(f *os.File, max int64) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a regular file", f.Name(), describeMode(st.Mode()))
	}
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	return io.ReadAll(io.NewSectionReader(f, off, max))
}
