package volume

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Open flags os does not name.
const (
	nonBlock = unix.O_NONBLOCK
	dirOnly  = unix.O_DIRECTORY
	noFollow = unix.O_NOFOLLOW
)

// mountsUnder lists the mount points at dir or below it in runner's mount
// namespace, deepest first (so that each can be unmounted in order).
func mountsUnder(dir string) ([]string, error) {
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	out := make([]string, 0, len(infos))
	for _, m := range infos {
		out = append(out, m.Mountpoint)
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, nil
}

// unmountAll unmounts every mount at dir or below it, deepest first, and
// fails unless none is left afterwards. A mount that is busy is left, and
// reported: the caller must then not remove dir.
func unmountAll(dir string) error {
	points, err := mountsUnder(dir)
	if err != nil || len(points) == 0 {
		return err
	}
	var errs []error
	for _, p := range points {
		// UMOUNT_NOFOLLOW: a mount point inside a volume could be a
		// symlink by now; never unmount what it points to.
		err := unix.Unmount(p, unix.UMOUNT_NOFOLLOW)
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	left, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		errs = append(errs, fmt.Errorf("%d mount(s) left under %s, e.g. %s", len(left), dir, left[0]))
	}
	return errors.Join(errs...)
}

// removeTree removes dir and everything below it once no mount is left
// under it: it never recurses into a mount. A missing dir is success.
func removeTree(dir string) error {
	if err := unmountAll(dir); err != nil {
		return fmt.Errorf("%w; %s is left in place", err, dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// isMountPoint reports whether path is a mount point.
func isMountPoint(path string) (bool, error) {
	ok, err := mountinfo.Mounted(path)
	if err != nil {
		return false, fmt.Errorf("is %s a mount point: %w", path, err)
	}
	return ok, nil
}

// mountFS mounts a file system of type fstype (tmpfs, hugetlbfs) on dir
// unless one is there already. It reports whether it mounted.
func mountFS(dir, fstype, options string) (bool, error) {
	mounted, err := isMountPoint(dir)
	if err != nil || mounted {
		return false, err
	}
	if err := unix.Mount(fstype, dir, fstype, 0, options); err != nil {
		return false, fmt.Errorf("mount %s on %s (%s): %w", fstype, dir, options, err)
	}
	return true, nil
}

// bindFd bind-mounts (recursively) what the open handle fd refers to onto
// target, which must exist and be of the same kind (directory or file).
// The source goes through /proc/self/fd, so what is mounted is the file the
// handle was opened on, whatever happened to its path since.
func bindFd(fd *os.File, target string) error {
	src := fmt.Sprintf("/proc/self/fd/%d", fd.Fd())
	if err := unix.Mount(src, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s onto %s: %w", fd.Name(), target, err)
	}
	// Check that the mount shows the handle's file, not something else.
	var want, got unix.Stat_t
	if err := unix.Fstat(int(fd.Fd()), &want); err != nil {
		return err
	}
	if err := unix.Lstat(target, &got); err != nil || got.Dev != want.Dev || got.Ino != want.Ino {
		_ = unix.Unmount(target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
		return fmt.Errorf("bind onto %s does not show the resolved file (%v)", target, err)
	}
	return nil
}

// errNotEmpty is rmdir's answer for a directory that still has entries.
var errNotEmpty = unix.ENOTEMPTY
