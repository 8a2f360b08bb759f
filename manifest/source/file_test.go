package source

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/runner-dev/runner/manifest"
)

func TestFileSyncsWithEmptySnapshot(t *testing.T) {
	t.Parallel()
	for name, path := range map[string]string{
		"empty dir":   t.TempDir(),
		"missing dir": filepath.Join(t.TempDir(), "manifests"),
	} {
		t.Run(name, func(t *testing.T) {
			h := start(t, FileConfig{Path: path})
			s := h.await("first snapshot", func(manifest.Snapshot) bool { return true })
			if s.Source != manifest.SourceFile || len(s.Pods) != 0 || len(s.Problems) != 0 {
				t.Fatalf("first snapshot = %s, want an empty one from source file", describe(&s))
			}
		})
	}
}

func TestFileCreateModifyDelete(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	h := start(t, FileConfig{Path: dir})
	h.awaitPods()

	write(t, a, "name: a v1\n")
	s := h.awaitPods("a")
	first := pod(s, "a")
	if first.Origin != a {
		t.Fatalf("origin = %q, want %q", first.Origin, a)
	}

	write(t, a, "name: a v2\n")
	s = h.await("a new uid", func(s manifest.Snapshot) bool {
		p := pod(s, "a")
		return p != nil && p.Pod.UID != first.Pod.UID
	})
	if len(s.Pods) != 1 || len(s.Problems) != 0 {
		t.Fatalf("after modify: %s", describe(&s))
	}

	must(t, os.Remove(a))
	h.awaitPods()
}

func TestFileIdenticalRewriteChangesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	write(t, a, "name: a\n")
	h := start(t, FileConfig{Path: dir})
	s := h.awaitPods("a")
	before := pod(s, "a").Pod
	n := len(h.snapshots())

	write(t, a, "name: a\n")
	// The event makes the source read the file again...
	h.awaitCond("a.yaml read again", func() bool { return h.loader.count(a) >= 2 })
	// ...and the next snapshot is the one for b, not one for a.
	write(t, filepath.Join(dir, "b.yaml"), "name: b\n")
	s = h.awaitPods("a", "b")
	if got := len(h.snapshots()); got != n+1 {
		t.Fatalf("%d snapshots after rewriting a.yaml and adding b.yaml, want %d:\n%s", got, n+1, h.dump())
	}
	if pod(s, "a").Pod != before {
		t.Fatalf("pod a was replaced by an identical one; config.seen moved from %s to %s",
			before.Annotations[manifest.AnnotationConfigSeen], pod(s, "a").Pod.Annotations[manifest.AnnotationConfigSeen])
	}
}

// assertAlwaysHas fails when a snapshot from the first one holding pod name
// on lacks it: the pod must never be dropped, not even for a moment.
func assertAlwaysHas(t *testing.T, h *harness, name string) {
	t.Helper()
	seen := false
	for i, s := range h.snapshots() {
		if pod(s, name) != nil {
			seen = true
		} else if seen {
			t.Fatalf("snapshot %d lacks pod %s:\n%s", i, name, h.dump())
		}
	}
}

func TestFileVimStyleSave(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	write(t, a, "name: a v1\n")
	h := start(t, FileConfig{Path: dir, Debounce: 50 * time.Millisecond})
	old := pod(h.awaitPods("a"), "a").Pod.UID
	n := len(h.snapshots())

	swp := filepath.Join(dir, ".a.yaml.swp")
	write(t, swp, "vim swap")
	probe := filepath.Join(dir, "4913")
	write(t, probe, "")
	must(t, os.Remove(probe))
	must(t, os.Rename(a, a+"~"))
	write(t, a, "name: a v2\n")
	must(t, os.Remove(a+"~"))
	must(t, os.Remove(swp))

	h.await("a v2", func(s manifest.Snapshot) bool {
		p := pod(s, "a")
		return p != nil && p.Pod.UID != old
	})
	assertAlwaysHas(t, h, "a")
	if got := len(h.snapshots()); got != n+1 {
		t.Fatalf("the save made %d snapshots, want 1:\n%s", got-n, h.dump())
	}
}

