package images

import (
	"bytes"
	"compress/gzip"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner/runtime/fake"
	"github.com/runner-dev/runner/runner/runtime/runtimetest"
)

// saveTarball is a docker save tarball of one image tagged ref,
// compressed as name's suffix says.
func saveTarball(t *testing.T, ref, name string) []byte {
	t.Helper()
	var raw bytes.Buffer
	if _, err := runtimetest.WriteSaveTarball(&raw, ref, []string{"/app"}, map[string]string{"app": ref}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	switch {
	case strings.HasSuffix(name, ".gz"):
		zw := gzip.NewWriter(&out)
		zw.Write(raw.Bytes())
		zw.Close()
	case strings.HasSuffix(name, ".zst"):
		zw, err := zstd.NewWriter(&out)
		if err != nil {
			t.Fatal(err)
		}
		zw.Write(raw.Bytes())
		zw.Close()
	default:
		return raw.Bytes()
	}
	return out.Bytes()
}

// dirHarness runs a Dir over the fake engine.
type dirHarness struct {
	t      *testing.T
	rt     *fake.Runtime
	d      *Dir
	mu     sync.Mutex
	loaded [][]string
	logMu  sync.Mutex
	log    *bytes.Buffer
}

func (h *dirHarness) logText() string {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	return h.log.String()
}

func startDir(t *testing.T, rt *fake.Runtime, path string) *dirHarness {
	t.Helper()
	h := &dirHarness{t: t, rt: rt, log: &bytes.Buffer{}}
	h.d = NewDir(DirConfig{Path: path, Runtime: rt, Settle: 20 * time.Millisecond, Rescan: time.Hour,
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&h.logMu, h.log}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnLoaded: func(refs []string) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.loaded = append(h.loaded, refs)
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func (h *dirHarness) loads() [][]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.loaded)
}

func (h *dirHarness) present(ref string) bool {
	_, err := h.rt.InspectImage(context.Background(), ref)
	return err == nil
}

func (h *dirHarness) waitPresent(ref string) {
	h.t.Helper()
	testenv.Eventually(h.t, 10*time.Second, "image "+ref+" loaded", func() bool { return h.present(ref) })
}

// TestDirLoadsAtStartAndWhenAdded: tarballs there at start (plain, gzip,
// zstd) are loaded, one dropped in later too; OnLoaded hears of each;
// other files are left alone.
func TestDirLoadsAtStartAndWhenAdded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images") // made by Run
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, ref := range map[string]string{"a.tar": "example.com/a:1", "b.tar.gz": "example.com/b:1", "c.tar.zst": "example.com/c:1", "d.tar.bak": "example.com/d:1", ".e.tar": "example.com/e:1"} {
		writeFile(t, filepath.Join(dir, name), string(saveTarball(t, ref, name)), 0o644)
	}
	old := time.Now().Add(-time.Minute)
	for _, name := range []string{"a.tar", "b.tar.gz", "c.tar.zst", "d.tar.bak", ".e.tar"} {
		os.Chtimes(filepath.Join(dir, name), old, old)
	}
	rt := fake.New()
	h := startDir(t, rt, dir)
	for _, ref := range []string{"example.com/a:1", "example.com/b:1", "example.com/c:1"} {
		h.waitPresent(ref)
	}
	writeFile(t, filepath.Join(dir, "f.tgz"), string(saveTarball(t, "example.com/f:2", "f.tgz.gz")), 0o644)
	h.waitPresent("example.com/f:2")
	testenv.Eventually(t, 10*time.Second, "OnLoaded of 4 tarballs", func() bool { return len(h.loads()) == 4 })
	if h.present("example.com/d:1") || h.present("example.com/e:1") {
		t.Error("a .bak or a dotfile was loaded")
	}
	if img, _ := rt.InspectImage(context.Background(), "example.com/f:2"); !slices.Equal(img.Cmd, []string{"/app"}) {
		t.Errorf("loaded image's cmd %q", img.Cmd)
	}
}

// TestDirSkipsPresent: a tarball whose image is present is read, not
// loaded; a half-written one is loaded once complete.
func TestDirSkipsPresentAndWaitsForWhole(t *testing.T) {
	dir := t.TempDir()
	rt := fake.New()
	data := saveTarball(t, "example.com/a:1", "a.tar")
	if _, err := rt.LoadImage(context.Background(), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "a.tar"), string(data), 0o644)
	whole := saveTarball(t, "example.com/b:1", "b.tar")
	writeFile(t, filepath.Join(dir, "b.tar"), string(whole[:len(whole)/2]), 0o644)
	h := startDir(t, rt, dir)
	testenv.Eventually(t, 10*time.Second, "the half tarball refused", func() bool {
		h.d.mu.Lock()
		defer h.d.mu.Unlock()
		st := h.d.files["b.tar"]
		return st != nil && st.err != nil
	})
	writeFile(t, filepath.Join(dir, "b.tar"), string(whole), 0o644)
	h.waitPresent("example.com/b:1")
	if n := len(rt.CallsOf("LoadImage")); n != 2 { // the test's own, and b.tar's
		t.Errorf("%d loads, want 2: a.tar's image was present", n)
	}
	if !strings.Contains(h.logText(), "cannot load image tarball") {
		t.Errorf("the half-written tarball was not logged:\n%s", h.logText())
	}
}
