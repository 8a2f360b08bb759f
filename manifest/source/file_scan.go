package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
)

// scanner reads the manifest path and remembers, per file, the pods it last
// defined successfully, in memory and in a checkpoint under --root-dir.
// Used only by Run's goroutine.
type scanner struct {
	path string
	opts manifest.Options
	load LoadFunc
	log  *slog.Logger
	now  func() time.Time
	cps  *checkpoints // nil without a root dir

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
	sum      string            // contentSum of the content pods came from
	content  []byte            // that content
	version  manifest.Version  // of pods
	problems manifest.Problems // why the file's current content is not used
	// triedCheckpoint is set once the checkpoint was tried for pods, so a
	// checkpoint that does not load is tried (and logged) once.
	triedCheckpoint bool
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

// newScanner makes the scanner of cfg and reads the checkpoints under
// cfg.RootDir; a checkpoint of a file outside cfg.Path (left by a runner
// with another --manifest-dir) is dropped. Called by Run.
func newScanner(cfg FileConfig, log *slog.Logger) *scanner {
	s := &scanner{
		path:      cfg.Path,
		opts:      cfg.Options,
		load:      cfg.Load,
		log:       log,
		now:       cfg.Now,
		files:     map[string]*fileState{},
		ignored:   map[string]bool{},
		winners:   map[string]string{},
		conflicts: map[string]bool{},
	}
	if cfg.RootDir != "" {
		s.cps = openCheckpoints(CheckpointDir(cfg.RootDir, manifest.SourceFile), log)
		for _, origin := range s.cps.origins() {
			if origin != s.path && filepath.Dir(origin) != s.path {
				log.Info("dropping the checkpoint of a manifest outside the manifest path", "file", origin)
				s.cps.drop(origin)
			}
		}
	}
	return s
}

// scan reads what changed and returns the full snapshot. A file is read
// when it is new, when its stamp changed, when an event named it (forced),
// or when all is set; otherwise its last result stands. When the path
// cannot be read, every pod read so far (or, at start, saved in a
// checkpoint) stays and the snapshot is Partial.
func (s *scanner) scan(forced map[string]bool, all bool) manifest.Snapshot {
	cands, complete, trouble := s.list()
	if !complete {
		// The path could not be read: that says nothing about the files,
		// so everything stays as it was.
		reason := "the manifest path does not exist"
		if trouble != nil {
			reason = trouble.Message
		}
		s.keepAll(reason)
		if trouble == nil {
			if pods := s.podCount(); pods > 0 {
				s.notePath("missing", slog.LevelWarn, "manifest path does not exist; keeping the pods of its files until it is back (remove the files, not the directory, to stop pods)",
					"pods", pods, "files", len(s.files))
			} else {
				s.notePath("missing", slog.LevelInfo, "manifest path does not exist (yet); no pods from it until it appears")
			}
		}
		snap := s.snapshot()
		if trouble != nil {
			snap.Problems = append(manifest.Problems{*trouble}, snap.Problems...)
		}
		snap.Partial, snap.PartialSources = true, []string{manifest.SourceFile}
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
			s.cps.drop(p)
		}
	}
	for _, origin := range s.cps.origins() {
		if !present[origin] {
			s.log.Info("manifest removed while runner was stopped; dropping its checkpoint", "file", origin)
			s.cps.drop(origin)
		}
	}
	return s.snapshot()
}

// keepAll keeps every file's pods while the path cannot be read: those read
// so far, and at start those of every checkpoint. Every file is read again
// once the path is back. Called by scan.
func (s *scanner) keepAll(reason string) {
	for _, origin := range s.cps.origins() {
		if _, ok := s.files[origin]; !ok {
			s.files[origin] = &fileState{}
		}
	}
	for p, st := range s.files {
		st.stamp = stamp{}
		if len(st.pods) == 0 {
			s.loadCheckpoint(p, st)
		}
		s.markStale(st, reason)
	}
}

// list finds the files to read. complete is false when the path could not
// be read, so that files missing from the list may still be there: the path
// does not exist (a directory gone, or not there yet), or it cannot be
// read (then trouble says why). A single manifest file (the path itself)
// that is removed from a directory that can be read is complete: the file
// is gone.
func (s *scanner) list() (cands []candidate, complete bool, trouble *manifest.Problem) {
	fi, err := os.Stat(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if s.singleFileGone() {
			s.notePath("gone", slog.LevelInfo, "manifest file removed")
			return nil, true, nil
		}
		return nil, false, nil // scan says so, once it knows the pods kept
	case err != nil:
		s.notePath("error "+err.Error(), slog.LevelWarn, "cannot read manifest path; keeping the pods read so far", "err", err, "pods", s.podCount())
		return nil, false, &manifest.Problem{File: s.path, Message: fmt.Sprintf("cannot read: %v", withoutPath(err))}
	case fi.Mode().IsRegular():
		s.notePath("file", slog.LevelInfo, "reading a single manifest file")
		return []candidate{{path: s.path, info: fi}}, true, nil
	case !fi.IsDir():
		s.notePath("odd", slog.LevelWarn, "manifest path is neither a directory nor a regular file; no pods from it", "is", manifest.NotRegular(fi.Mode()))
		return nil, true, nil
	}
	entries, err := os.ReadDir(s.path)
	if err != nil {
		s.notePath("error "+err.Error(), slog.LevelWarn, "cannot list manifest directory; keeping the pods read so far", "err", err, "pods", s.podCount())
		return nil, false, &manifest.Problem{File: s.path, Message: fmt.Sprintf("cannot list: %v", withoutPath(err))}
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
	for _, e := range entries { // sorted by name
		name := e.Name()
		p := filepath.Join(s.path, name)
		info, err := os.Stat(p)
		if err != nil {
			info = nil
		}
		if ok, why := manifest.Classify(name, info); !ok {
			ignore(name, why)
			continue
		}
		if err != nil {
			if _, lerr := os.Lstat(p); lerr == nil {
				// A dangling symlink or an unreadable entry: a problem,
				// not a removal.
				cands = append(cands, candidate{path: p, err: withoutPath(err)})
			} // else removed since it was listed
			continue
		}
		cands = append(cands, candidate{path: p, info: info})
	}
	s.ignored = seen
	return cands, true, nil
}

// singleFileGone reports whether the path, which does not exist, was a
// single manifest file (runner read it, or has its checkpoint) whose
// directory can be read: then the file is truly gone.
func (s *scanner) singleFileGone() bool {
	_, known := s.files[s.path]
	if !known && s.cps.get(s.path) == nil {
		return false
	}
	fi, err := os.Stat(filepath.Dir(s.path))
	return err == nil && fi.IsDir()
}

// podCount is how many pods the files define (conflicts counted twice).
func (s *scanner) podCount() int {
	n := 0
	for _, st := range s.files {
		n += len(st.pods)
	}
	return n
}

// notePath logs what the path is when that changes.
func (s *scanner) notePath(state string, level slog.Level, msg string, args ...any) {
	if s.pathState == state {
		return
	}
	s.pathState = state
	s.log.Log(context.Background(), level, msg, args...)
}

// withoutPath is err without the path a *fs.PathError repeats: problems
// name the file already.
func withoutPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
