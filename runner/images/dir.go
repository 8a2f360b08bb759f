package images

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/fsnotify/fsnotify"

	"github.com/runner-dev/runner/runner/runtime"
)

// DirConfig configures a Dir.
type DirConfig struct {
	// Path is the directory of tarballs; created (0700) when missing.
	Path string
	// Runtime is the engine the images are loaded into.
	Runtime runtime.Runtime
	Logger  *slog.Logger
	// OnLoaded is told the references of the images a tarball brought, on
	// the goroutine that loaded it (Run's, or a puller's).
	OnLoaded func(refs []string)
	// Settle is how long a file must stay unchanged before it is read: a
	// tarball being copied in is not read half-written (default 1s).
	Settle time.Duration
	// Rescan is the period of a full look at the directory behind its
	// file-system events (default 1m).
	Rescan time.Duration
}

// Dir loads the tarballs of a directory into the engine: those there at
// start and each one added or changed later, skipping a tarball whose
// images are all present already. Create it with NewDir and drive it with
// Run; Provide and Describe are safe from any goroutine.
type Dir struct {
	cfg DirConfig
	log *slog.Logger
	// loadMu serialises reading and loading tarballs (Run and Provide).
	loadMu sync.Mutex
	// mu guards files.
	mu    sync.Mutex
	files map[string]*tarState // by base name
}

// tarState is what Dir knows of one tarball.
type tarState struct {
	size   int64
	mtime  time.Time
	images []savedImage
	err    error // the last failure of reading or loading it, logged once
	done   bool  // its images are in the engine (loaded, or were there)
}

// NewDir returns a Dir; it does no I/O.
func NewDir(cfg DirConfig) *Dir {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Settle <= 0 {
		cfg.Settle = time.Second
	}
	if cfg.Rescan <= 0 {
		cfg.Rescan = time.Minute
	}
	return &Dir{cfg: cfg, log: cfg.Logger.With("image_dir", cfg.Path), files: map[string]*tarState{}}
}

// Path is the directory.
func (d *Dir) Path() string { return d.cfg.Path }

// Run loads what the directory holds, then watches it until ctx ends. It
// returns an error only when the directory cannot be made or watched.
// Runs on a goroutine of its own, owned by the caller.
func (d *Dir) Run(ctx context.Context) error {
	if err := os.MkdirAll(d.cfg.Path, 0o700); err != nil {
		return fmt.Errorf("image dir: %w", err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("image dir %s: %w", d.cfg.Path, err)
	}
	defer w.Close()
	if err := w.Add(d.cfg.Path); err != nil {
		return fmt.Errorf("image dir %s: watch: %w", d.cfg.Path, err)
	}
	rescan := time.NewTicker(d.cfg.Rescan)
	defer rescan.Stop()
	settle := time.NewTimer(0) // the first scan at once
	defer settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if isTarball(filepath.Base(ev.Name)) {
				settle.Reset(d.cfg.Settle)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			d.log.Warn("watching the image dir failed; it is still rescanned", "error", err)
		case <-rescan.C:
			d.scan(ctx)
		case <-settle.C:
			if again := d.scan(ctx); again > 0 {
				settle.Reset(again)
			}
		}
	}
}

// Load reads the directory once, as Run does at its start, loading the
// tarballs that have settled; a missing directory holds none. For `runner
// pull`, which does not watch.
func (d *Dir) Load(ctx context.Context) error {
	if _, err := os.Stat(d.cfg.Path); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("image dir: %w", err)
	}
	d.scan(ctx)
	return nil
}

// scan loads every tarball that is new or changed and has settled. It
// returns how long to wait for one that has not settled yet (0: none).
func (d *Dir) scan(ctx context.Context) time.Duration {
	entries, err := os.ReadDir(d.cfg.Path)
	if err != nil {
		d.log.Warn("cannot read the image dir", "error", err)
		return 0
	}
	var again time.Duration
	present := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if !isTarball(name) {
			continue
		}
		fi, err := os.Stat(filepath.Join(d.cfg.Path, name))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		present[name] = true
		if age := time.Since(fi.ModTime()); age < d.cfg.Settle {
			again = max(again, d.cfg.Settle-age)
			continue
		}
		d.mu.Lock()
		st := d.files[name]
		unchanged := st != nil && st.size == fi.Size() && st.mtime.Equal(fi.ModTime())
		d.mu.Unlock()
		if unchanged {
			continue
		}
		d.load(ctx, name, fi)
	}
	d.mu.Lock()
	for name := range d.files {
		if !present[name] {
			delete(d.files, name) // removed: its images stay in the engine
		}
	}
	d.mu.Unlock()
	return again
}