func TestFileTempFileAndRename(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	write(t, a, "name: a v1\n")
	h := start(t, FileConfig{Path: dir})
	old := pod(h.awaitPods("a"), "a").Pod.UID

	tmp := filepath.Join(dir, ".a.yaml.tmp")
	write(t, tmp, "name: a v2\n")
	must(t, os.Rename(tmp, a))
	s := h.await("a v2", func(s manifest.Snapshot) bool {
		p := pod(s, "a")
		return p != nil && p.Pod.UID != old
	})
	if len(s.Problems) != 0 {
		t.Fatalf("problems after rename: %v", s.Problems)
	}
	assertAlwaysHas(t, h, "a")
}

func TestFileHalfWrittenKeepsLastGoodPods(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	write(t, a, "name: a v1\n")
	always := filepath.Join(dir, "always-empty.yaml")
	write(t, always, "")
	h := start(t, FileConfig{Path: dir})
	s := h.awaitPods("a")
	if len(s.Problems) != 1 || s.Problems[0].File != always || s.Problems[0].Message != manifest.EmptyMessage {
		t.Fatalf("problems %v, want only %q on %s (as runner validate says)", s.Problems, manifest.EmptyMessage, always)
	}
	good := pod(s, "a").Pod

	must(t, os.Truncate(a, 0))
	s = h.await("empty problem", func(s manifest.Snapshot) bool { return hasProblem(s, a, "file is empty") })
	if p := pod(s, "a"); p == nil || p.Pod != good {
		t.Fatalf("truncated file lost its last good pod: %s", describe(&s))
	}

	write(t, a, "name: a v2\nnam")
	s = h.await("cut-off problem", func(s manifest.Snapshot) bool { return hasProblem(s, a, `want "name: NAME"`) })
	if p := pod(s, "a"); p == nil || p.Pod != good {
		t.Fatalf("cut-off file lost its last good pod: %s", describe(&s))
	}
	if len(s.Problems) != 2 || s.Problems[0].File != a || s.Problems[0].Line != 2 {
		t.Fatalf("problems = %v, want the loader's one problem at line 2 (and the empty file's)", s.Problems)
	}
	if v := pod(s, "a").Version; v.From != manifest.VersionLastGood || v.Reason != `want "name: NAME"` || v.StaleSince.IsZero() || v.GoodSince.IsZero() {
		t.Fatalf("version %+v, want last-good with the first problem as reason", v)
	}

	write(t, a, "name: a v2\n")
	s = h.await("a v2", func(s manifest.Snapshot) bool {
		p := pod(s, "a")
		return p != nil && p.Pod.UID != good.UID && len(s.Problems) == 1
	})
	if v := pod(s, "a").Version; v.From != manifest.VersionCurrent || v.Reason != "" || !v.StaleSince.IsZero() {
		t.Fatalf("version %+v, want current", v)
	}
	assertAlwaysHas(t, h, "a")
	if got := h.logs.count("manifest has problems; running its last good version"); got != 2 {
		t.Fatalf("logged problems %d times, want 2 (empty, cut off):\n%s", got, h.logs)
	}
	if got := h.logs.count("manifest has problems; no pods from it"); got != 1 {
		t.Fatalf("logged the always empty file %d times, want once:\n%s", got, h.logs)
	}
}

func TestFileIgnoredNamesAreLoggedOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.yaml"), "name: a\n")
	// Copies that would conflict with a.yaml if they were read.
	for _, name := range []string{"a.yaml.bak", "a.yaml~", ".a.yaml", ".a.yaml.swp", "a.yaml.orig", "4913", "notes.txt"} {
		write(t, filepath.Join(dir, name), "name: a\n")
	}
	must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	write(t, filepath.Join(dir, "sub", "c.yaml"), "name: c\n")
	must(t, os.Mkdir(filepath.Join(dir, "dir.yaml"), 0o755))

	h := start(t, FileConfig{Path: dir})
	s := h.awaitPods("a")
	if len(s.Problems) != 0 {
		t.Fatalf("problems: %v", s.Problems)
	}
	// More scans: an event, a file in the subdirectory, a removal.
	write(t, filepath.Join(dir, "b.yml"), "name: b\n")
	h.awaitPods("a", "b")
	write(t, filepath.Join(dir, "sub", "d.yaml"), "name: d\n")
	write(t, filepath.Join(dir, "c.json"), "name: c\n")
	h.awaitPods("a", "b", "c")
	must(t, os.Remove(filepath.Join(dir, "b.yml")))
	h.awaitPods("a", "c")

	for _, line := range []string{
		"ignoring a.yaml.bak: editor backups and temporary files are ignored; only *.yaml, *.yml, *.json and *.manifest are read",
		"ignoring a.yaml~: editor backups and temporary files are ignored; only *.yaml, *.yml, *.json and *.manifest are read",
		"ignoring a.yaml.orig: editor backups and temporary files are ignored; only *.yaml, *.yml, *.json and *.manifest are read",
		"ignoring 4913: only *.yaml, *.yml, *.json and *.manifest are read",
		"ignoring notes.txt: only *.yaml, *.yml, *.json and *.manifest are read",
		"ignoring .a.yaml: hidden files (dotfiles) are ignored",
		"ignoring .a.yaml.swp: hidden files (dotfiles) are ignored",
		"ignoring sub: subdirectories are not read",
		"ignoring dir.yaml: subdirectories are not read",
	} {
		if got := h.logs.count(line); got != 1 {
			t.Errorf("%q logged %d times, want once:\n%s", line, got, h.logs)
		}
	}
	if n := h.loader.count(filepath.Join(dir, "sub", "c.yaml")); n != 0 {
		t.Errorf("sub/c.yaml was read %d times", n)
	}
}

// A directory that goes away keeps its pods (the snapshot is Partial): it
// may be on a file system that is being remounted. Once it is back, the
// files that are not in it are gone.
func TestFileDirectoryCreatedDeletedRecreated(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "manifests")
	h := start(t, FileConfig{Path: dir})
	if s := h.awaitPods(); !s.Partial {
		t.Fatalf("a missing directory gave a complete snapshot: %s", describe(&s))
	}

	must(t, os.Mkdir(dir, 0o755))
	write(t, filepath.Join(dir, "a.yaml"), "name: a\n")
	if s := h.awaitPods("a"); s.Partial {
		t.Fatal("a readable directory gave a Partial snapshot")
	}

	must(t, os.RemoveAll(dir))
	s := h.await("a Partial snapshot", func(s manifest.Snapshot) bool { return s.Partial })
	if p := pod(s, "a"); p == nil || p.Version.From != manifest.VersionLastGood || !strings.Contains(p.Version.Reason, "does not exist") {
		t.Fatalf("the directory's removal dropped or mislabelled pod a: %s", describe(&s))
	}
	h.awaitCond("the missing directory logged", func() bool { return h.logs.count("manifest path does not exist; keeping the pods") == 1 })

	must(t, os.Mkdir(dir, 0o755))
	write(t, filepath.Join(dir, "b.yaml"), "name: b\n")
	s = h.awaitPods("b")
	if s.Partial {
		t.Fatal("Partial after the directory is back")
	}
	// The new directory is watched, not just found once.
	write(t, filepath.Join(dir, "c.yaml"), "name: c\n")
	h.awaitPods("b", "c")
	assertAlwaysHas(t, h, "b")
}

func TestFileParentCreatedLater(t *testing.T) {
	t.Parallel()
	parent := filepath.Join(t.TempDir(), "etc", "runner")
	dir := filepath.Join(parent, "manifests")
	h := start(t, FileConfig{Path: dir, Interval: 10 * time.Millisecond})
	h.awaitPods()
	h.awaitCond("five rescans", func() bool { return h.logs.count("why=interval") >= 5 })
	if n := h.logs.count("cannot watch"); n != 1 {
		t.Fatalf("the missing parent was logged %d times, want once:\n%s", n, h.logs)
	}
	if n := h.logs.count("manifest path does not exist"); n != 1 {
		t.Fatalf("the missing path was logged %d times, want once:\n%s", n, h.logs)
	}

	must(t, os.MkdirAll(dir, 0o755))
	write(t, filepath.Join(dir, "a.yaml"), "name: a\n")
	h.awaitPods("a")
	h.awaitCond("watch recovery logged", func() bool { return h.logs.count("watching manifests again") == 1 })
}

