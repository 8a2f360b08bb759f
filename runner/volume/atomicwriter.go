package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// Names the atomic writer keeps for itself in a volume directory; a
// payload path may not start with "..".
const (
	dataLink    = "..data"
	dataLinkTmp = "..data_tmp"
	tsPrefix    = ".."
	tsLayout    = "2006_01_02_15_04_05.000000000"
)

// maxCompareBytes bounds what is read back of a current file to decide
// that it is unchanged; a larger one is simply rewritten.
const maxCompareBytes = 1 << 20

// writeAtomic makes dir hold exactly files, as the kubelet's AtomicWriter:
// the files go to a new timestamped directory "..<ts>", the symlink "..data"
// is swapped to it with one rename, each top-level name is a symlink into
// "..data", and everything else in dir (the previous "..<ts>", files left by
// an older layout, leftovers of a crash) is removed. A reader sees the old
// set or the new one, never a mix. Nothing is done when dir already holds
// files. gid, when set, owns every file and directory (fsGroup), and files
// are then group-readable.
//
// dir itself must be runner's; everything inside it is treated as planted
// by the pod: every access goes through an os.Root, which never follows a
// symlink out of dir, and names are replaced, never written through.
// Called by PreparePod on a worker.
func writeAtomic(dir string, payload map[string]file, gid *int64) (changed bool, err error) {
	files := make(map[string]file, len(payload))
	for p, f := range payload {
		if err := CheckItemPath(p); err != nil {
			return false, err
		}
		clean := path.Clean(p)
		if _, dup := files[clean]; dup {
			return false, fmt.Errorf("file path %q is used twice in the volume", p)
		}
		files[clean] = f
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return false, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return false, err
	}
	defer root.Close()
	if gid != nil {
		if err := setDirMode(root, ".", gid); err != nil {
			return false, err
		}
	}
	visible := topLevel(files)
	old, _ := root.Readlink(dataLink)
	if !isTimestampDir(old) || !sameFiles(root, old, files) {
		old, err = writeTimestampDir(root, files, gid)
		if err != nil {
			return false, err
		}
		if err := swapDataLink(root, old); err != nil {
			return false, err
		}
		changed = true
	}
	for name := range visible {
		target := dataLink + "/" + name
		if cur, err := root.Readlink(name); err == nil && cur == target {
			continue
		}
		if err := root.RemoveAll(name); err != nil {
			return changed, err
		}
		if err := root.Symlink(target, name); err != nil {
			return changed, err
		}
		changed = true
	}
	return changed, removeOthers(root, old, visible)
}

// topLevel is the set of first path elements of the (clean) payload.
func topLevel(files map[string]file) map[string]bool {
	out := map[string]bool{}
	for p := range files {
		first, _, _ := strings.Cut(p, "/")
		out[first] = true
	}
	return out
}

// isTimestampDir reports whether name is one of the writer's "..<ts>"
// directory names (and so safe to resolve and remove).
func isTimestampDir(name string) bool {
	rest, ok := strings.CutPrefix(name, tsPrefix)
	if !ok || strings.ContainsRune(rest, '/') || len(rest) < len(tsLayout) {
		return false
	}
	_, err := time.Parse(tsLayout, rest[:len(tsLayout)])
	return err == nil
}

// sameFiles reports whether the directory ts under root holds exactly
// files, with their modes and contents.
func sameFiles(root *os.Root, ts string, files map[string]file) bool {
	seen := 0
	err := fs.WalkDir(root.FS(), ts, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		want, ok := files[strings.TrimPrefix(p, ts+"/")]
		if !ok || !d.Type().IsRegular() {
			return errDiffers
		}
		seen++
		return compareFile(root, p, want)
	})
	return err == nil && seen == len(files)
}

var errDiffers = errors.New("differs")

// compareFile returns errDiffers unless the regular file name under root
// has want's mode and content.
func compareFile(root *os.Root, name string, want file) error {
	f, err := root.OpenFile(name, os.O_RDONLY|noFollow|nonBlock, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != want.mode || st.Size() != int64(len(want.data)) {
		return errDiffers
	}
	got, err := io.ReadAll(io.LimitReader(f, maxCompareBytes))
	if err != nil || !bytes.Equal(got, want.data) {
		return errDiffers
	}
	return nil
}

// writeTimestampDir writes files into a new "..<ts>" directory of root and
// returns its name.
func writeTimestampDir(root *os.Root, files map[string]file, gid *int64) (string, error) {
	ts := tsPrefix + time.Now().UTC().Format(tsLayout)
	for i := 0; ; i++ {
		name := ts
		if i > 0 {
			name = fmt.Sprintf("%s.%d", ts, i)
		}
		err := root.Mkdir(name, 0o755)
		if err == nil {
			ts = name
			break
		}
		if !errors.Is(err, fs.ErrExist) || i > 100 {
			return "", err
		}
	}
	if err := setDirMode(root, ts, gid); err != nil {
		return "", err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := ts + "/" + p
		if err := mkdirParents(root, ts, path.Dir(p), gid); err != nil {
			return "", err
		}
		if err := writeNewFile(root, full, files[p], gid); err != nil {
			return "", err
		}
	}
	return ts, nil
}

// mkdirParents creates the directories of rel (a clean relative path)
// below ts, each 0755 (and owned by gid when set).
func mkdirParents(root *os.Root, ts, rel string, gid *int64) error {
	if rel == "." {
		return nil
	}
	cur := ts
	for _, part := range strings.Split(rel, "/") {
		cur += "/" + part
		err := root.Mkdir(cur, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := setDirMode(root, cur, gid); err != nil {
			return err
		}
	}
	return nil
}

// setDirMode gives a directory the writer made mode 0755 whatever the
// umask (and group gid, setgid, when set), through an open handle.
func setDirMode(root *os.Root, name string, gid *int64) error {
	d, err := root.OpenFile(name, os.O_RDONLY|noFollow|dirOnly, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	mode := os.FileMode(0o755)
	if gid != nil {
		if err := d.Chown(-1, int(*gid)); err != nil {
			return err
		}
		mode |= os.ModeSetgid
	}
	return d.Chmod(mode)
}

// writeNewFile creates name (which must not exist) with f's content and
// mode; with gid, the file belongs to that group and is group-readable.
func writeNewFile(root *os.Root, name string, f file, gid *int64) error {
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	mode := f.mode
	if gid != nil {
		if err := out.Chown(-1, int(*gid)); err != nil {
			out.Close()
			return err
		}
		mode |= 0o440
	}
	if _, err := out.Write(f.data); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(mode); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// swapDataLink points "..data" at ts with one rename.
func swapDataLink(root *os.Root, ts string) error {
	if err := root.RemoveAll(dataLinkTmp); err != nil {
		return err
	}
	if err := root.Symlink(ts, dataLinkTmp); err != nil {
		return err
	}
	err := root.Rename(dataLinkTmp, dataLink)
	if err != nil {
		// "..data" is not a symlink (a directory planted by a pod of an
		// older runner that mounted the volume read-write): replace it.
		if rerr := root.RemoveAll(dataLink); rerr != nil {
			return errors.Join(err, rerr)
		}
		err = root.Rename(dataLinkTmp, dataLink)
	}
	return err
}

// removeOthers removes every entry of root but "..data", the current
// timestamp directory and the visible names.
func removeOthers(root *os.Root, current string, visible map[string]bool) error {
	d, err := root.Open(".")
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if name == dataLink || name == current || visible[name] {
			continue
		}
		errs = append(errs, root.RemoveAll(name))
	}
	return errors.Join(errs...)
}
