package source

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/fsnotify/fsnotify"
)

// watch keeps fsnotify watches on the manifest path and on its parent. The
// parent's watch sees the path appear, disappear or be swapped (a symlink
// renamed over it); the path's own watch sees the files in it, or the file
// itself. inotify follows a symlinked path to the directory it names at the
// time of the watch, so ensure moves the watch whenever the path starts to
// resolve to another directory.
//
// Used only by Run's goroutine. Without inotify (no watcher could be made)
// every method is a no-op and the periodic rescan does all the work.
type watch struct {
	path, parent string
	log          *slog.Logger
	w            *fsnotify.Watcher

	target   fileKey           // what path resolved to when it was watched
	targeted bool              // path is watched
	failing  map[string]string // path → error logged once, until it works
}

// fileKey identifies a file or directory across renames.
type fileKey struct{ dev, ino uint64 }

func newWatch(path string, log *slog.Logger, newWatcher func() (*fsnotify.Watcher, error)) *watch {
	w := &watch{path: path, parent: filepath.Dir(path), log: log, failing: map[string]string{}}
	fw, err := newWatcher()
	if err != nil {
		log.Warn("cannot watch manifests; relying on the periodic rescan", "err", err)
		return w
	}
	w.w = fw
	return w
}

// events is the watcher's event channel, nil (never ready) without one.
func (w *watch) events() <-chan fsnotify.Event {
	if w.w == nil {
		return nil
	}
	return w.w.Events
}

// errors is the watcher's error channel, nil (never ready) without one.
func (w *watch) errors() <-chan error {
	if w.w == nil {
		return nil
	}
	return w.w.Errors
}

// lost gives up on a watcher whose channels closed under us; the periodic
// rescan carries on.
func (w *watch) lost(err error) {
	w.log.Warn("manifest watch lost; relying on the periodic rescan", "err", err)
	w.close()
}

// close releases the watcher and joins its reader goroutine.
func (w *watch) close() {
	if w.w != nil {
		_ = w.w.Close()
		w.w = nil
	}
}

// ensure (re)arms the watches before a scan: the parent when it is not
// watched, the path when it is not watched or resolves to a directory other
// than the one watched. Failures are logged once per path and retried at the
// next scan; a path that does not exist is not a failure (the scanner says
// so, and the parent's watch sees it appear).
func (w *watch) ensure() {
	if w.w == nil {
		return
	}
	watched := w.w.WatchList()
	if w.parent != w.path && !slices.Contains(watched, w.parent) {
		w.add(w.parent)
	}

	key, err := statKey(w.path)
	if err != nil {
		w.drop()
		if !errors.Is(err, fs.ErrNotExist) {
			w.fail(w.path, err)
		}
		return
	}
	if w.targeted && key == w.target && slices.Contains(watched, w.path) {
		return
	}
	w.drop()
	if w.add(w.path) {
		w.target, w.targeted = key, true
	}
}

// drop removes the watch on the path, which may already be gone with the
// directory it was on.
func (w *watch) drop() {
	if w.targeted {
		_ = w.w.Remove(w.path)
		w.targeted = false
	}
}

// add watches p and reports whether that worked.
func (w *watch) add(p string) bool {
	if err := w.w.Add(p); err != nil {
		w.fail(p, err)
		return false
	}
	if _, ok := w.failing[p]; ok {
		w.log.Info("watching manifests again", "watch", p)
		delete(w.failing, p)
	}
	return true
}

func (w *watch) fail(p string, err error) {
	if w.failing[p] == err.Error() {
		return
	}
	w.failing[p] = err.Error()
	w.log.Warn("cannot watch; retrying at every rescan", "watch", p, "err", err)
}

// relevant says what an event named name means for the next scan: nothing
// (a sibling of the path in the parent directory), every file (the path
// itself changed), or the file base in the directory.
func (w *watch) relevant(name string) (base string, all, ok bool) {
	name = filepath.Clean(name)
	switch {
	case name == w.path:
		return "", true, true
	case filepath.Dir(name) == w.path:
		return filepath.Base(name), false, true
	default:
		return "", false, false
	}
}

// statKey identifies what p resolves to.
func statKey(p string) (fileKey, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return fileKey{}, err
	}
	return keyOf(fi), nil
}

func keyOf(fi os.FileInfo) fileKey {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}
	}
	return fileKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}
}