func TestFileSymlinkedDirectorySwappedAtomically(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	v1dir, v2dir := filepath.Join(root, "..2024_1"), filepath.Join(root, "..2024_2")
	must(t, os.Mkdir(v1dir, 0o755))
	must(t, os.Mkdir(v2dir, 0o755))
	write(t, filepath.Join(v1dir, "a.yaml"), "name: a\n")
	write(t, filepath.Join(v2dir, "b.yaml"), "name: b\n")
	link := filepath.Join(root, "manifests")
	must(t, os.Symlink("..2024_1", link))

	h := start(t, FileConfig{Path: link})
	s := h.awaitPods("a")
	if got, want := s.Pods[0].Origin, filepath.Join(link, "a.yaml"); got != want {
		t.Fatalf("origin = %q, want %q (the path as configured)", got, want)
	}

	must(t, os.Symlink("..2024_2", link+".new"))
	must(t, os.Rename(link+".new", link))
	h.awaitPods("b")

	// The watch follows the swap: a change in the new target is seen.
	write(t, filepath.Join(v2dir, "c.yaml"), "name: c\n")
	h.awaitPods("b", "c")
	for i, s := range h.snapshots()[1:] {
		if len(s.Pods) == 0 {
			t.Fatalf("snapshot %d has no pods; the swap must not look like a removal:\n%s", i+1, h.dump())
		}
	}
}

func TestFileSymlinksInsideDirectory(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "manifests")
	must(t, os.Mkdir(dir, 0o755))
	for _, v := range []string{"1", "2"} {
		d := filepath.Join(dir, "..v"+v)
		must(t, os.Mkdir(d, 0o755))
		write(t, filepath.Join(d, "a.yaml"), "name: a v"+v+"\n")
		write(t, filepath.Join(root, "b"+v+".yaml"), "name: b v"+v+"\n")
	}
	// A ConfigMap-style volume: a.yaml -> ..data/a.yaml, ..data -> ..v1.
	must(t, os.Symlink("..v1", filepath.Join(dir, "..data")))
	must(t, os.Symlink("..data/a.yaml", filepath.Join(dir, "a.yaml")))
	// A plain symlink to a file elsewhere.
	must(t, os.Symlink("../b1.yaml", filepath.Join(dir, "b.yaml")))

	h := start(t, FileConfig{Path: dir})
	s := h.awaitPods("a", "b")
	oldA, oldB := pod(s, "a").Pod.UID, pod(s, "b").Pod.UID

	must(t, os.Symlink("..v2", filepath.Join(dir, "..data_tmp")))
	must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	h.await("a v2", func(s manifest.Snapshot) bool { return pod(s, "a") != nil && pod(s, "a").Pod.UID != oldA })

	must(t, os.Symlink("../b2.yaml", filepath.Join(dir, ".b.yaml.tmp")))
	must(t, os.Rename(filepath.Join(dir, ".b.yaml.tmp"), filepath.Join(dir, "b.yaml")))
	h.await("b v2", func(s manifest.Snapshot) bool { return pod(s, "b") != nil && pod(s, "b").Pod.UID != oldB })
	assertAlwaysHas(t, h, "a")
	assertAlwaysHas(t, h, "b")
}

func TestFileConflicts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	write(t, b, "name: x from b\n")
	write(t, a, "name: x from a\nname: y\n")
	h := start(t, FileConfig{Path: dir})

	// Both new in the same scan: the lexically first file wins.
	s := h.awaitPods("x", "y")
	if got := pod(s, "x").Origin; got != a {
		t.Fatalf("x from %s, want %s", got, a)
	}
	if len(s.Problems) != 1 || s.Problems[0].File != b || !strings.Contains(s.Problems[0].Message, a) {
		t.Fatalf("problems = %v, want one on %s naming %s", s.Problems, b, a)
	}

	// The winner goes away: the other definition takes over.
	must(t, os.Remove(a))
	s = h.await("x from b", func(s manifest.Snapshot) bool {
		return pod(s, "x") != nil && pod(s, "x").Origin == b && len(s.Problems) == 0
	})
	if len(s.Pods) != 1 {
		t.Fatalf("pods after removing a.yaml: %s", describe(&s))
	}

	// a.yaml comes back: x stays with b.yaml, which has it already.
	write(t, a, "name: x from a\n")
	s = h.await("conflict on a", func(s manifest.Snapshot) bool { return hasProblem(s, a, b) })
	if got := pod(s, "x").Origin; got != b {
		t.Fatalf("x moved to %s; the desired pod must stay with %s", got, b)
	}
	if got := h.logs.count("conflicting manifests"); got != 2 {
		t.Fatalf("conflicts logged %d times, want 2:\n%s", got, h.logs)
	}
}

