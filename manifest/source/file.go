package source

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
)

// Defaults of FileConfig.
const (
	// DefaultInterval is the kubelet's --file-check-frequency default.
	DefaultInterval = 20 * time.Second
	// DefaultDebounce is long enough to cover an editor's save dance and
	// short enough that nobody notices it.
	DefaultDebounce = 100 * time.Millisecond
)

// maxQuietPeriods bounds how long a steady stream of events can postpone a
// rescan: at most this many Debounce periods after the first event.
const maxQuietPeriods = 10

// LoadFunc loads the content of the manifest file (or URL) at origin and
// returns either all its pods or no pod and every problem (the contract of
// manifest.Load). It must be pure: a checkpoint is loaded with it too.
type LoadFunc func(origin string, data []byte, opts manifest.Options) ([]*v1.Pod, manifest.Problems)

// FileConfig configures a File source.
type FileConfig struct {
	// Path is the manifest directory, or a single manifest file. It need not
	// exist yet; it may be a symlink, and it may be swapped atomically.
	// A single file is read whatever its name; in a directory only
	// regular *.yaml, *.yml, *.json and *.manifest files that are not
	// hidden are read (manifest.Classify).
	Path string
	// RootDir is runner's --root-dir: each file's last good content is
	// kept in RootDir/checkpoints/file, so that a file that is invalid,
	// half-written or unreadable when runner starts runs its last good
	// pods. Empty means no checkpoints.
	RootDir string
	// Interval is the period of the full rescan that backs up the watch
	// (--file-check-frequency). Zero means DefaultInterval.
	Interval time.Duration
	// Debounce is the quiet period that events start and extend; the
	// directory is read when it ends. Zero means DefaultDebounce.
	Debounce time.Duration
	// Options are passed to Load. An empty Source means
	// manifest.SourceFile; a nil Now means this config's Now.
	Options manifest.Options
	// Load loads one file's content; nil means manifest.Load.
	Load LoadFunc
	// Logger receives what the source ignores, every problem and every
	// change of a file's pods, each once; nil discards.
	Logger *slog.Logger
	// Now is the clock stamped into kubernetes.io/config.seen when
	// Options.Now is nil; nil means time.Now.
	Now func() time.Time
}

// File is the manifest source that watches a directory or a single file.
// Create it with NewFile and start it with Run.
type File struct {
	cfg FileConfig
	// newWatcher makes the fsnotify watcher; tests replace it to reach the
	// watcher's channels.
	newWatcher func() (*fsnotify.Watcher, error)
}

// NewFile returns a File source for cfg, with the defaults filled in. It
// does not touch the file system; Run does.
func NewFile(cfg FileConfig) *File {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = DefaultDebounce
	}
	sourceDefaults(&cfg.Load, &cfg.Logger, &cfg.Now, &cfg.Options, manifest.SourceFile)
	if cfg.Path != "" {
		if abs, err := filepath.Abs(cfg.Path); err == nil {
			cfg.Path = abs
		} else {
			cfg.Path = filepath.Clean(cfg.Path)
		}
	}
	return &File{cfg: cfg, newWatcher: fsnotify.NewWatcher}
}

// Run watches the configured path and sends a Snapshot (Source "file") on
// out: one after the first scan, always, even when it is empty, so the
// receiver knows the source has synced, and then one each time the desired
// pods, their versions or the problems change. The snapshot is Partial
// while the path does not exist or cannot be read: the pods read so far
// (at start, those of the checkpoints) stay in it. Only the newest snapshot waits for the
// receiver: a slow receiver never blocks the watch, and a snapshot that is
// overtaken before it was taken is dropped.
//
// The pods in a snapshot are shared with later snapshots (an unchanged file
// keeps its *v1.Pod, so kubernetes.io/config.seen keeps the first time it was
// seen); receivers must not modify them.
//
// Run is called once, on a goroutine of its caller's choosing, and does all
// its work on that goroutine (the fsnotify watcher adds one reader goroutine
// that Run joins). It returns nil when ctx ends, without waiting for the
// receiver, and an error only when the configuration is unusable.
func (f *File) Run(ctx context.Context, out chan<- manifest.Snapshot) error {
	if f.cfg.Path == "" {
		return errors.New("run file source: no path configured")
	}
	log := f.cfg.Logger.With("source", manifest.SourceFile, "path", f.cfg.Path)
	w := newWatch(f.cfg.Path, log, f.newWatcher)
	defer w.close()
	s := newScanner(f.cfg, log)

	ticker := time.NewTicker(f.cfg.Interval)
	defer ticker.Stop()
	quiet := time.NewTimer(f.cfg.Debounce)
	quiet.Stop()
	defer quiet.Stop()
	var (
		quietSince time.Time // first event of the running quiet period
		quietOn    bool
		forced     = map[string]bool{} // names that had events since the last scan
		forceAll   bool
	)

	send := newest{out: out}
	rescan := func(why string) {
		w.ensure()
		snap := s.scan(forced, forceAll)
		log.Debug("scanned", "why", why, "forced", len(forced), "all", forceAll,
			"pods", len(snap.Pods), "problems", len(snap.Problems))
		clear(forced)
		forceAll = false
		send.offer(snap)
	}

	rescan("start")
	for {
		select {
		case <-ctx.Done():
			return nil
		case send.ch() <- send.pending:
			send.taken()
		case ev, ok := <-w.events():
			if !ok {
				w.lost(errors.New("event channel closed"))
				continue
			}
			name, all, relevant := w.relevant(ev.Name)
			if !relevant {
				continue
			}
			if all {
				forceAll = true
			} else {
				forced[name] = true
			}
			now := time.Now()
			if !quietOn {
				quietOn, quietSince = true, now
				quiet.Reset(f.cfg.Debounce)
			} else if now.Sub(quietSince) < maxQuietPeriods*f.cfg.Debounce {
				quiet.Reset(f.cfg.Debounce)
			}
		case err, ok := <-w.errors():
			if !ok {
				w.lost(errors.New("error channel closed"))
				continue
			}
			log.Warn("watch failed; rescanning", "err", err)
			forceAll = true
			rescan("watch error")
		case <-quiet.C:
			quietOn = false
			rescan("events")
		case <-ticker.C:
			rescan("interval")
		}
	}
}

// sameSnapshot reports whether b would tell a receiver nothing new after a:
// the same pods (UID, object, origin and version, in order), the same
// problems and the same Partial.
// A pod whose content changed gets a new object even when its UID is
// pinned, so comparing objects catches that too.
func sameSnapshot(a, b manifest.Snapshot) bool {
	if len(a.Pods) != len(b.Pods) || len(a.Problems) != len(b.Problems) || a.Partial != b.Partial {
		return false
	}
	for i := range a.Pods {
		pa, pb := a.Pods[i], b.Pods[i]
		if pa.Origin != pb.Origin || pa.Pod.UID != pb.Pod.UID || pa.Pod != pb.Pod || (pa.Version != pb.Version && !pa.Version.Equal(pb.Version)) {
			return false
		}
	}
	for i := range a.Problems {
		if a.Problems[i] != b.Problems[i] {
			return false
		}
	}
	return true
}
