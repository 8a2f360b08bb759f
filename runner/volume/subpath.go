package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// ExpandSubPathExpr expands a volumeMount's subPathExpr from the
// container's environment as the kubelet does: $(VAR) is VAR's value, $$ is
// a literal $, anything else is kept as written; a reference to a variable
// that is unset or empty is an error. The result is then checked with
// CheckSubPath. Pure.
func ExpandSubPathExpr(expr string, env map[string]string) (string, error) {
	var b strings.Builder
	var missing []string
	for i := 0; i < len(expr); i++ {
		if expr[i] != '$' || i+1 == len(expr) {
			b.WriteByte(expr[i])
			continue
		}
		switch expr[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(expr[i+2:], ')')
			if end < 0 {
				b.WriteString(expr[i:])
				i = len(expr)
				continue
			}
			name := expr[i+2 : i+2+end]
			if v := env[name]; v != "" {
				b.WriteString(v)
			} else if !contains(missing, name) {
				missing = append(missing, name)
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return "", fmt.Errorf("subPathExpr %q: missing value for %s", expr, strings.Join(missing, ", "))
	}
	out := b.String()
	if err := CheckSubPath(out); err != nil {
		return "", fmt.Errorf("subPathExpr %q: %w", expr, err)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// openSubPath opens sub inside the volume directory root and returns an
// O_PATH handle on what it names, creating it as directories (mode perm,
// as the kubelet: the volume root's) when it does not exist.
//
// Two steps, each with a library made for it. First, as the kubelet, a
// subPath whose symlinks lead out of the volume (absolute targets, '..'
// past the root) is refused with a clear error: os.Root resolves it and
// never leaves root. Then the handle is opened with filepath-securejoin,
// which resolves every symlink as if root were "/": a pod that swaps a
// symlink after the first step still cannot make the handle point outside
// the volume.
func openSubPath(root, sub string, perm os.FileMode) (*os.File, error) {
	return resolveInVolume(root, sub, &perm)
}

// resolveInVolume is openSubPath; with create nil, a missing path is an
// error (fs.ErrNotExist) instead of being created.
func resolveInVolume(root, sub string, create *os.FileMode) (*os.File, error) {
	if err := CheckSubPath(sub); err != nil {
		return nil, err
	}
	sub = path.Clean(sub)
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	_, statErr := r.Stat(sub)
	r.Close()
	if statErr != nil && (create == nil || !errors.Is(statErr, fs.ErrNotExist)) {
		return nil, fmt.Errorf("subPath %q cannot be resolved inside its volume: %w", sub, statErr)
	}
	rootFd, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer rootFd.Close()
	if statErr != nil {
		if err := mkdirInRoot(rootFd, sub, *create); err != nil {
			return nil, fmt.Errorf("create subPath %q in its volume: %w", sub, err)
		}
	}
	return openInRoot(rootFd, sub)
}

// openInRoot opens sub below rootFd as an O_PATH handle, resolving every
// symlink as if rootFd were "/": the handle cannot name anything outside.
func openInRoot(rootFd *os.File, sub string) (*os.File, error) {
	fd, err := pathrs.OpenatInRoot(rootFd, sub)
	if err != nil {
		return nil, fmt.Errorf("open subPath %q in its volume: %w", sub, err)
	}
	return fd, nil
}

// mkdirInRoot creates the missing directories of sub below rootFd, each
// with mode perm whatever the umask, never leaving rootFd.
func mkdirInRoot(rootFd *os.File, sub string, perm os.FileMode) error {
	perm &= 0o1777 // mkdir ignores setuid/setgid; a setgid parent passes it on
	parts := strings.Split(sub, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		if h, err := pathrs.OpenatInRoot(rootFd, prefix); err == nil {
			h.Close()
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		h, err := pathrs.MkdirAllHandle(rootFd, prefix, perm)
		if err != nil {
			return err
		}
		err = unix.Fchmodat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", h.Fd()), uint32(perm), 0)
		h.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// bindSubPath resolves sub inside the volume at root and bind-mounts it
// onto target, a mount point runner owns (created as a directory or a file
// to match). What Docker is then given is target: the pod can no longer
// change what it shows.
func bindSubPath(root, sub, target string) error {
	st, err := os.Stat(root)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("subPath %q: the volume is not a directory", sub)
	}
	fd, err := openSubPath(root, sub, st.Mode().Perm()|st.Mode()&os.ModeSticky)
	if err != nil {
		return err
	}
	defer fd.Close()
	var fst unix.Stat_t
	if err := unix.Fstat(int(fd.Fd()), &fst); err != nil {
		return err
	}
	if err := makeMountPoint(target, fst.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil {
		return err
	}
	return bindFd(fd, target)
}

// makeMountPoint makes target an empty directory or file, not a mount,
// ready to be mounted on. target is below a runner-owned directory.
func makeMountPoint(target string, dir bool) error {
	if err := unmountAll(target); err != nil {
		return err
	}
	if st, err := os.Lstat(target); err == nil && st.IsDir() != dir {
		if err := os.Remove(target); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(path.Dir(target), 0o750); err != nil {
		return err
	}
	if dir {
		if err := os.Mkdir(target, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		return nil
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY|unix.O_NOFOLLOW, 0o640)
	if err != nil {
		return err
	}
	return f.Close()
}