// load reads tarball name (as fi describes it) and loads it unless its
// images are all present. Called by scan and Provide.
func (d *Dir) load(ctx context.Context, name string, fi os.FileInfo) {
	d.loadMu.Lock()
	defer d.loadMu.Unlock()
	path := filepath.Join(d.cfg.Path, name)
	st := &tarState{size: fi.Size(), mtime: fi.ModTime()}
	st.images, st.err = d.readImages(path)
	var loaded []string
	if st.err == nil {
		if d.allPresent(ctx, st.images) {
			st.done = true
			d.log.Debug("images of the tarball are present already", "file", name, "images", refsOf(st.images))
		} else {
			start := time.Now()
			loaded, st.err = d.loadFile(ctx, path)
			st.done = st.err == nil
			if st.done {
				d.log.Info("loaded image tarball", "file", name, "images", strings.Join(loaded, ","), "size", FormatBytes(fi.Size()), "took", time.Since(start).Round(time.Millisecond).String())
			}
		}
	}
	d.mu.Lock()
	old := d.files[name]
	d.files[name] = st
	d.mu.Unlock()
	if st.err != nil && (old == nil || old.err == nil || old.err.Error() != st.err.Error() || old.size != st.size) {
		d.log.Warn("cannot load image tarball; it is read again when it changes", "file", name, "error", st.err)
	}
	if len(loaded) > 0 && d.cfg.OnLoaded != nil {
		d.cfg.OnLoaded(loaded)
	}
}

func (d *Dir) readImages(path string) ([]savedImage, error) {
	r, closeFn, err := openTarball(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	return readSaved(r)
}

func (d *Dir) loadFile(ctx context.Context, path string) ([]string, error) {
	r, closeFn, err := openTarball(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	return d.cfg.Runtime.LoadImage(ctx, r)
}

// allPresent reports whether the engine holds every image of a tarball,
// each under all its tags.
func (d *Dir) allPresent(ctx context.Context, images []savedImage) bool {
	for _, img := range images {
		refs := img.Tags
		if len(refs) == 0 {
			refs = []string{img.ID}
		}
		for _, ref := range refs {
			got, err := d.cfg.Runtime.InspectImage(ctx, ref)
			if err != nil || got.ID != img.ID {
				return false
			}
		}
	}
	return true
}

// Provide loads the tarball that holds image ref, unless the image is
// present, and reports whether one holds it. PullImage calls it before pulling,
// on the pulling goroutine.
func (d *Dir) Provide(ctx context.Context, ref string) (bool, error) {
	name, st := d.holding(ref)
	if st == nil {
		// A tarball the watcher has not read yet (runner just started, or
		// it was just added): look once more.
		d.scan(ctx)
		name, st = d.holding(ref)
	}
	if st == nil {
		return false, nil
	}
	fi, err := os.Stat(filepath.Join(d.cfg.Path, name))
	if err != nil {
		return false, nil
	}
	if st.done && st.size == fi.Size() && st.mtime.Equal(fi.ModTime()) {
		if _, err := d.cfg.Runtime.InspectImage(ctx, ref); err == nil {
			return true, nil
		}
		// Loaded before, and removed since (image GC, docker rmi): load
		// it again.
	}
	d.load(ctx, name, fi)
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := d.files[name]; st.err != nil {
		return true, fmt.Errorf("tarball %s: %w", filepath.Join(d.cfg.Path, name), st.err)
	}
	return true, nil
}

// holding is the tarball known to hold image ref, if any.
func (d *Dir) holding(ref string) (string, *tarState) {
	want := normalize(ref)
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, st := range d.files {
		if slices.ContainsFunc(st.images, func(img savedImage) bool {
			return img.ID == ref || slices.ContainsFunc(img.Tags, func(t string) bool { return normalize(t) == want })
		}) {
			return name, st
		}
	}
	return "", nil
}

// Describe says what the directory holds, for an error that lists the
// places an image was looked for: "no tarball in DIR holds it (N read)".
func (d *Dir) Describe() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var bad []string
	for name, st := range d.files {
		if st.err != nil {
			bad = append(bad, name)
		}
	}
	sort.Strings(bad)
	s := fmt.Sprintf("no tarball in %s holds it (%d read", d.cfg.Path, len(d.files)-len(bad))
	if len(bad) > 0 {
		s += fmt.Sprintf("; %s could not be", strings.Join(bad, ", "))
	}
	return s + ")"
}

// normalize writes an image reference as Docker does ("busybox" is
// "docker.io/library/busybox:latest"); an unparsable one stays as it is.
func normalize(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.TagNameOnly(named).String()
}

func refsOf(images []savedImage) string {
	var out []string
	for _, img := range images {
		if len(img.Tags) == 0 {
			out = append(out, img.ID)
		}
		out = append(out, img.Tags...)
	}
	return strings.Join(out, ",")
}
