package images

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// TestPullFromTarball: an image no registry serves is taken from the
// tarball of the image dir that holds it, at the pull, even before the
// directory's watcher got to it; no registry is asked.
func TestPullFromTarball(t *testing.T) {
	dir := t.TempDir()
	rt := fake.New()
	writeFile(t, filepath.Join(dir, "app.tar.gz"), string(saveTarball(t, "example.com/app:1", "app.tar.gz")), 0o644)
	d := NewDir(DirConfig{Path: dir, Runtime: rt, Settle: time.Nanosecond})
	time.Sleep(time.Millisecond)
	d.scan(context.Background()) // what Run does first; the image is now loaded
	if _, err := rt.InspectImage(context.Background(), "example.com/app:1"); err != nil {
		t.Fatalf("the scan did not load the tarball: %v", err)
	}
	if err := rt.RemoveImage(context.Background(), "example.com/app:1"); err != nil { // image GC, say
		t.Fatal(err)
	}
	r, err := New(Config{Runtime: rt, Dir: d})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.PullImage(context.Background(), "example.com/app:1", runtime.PullOptions{}); err != nil {
		t.Fatalf("PullImage: %v", err)
	}
	if len(rt.CallsOf("PullImage")) != 0 {
		t.Errorf("a registry was asked: %v", rt.CallsOf("PullImage"))
	}
	if _, err := rt.InspectImage(context.Background(), "example.com/app:1"); err != nil {
		t.Errorf("after PullImage: %v", err)
	}
	loads := len(rt.CallsOf("LoadImage"))
	if err := r.PullImage(context.Background(), "example.com/app:1", runtime.PullOptions{}); err != nil || len(rt.CallsOf("LoadImage")) != loads {
		t.Errorf("a second pull of a present image: %v, loads %d → %d; want no load", err, loads, len(rt.CallsOf("LoadImage")))
	}
}

// TestPullNowhere: an image neither in a tarball nor pullable fails with
// every place tried, and still wraps ErrNotFound.
func TestPullNowhere(t *testing.T) {
	dir := t.TempDir()
	rt := fake.New()
	writeFile(t, filepath.Join(dir, "other.tar"), string(saveTarball(t, "example.com/other:1", "other.tar")), 0o644)
	writeFile(t, filepath.Join(dir, "broken.tar"), "not a tarball", 0o644)
	d := NewDir(DirConfig{Path: dir, Runtime: rt, Settle: time.Nanosecond})
	time.Sleep(time.Millisecond)
	d.scan(context.Background())
	r, err := New(Config{Runtime: rt, Dir: d})
	if err != nil {
		t.Fatal(err)
	}
	err = r.PullImage(context.Background(), "registry.example:5000/app:1", runtime.PullOptions{})
	for _, part := range []string{"image registry.example:5000/app:1 is not present", "no tarball in " + dir + " holds it (1 read; broken.tar could not be)", "pull from registry.example:5000: "} {
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("error %v lacks %q", err, part)
		}
	}
	if !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("error %v does not wrap ErrNotFound", err)
	}
}

// TestPullCredentialsAndProgress: the credential of the image's registry
// reaches the engine; the progress reaches the caller and the log.
func TestPullCredentialsAndProgress(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "config.json")
	writeFile(t, creds, `{"auths":{"registry.example":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("edge:pw"))+`"}}}`, 0o600)
	rt := fake.New()
	rt.AllowPull("registry.example/app:1")
	var log bytes.Buffer
	var mu sync.Mutex
	r, err := New(Config{Runtime: rt, Credentials: Credentials{Path: creds}, Limits: Limits{Serialize: true},
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var last runtime.PullProgress
	if err := r.PullImage(context.Background(), "registry.example/app:1", runtime.PullOptions{Progress: func(p runtime.PullProgress) { last = p }}); err != nil {
		t.Fatal(err)
	}
	if got, _ := rt.PullAuth("registry.example/app:1"); got.Username != "edge" || got.Password != "pw" || got.ServerAddress != "registry.example" {
		t.Errorf("the engine got credential %+v", got)
	}
	if last.LayersDone != 2 {
		t.Errorf("last progress %+v", last)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(log.String(), `msg="pulled image" image=registry.example/app:1 progress="2/2 layers, 1.0 MiB of 1.0 MiB"`) || !strings.Contains(log.String(), "authenticated=true") {
		t.Errorf("log:\n%s", log.String())
	}
}

// TestProgressLog: while a pull lasts, its latest progress is logged every
// interval (virtual time), and nothing once it is over.
func TestProgressLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		var mu sync.Mutex
		p := startProgressLog(slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil)), "app:1", 5*time.Second)
		time.Sleep(6 * time.Second) // nothing reported yet: nothing logged
		p.note(runtime.PullProgress{Layers: 3, LayersDone: 1, Current: 3 << 20, Total: 10 << 20})
		time.Sleep(10 * time.Second)
		p.stop()
		time.Sleep(time.Minute)
		mu.Lock()
		defer mu.Unlock()
		if n := strings.Count(buf.String(), `msg="pulling image" image=app:1 progress="1/3 layers, 3.0 MiB of 10.0 MiB" elapsed=`); n != 2 || strings.Count(buf.String(), "\n") != 2 {
			t.Errorf("want two progress lines (at 10 s and 15 s):\n%s", buf.String())
		}
	})
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestPullFromTarballNotYetScanned: a pull that comes before the watcher
// read the directory (runner just started) still finds the tarball.
func TestPullFromTarballNotYetScanned(t *testing.T) {
	dir := t.TempDir()
	rt := fake.New()
	writeFile(t, filepath.Join(dir, "app.tar"), string(saveTarball(t, "example.com/app:2", "app.tar")), 0o644)
	time.Sleep(time.Millisecond)
	r, err := New(Config{Runtime: rt, Dir: NewDir(DirConfig{Path: dir, Runtime: rt, Settle: time.Nanosecond})})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.PullImage(context.Background(), "example.com/app:2", runtime.PullOptions{}); err != nil {
		t.Fatalf("PullImage: %v", err)
	}
	if len(rt.CallsOf("PullImage")) != 0 || len(rt.CallsOf("LoadImage")) != 1 {
		t.Errorf("calls %v, want one load and no registry", rt.Calls())
	}
}
