package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
)

// scanner reads the manifest path and remembers, per file, the pods it last
// defined successfully. Used only by Run's goroutine.
type scanner struct {
	path string
	opts manifest.Options
	load LoadFunc
	log  *slog.Logger

	files     map[string]*fileState // by full path
	ignored   map[string]bool       // name+reason logged as ignored, while present
	pathState string                // what was last logged about the path itself
	winners   map[string]string     // namespace/name → origin, see resolve
	conflicts map[string]bool       // conflicts logged, while they last
}

// fileState is what the scanner knows about one manifest file.
type fileState struct {
	stamp    stamp
	pods     []*v1.Pod         // the last good pods, desired until removal
	problems manifest.Problems // why the file's current content is not used
}

// stamp tells whether a file may have changed since it was read.
type stamp struct {
	key          fileKey
	size         int64
	mtime, ctime int64
}

func stampOf(fi os.FileInfo) stamp {
	s := stamp{key: keyOf(fi), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ctime = st.Ctim.Nano()
	}
	return s
}

// candidate is a file the scan wants read: its stat (following symlinks)
// or why that failed.
type candidate struct {
	path string
	info os.FileInfo
	err  error
}

func newScanner(cfg FileConfig, log *slog.Logger) *scanner {
	return &scanner{
		path:      cfg.Path,
		opts:      cfg.Options,
		load:      cfg.Load,
		log:       log,
		files:     map[string]*fileState{},
		ignored:   map[string]bool{},
		winners:   map[string]string{},
		conflicts: map[string]bool{},
	}
}

// scan reads what changed and returns the full snapshot. A file is read
// when it is new, when its stamp changed, when an event named it (forced),
// or when all is set; otherwise its last result stands.
func (s *scanner) scan(forced map[string]bool, all bool) manifest.Snapshot {
	cands, trouble := s.list()
	if trouble != nil {
		// The path could not be read: that says nothing about the files,
		// so everything stays as it was.
		snap := s.snapshot()
		snap.Problems = append(manifest.Problems{*trouble}, snap.Problems...)
		return snap
	}
	present := make(map[string]bool, len(cands))
	for _, c := range cands {
		present[c.path] = true
		s.refresh(c, all || forced[filepath.Base(c.path)])
	}
	for p, st := range s.files {
		if !present[p] {
			if len(st.pods) > 0 {
				s.log.Info("manifest removed; its pods are no longer desired", "file", p, "pods", len(st.pods))
			}
			delete(s.files, p)
		}
	}
	return s.snapshot()
}

// list finds the files to read. It returns a problem, and no candidates,
// when the path exists but cannot be listed.
func (s *scanner) list() ([]candidate, *manifest.Problem) {
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.notePath("missing", slog.LevelInfo, "manifest path does not exist (yet); no pods from it until it appears")
		return nil, nil
	case err != nil:
		s.notePath("error "+err.Error(), slog.LevelWarn, "cannot read manifest path; keeping the pods read so far", "err", err)
		return nil, &manifest.Problem{File: s.path, Message: fmt.Sprintf("cannot read: %v", err)}
	case fi.Mode().IsRegular():
		s.notePath("file", slog.LevelInfo, "reading a single manifest file")
		return []candidate{{path: s.path, info: fi}}, nil
	case !fi.IsDir():
		s.notePath("odd", slog.LevelWarn, "manifest path is neither a directory nor a regular file; no pods from it")
		return nil, nil
	}
	entries, err := os.ReadDir(s.path)
	if err != nil {
		s.notePath("error "+err.Error(), slog.LevelWarn, "cannot list manifest directory; keeping the pods read so far", "err", err)
		return nil, &manifest.Problem{File: s.path, Message: fmt.Sprintf("cannot list: %v", err)}
	}
	s.notePath("dir", slog.LevelInfo, "reading manifest directory")

	seen := map[string]bool{}
	ignore := func(name, reason string) {
		k := name + "\x00" + reason
		seen[k] = true
		if !s.ignored[k] {
			s.log.Info(fmt.Sprintf("ignoring %s: %s", name, reason), "file", filepath.Join(s.path, name))
		}
	}
	var cands []candidate
	for _, e := range entries { // sorted by name
		name := e.Name()
		p := filepath.Join(s.path, name)
		ok, why := manifest.ManifestName(name)
		info, err := os.Stat(p)
		if err == nil && info.IsDir() && !strings.HasPrefix(name, ".") {
			ignore(name, "subdirectories are not read")
			continue
		}
		if !ok {
			ignore(name, why)
			continue
		}
		if err != nil {
			if _, lerr := os.Lstat(p); lerr == nil {
				// A dangling symlink or an unreadable entry: a problem,
				// not a removal.
				cands = append(cands, candidate{path: p, err: err})
			} // else removed since it was listed
			continue
		}
		switch {
		case !info.Mode().IsRegular():
			ignore(name, "not a regular file")
		default:
			cands = append(cands, candidate{path: p, info: info})
		}
	}
	s.ignored = seen
	return cands, nil
}

// notePath logs what the path is when that changes.
func (s *scanner) notePath(state string, level slog.Level, msg string, args ...any) {
	if s.pathState == state {
		return
	}
	s.pathState = state
	s.log.Log(context.Background(), level, msg, args...)
}
