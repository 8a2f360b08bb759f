package pause

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
)

// The test binary is the executable WriteRootfs packs (this package embeds
// no pause program), and it links net so that, built with cgo as `go test`
// does by default, it is dynamically linked like a plain `go build` of
// runner. Started as /pause it is the pause program.
var _ = net.IPv4len

func TestMain(m *testing.M) {
	if Invoked() {
		// As Main, and it says when it handles SIGTERM (a marker file in
		// the root it runs in), so the test signals it only then.
		serve(func() { _ = os.WriteFile("/ready", nil, 0o644) })
	}
	os.Exit(m.Run())
}

// rootfsFiles writes the rootfs and returns its regular files by name.
func rootfsFiles(t *testing.T) map[string][]byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteRootfs(&buf); err != nil {
		t.Fatalf("WriteRootfs: %v", err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, _ := io.ReadAll(tr)
			files["/"+h.Name] = data
		}
	}
	return files
}

func TestRootfsHoldsWhatTheExecutableLinks(t *testing.T) {
	exe, _ := os.Executable()
	interp, err := interpreter(exe)
	if err != nil {
		t.Fatal(err)
	}
	files := rootfsFiles(t)
	if _, ok := files[Path]; !ok {
		t.Fatalf("no %s in the rootfs: %v", Path, keys(files))
	}
	if interp == "" {
		t.Logf("the test binary is statically linked (CGO_ENABLED=0): only %s is needed", Path)
		if len(files) != 1 {
			t.Errorf("a static executable's rootfs holds %v, want only %s", keys(files), Path)
		}
		return
	}
	if _, ok := files[interp]; !ok {
		t.Errorf("the loader %s is missing: %v", interp, keys(files))
	}
	libc := false
	for name := range files {
		if strings.Contains(filepath.Base(name), "libc.so") {
			libc = true
		}
	}
	if !libc {
		t.Errorf("no libc in the rootfs of a dynamically linked executable: %v", keys(files))
	}
}

func TestMappedLibraries(t *testing.T) {
	maps := filepath.Join(t.TempDir(), "maps")
	content := `55d0 r--p 00000000 08:01 1 /usr/local/bin/runner
7f00 r-xp 00000000 08:01 2 /usr/lib/x86_64-linux-gnu/libc.so.6
7f01 r--p 00000000 08:01 2 /usr/lib/x86_64-linux-gnu/libc.so.6
7f02 r--p 00000000 08:01 3 /usr/lib/locale/C.utf8/LC_CTYPE
7f03 rw-p 00000000 00:00 0 [heap]
7f04 rw-p 00000000 00:00 0
7f05 r-xp 00000000 08:01 4 /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
`
	if err := os.WriteFile(maps, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := mappedLibraries(maps, "/usr/local/bin/runner")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "/usr/lib/x86_64-linux-gnu/libc.so.6"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("mappedLibraries = %v, want %v", got, want)
	}
}

// TestRootfsRunsInAnEmptyRoot unpacks the rootfs into an empty directory
// and runs /pause chrooted in it, as the engine would: it must start (the
// loader and libraries are all there), wait for a signal and exit 0 on
// SIGTERM.
func TestRootfsRunsInAnEmptyRoot(t *testing.T) {
	testenv.Integration(t, "root (chroot)")
	testenv.Root(t)
	dir := t.TempDir()
	for name, data := range rootfsFiles(t) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(Path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: dir}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s in the rootfs: %v", Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Ready once it handles SIGTERM (it then writes /ready in its root);
	// an executable that cannot be loaded exits at once instead.
	testenv.Eventually(t, 10*time.Second, "the pause program to handle SIGTERM", func() bool {
		select {
		case err := <-done:
			t.Fatalf("/pause exited before it was signalled: %v\n%s", err, out.String())
		default:
		}
		_, err := os.Stat(filepath.Join(dir, "ready"))
		return err == nil
	})
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("/pause after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("/pause did not exit on SIGTERM")
	}
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