func TestFileSnapshotSortedByNamespaceAndName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.yaml"), "name: zz\nname: kube-system/b\n")
	write(t, filepath.Join(dir, "b.yaml"), "name: aa\nname: default/m\n")
	h := start(t, FileConfig{Path: dir})
	s := h.awaitPods("aa", "m", "zz", "kube-system/b")
	want := []string{"default/aa", "default/m", "default/zz", "kube-system/b"}
	if got := podNames(s); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestFileRescanFindsChangesEventsMissed(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "manifests")
	must(t, os.Mkdir(dir, 0o755))
	// a.yaml is a symlink to a file outside the watched directories: a
	// change of that file makes no event the source sees.
	outside := filepath.Join(t.TempDir(), "a.yaml")
	write(t, outside, "name: a v1\n")
	a := filepath.Join(dir, "a.yaml")
	must(t, os.Symlink(outside, a))
	b := filepath.Join(dir, "b.yaml")
	write(t, b, "name: b\n")

	h := start(t, FileConfig{Path: dir, Interval: 20 * time.Millisecond})
	s := h.awaitPods("a", "b")
	uid := pod(s, "a").Pod.UID
	for _, v := range []string{"v2", "v3"} {
		write(t, outside, "name: a "+v+"\n")
		s = h.await("a "+v, func(s manifest.Snapshot) bool {
			p := pod(s, "a")
			return p != nil && p.Pod.UID != uid && len(s.Problems) == 0
		})
		uid = pod(s, "a").Pod.UID
	}
	// Rescans of an unchanged file do not read it again.
	scans := h.logs.count("why=interval")
	h.awaitCond("five more rescans", func() bool { return h.logs.count("why=interval") >= scans+5 })
	if n := h.loader.count(b); n != 1 {
		t.Fatalf("b.yaml read %d times, want once", n)
	}
}

func TestFileSingleFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "static-pod") // a single file is read whatever its name
	other := filepath.Join(dir, "other.yaml")
	write(t, other, "name: other\n")
	h := start(t, FileConfig{Path: path})
	h.awaitPods()

	write(t, path, "name: a v1\n")
	old := pod(h.awaitPods("a"), "a").Pod.UID

	tmp := filepath.Join(dir, ".static-pod.tmp")
	write(t, tmp, "name: a v2\n")
	must(t, os.Rename(tmp, path))
	h.await("a v2", func(s manifest.Snapshot) bool { return pod(s, "a") != nil && pod(s, "a").Pod.UID != old })

	write(t, other, "name: other v2\n")
	must(t, os.Remove(path))
	h.awaitPods()
	if n := h.loader.count(other); n != 0 {
		t.Fatalf("a sibling of the single file was read %d times", n)
	}
}

// TestFileRunStopsWhenCancelled is not parallel: it checks that no
// goroutine of any Run is left after its own Run returned.
func TestFileRunStopsWhenCancelled(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	write(t, a, "name: a\n")
	loader := newFakeLoader()
	f := NewFile(FileConfig{Path: dir, Load: loader.load, Debounce: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	out := make(chan manifest.Snapshot) // never read: Run blocks sending
	go func() { done <- f.Run(ctx, out) }()
	deadline := time.Now().Add(waitFor)
	for loader.count(a) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// Run is now sending its first snapshot; give it events as well.
	write(t, filepath.Join(dir, "b.yaml"), "name: b\n")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2s of cancel")
	}
	if leaked := awaitNoSourceGoroutines(2 * time.Second); leaked != "" {
		t.Fatalf("goroutines left after Run returned:\n%s", leaked)
	}
}

func TestFileRunNeedsPath(t *testing.T) {
	if err := NewFile(FileConfig{}).Run(context.Background(), nil); err == nil {
		t.Fatal("Run with no path returned nil")
	}
}

func TestFileDanglingSymlinkKeepsPods(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "a.yaml")
	write(t, target, "name: a\n")
	a := filepath.Join(dir, "a.yaml")
	must(t, os.Symlink(target, a))
	h := start(t, FileConfig{Path: dir})
	h.awaitPods("a")

	// The name is still there: a problem, not a removal.
	must(t, os.Remove(target))
	write(t, filepath.Join(dir, "marker.txt"), "") // an event, so the source looks
	s := h.await("dangling problem", func(s manifest.Snapshot) bool { return hasProblem(s, a, "cannot read") })
	if pod(s, "a") == nil {
		t.Fatalf("a dangling symlink dropped its pod: %s", describe(&s))
	}

	must(t, os.Remove(a))
	s = h.awaitPods()
	if len(s.Problems) != 0 {
		t.Fatalf("problems after removal: %v", s.Problems)
	}
}

func TestFileWatchErrorRescansAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "a.yaml")
	write(t, outside, "name: a v1\n")
	must(t, os.Symlink(outside, filepath.Join(dir, "a.yaml")))

	loader := newFakeLoader()
	watchers := make(chan *fsnotify.Watcher, 1)
	f := NewFile(FileConfig{Path: dir, Load: loader.load, Debounce: 20 * time.Millisecond, Interval: time.Hour})
	f.newWatcher = func() (*fsnotify.Watcher, error) {
		w, err := fsnotify.NewWatcher()
		if err == nil {
			watchers <- w
		}
		return w, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan manifest.Snapshot)
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx, out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	next := func() manifest.Snapshot {
		t.Helper()
		select {
		case s := <-out:
			return s
		case <-time.After(waitFor):
			t.Fatal("no snapshot")
			return manifest.Snapshot{}
		}
	}
	old := pod(next(), "a").Pod.UID

	// A change no event reports, then a lost-events error: the source
	// rescans at once, long before the hour is up.
	write(t, outside, "name: a v2\n")
	w := <-watchers
	w.Errors <- fsnotify.ErrEventOverflow
	if p := pod(next(), "a"); p == nil || p.Pod.UID == old {
		t.Fatal("the rescan after an overflow did not pick up the change")
	}
}

// kops and GCE kube-up name their static pods *.manifest; named pipes,
// sockets and devices (also behind a symlink) are never opened, so they
// cannot block the source, and each is logged once as ignored. A manifest
// masked by a symlink to /dev/null is ignored, so its pods stop.
func TestFileManifestExtensionAndOddFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "kube-apiserver.manifest"), "name: api\n")
	write(t, filepath.Join(dir, "etcd.yaml"), "name: etcd\n")
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o644))
	l, err := net.Listen("unix", filepath.Join(dir, "sock.yaml"))
	must(t, err)
	defer l.Close()
	must(t, os.Symlink(filepath.Join(dir, "fifo.yaml"), filepath.Join(dir, "to-fifo.yaml")))

	h := start(t, FileConfig{Path: dir, Interval: 20 * time.Millisecond})
	s := h.awaitPods("api", "etcd")
	if len(s.Problems) != 0 || pod(s, "api").Origin != filepath.Join(dir, "kube-apiserver.manifest") {
		t.Fatalf("snapshot %s", describe(&s))
	}

	must(t, os.Remove(filepath.Join(dir, "etcd.yaml")))
	must(t, os.Symlink("/dev/null", filepath.Join(dir, "etcd.yaml")))
	h.awaitPods("api")
	h.awaitCond("rescans", func() bool { return h.logs.count("why=interval") >= 3 })
	for _, line := range []string{
		"ignoring fifo.yaml: not a regular file (a named pipe (FIFO))",
		"ignoring to-fifo.yaml: not a regular file (a named pipe (FIFO))",
		"ignoring sock.yaml: not a regular file (a socket)",
		"ignoring etcd.yaml: not a regular file (a character device)",
	} {
		if n := h.logs.count(line); n != 1 {
			t.Errorf("%q logged %d times, want once:\n%s", line, n, h.logs)
		}
	}
	for _, name := range []string{"fifo.yaml", "to-fifo.yaml", "sock.yaml"} {
		if n := h.loader.count(filepath.Join(dir, name)); n != 0 {
			t.Errorf("%s was loaded %d times", name, n)
		}
	}
}
