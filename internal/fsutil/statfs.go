package fsutil

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Space is what statfs(2) says of the file system holding a path: bytes
// (Available is what an unprivileged writer may still use, as df shows it)
// and inodes.
type Space struct {
	Capacity   int64
	Available  int64
	Inodes     int64
	InodesFree int64
}

// Statfs measures the file system holding path. Safe for concurrent use.
func Statfs(path string) (Space, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Space{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	bsize := int64(st.Bsize)
	return Space{
		Capacity:   int64(st.Blocks) * bsize,
		Available:  int64(st.Bavail) * bsize,
		Inodes:     int64(st.Files),
		InodesFree: int64(st.Ffree),
	}, nil
}
