package manifest

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const checkPod = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  containers:
  - {name: web, image: runner.local/busybox:test}
`

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// oddFiles makes a named pipe, a socket, a symlink to /dev/null and a
// dangling symlink in dir, each with a manifest's name, and returns their
// names and what Classify must say of the first three.
func oddFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sock.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := os.Symlink("/dev/null", filepath.Join(dir, "masked.yaml")); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"fifo.yaml":   "not a regular file (a named pipe (FIFO)); only regular files, or symlinks to them, are read",
		"sock.yaml":   "not a regular file (a socket); only regular files, or symlinks to them, are read",
		"masked.yaml": "not a regular file (a character device); only regular files, or symlinks to them, are read",
	}
}

func TestManifestNameAndClassify(t *testing.T) {
	for name, want := range map[string]bool{
		"etcd.yaml": true, "etcd.yml": true, "api.json": true, "kube-apiserver.manifest": true, "ETCD.YAML": true,
		"etcd.yaml.bak": false, "etcd.yaml~": false, ".etcd.yaml": false, "etcd.manifest.swp": false, "README": false,
	} {
		if ok, why := ManifestName(name); ok != want || ok != (why == "") {
			t.Errorf("ManifestName(%q) = %v, %q; want %v", name, ok, why, want)
		}
	}
	dir := t.TempDir()
	odd := oddFiles(t, dir)
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	odd["sub.yaml"] = "subdirectories are not read"
	for name, want := range odd {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if ok, why := Classify(name, fi); ok || why != want {
			t.Errorf("Classify(%s) = %v, %q; want false, %q", name, ok, why, want)
		}
	}
	if ok, why := Classify("gone.yaml", nil); !ok {
		t.Errorf("an entry that cannot be stat'ed is not read (%q): the read must say why", why)
	}
}

// ReadFile never blocks: a named pipe with no writer would block an open
// for reading forever, and one with a writer that never closes would block
// the read.
func TestReadFileNeverBlocks(t *testing.T) {
	dir := t.TempDir()
	oddFiles(t, dir)
	// A writer that keeps the pipe open and silent.
	w, err := os.OpenFile(filepath.Join(dir, "fifo.yaml"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, name := range []string{"fifo.yaml", "sock.yaml", "masked.yaml"} {
		done := make(chan error, 1)
		go func() {
			_, err := ReadFile(filepath.Join(dir, name))
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) || !strings.HasPrefix(err.Error(), "cannot read: a ") {
				t.Errorf("ReadFile(%s) = %v, want a 'cannot read: a ...' ErrNotRegular", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadFile(%s) blocked", name)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "none.yaml")); err == nil || err.Error() != "cannot read: no such file or directory" {
		t.Errorf("ReadFile of a missing file: %v", err)
	}
}

func TestCheckPathListsIgnoredAndOddFiles(t *testing.T) {
	dir := t.TempDir()
	odd := oddFiles(t, dir)
	writeFile(t, filepath.Join(dir, "web.manifest"), checkPod)
	writeFile(t, filepath.Join(dir, "web.yaml.bak"), "{")
	writeFile(t, filepath.Join(dir, "empty.yaml"), " \n")
	if err := os.Symlink("nowhere.yaml", filepath.Join(dir, "dangling.yaml")); err != nil {
		t.Fatal(err)
	}
	got := map[string]FileReport{}
	for _, r := range CheckPath(dir, Options{NodeName: "n1", Source: SourceFile}) {
		got[filepath.Base(r.File)] = r
	}
	for name, why := range odd {
		if got[name].Ignored != why || len(got[name].Problems) > 0 {
			t.Errorf("%s: %+v, want ignored: %s", name, got[name], why)
		}
	}
	if r := got["web.manifest"]; len(r.Problems) > 0 || len(r.Pods) != 1 || r.Pods[0] != "default/web-n1" {
		t.Errorf("web.manifest: %+v, want pod default/web-n1", r)
	}
	if r := got["web.yaml.bak"]; !strings.Contains(r.Ignored, "backups") {
		t.Errorf("web.yaml.bak: %+v, want ignored as a backup", r)
	}
	if r := got["empty.yaml"]; len(r.Problems) != 1 || r.Problems[0].Message != EmptyMessage {
		t.Errorf("empty.yaml: %+v, want the empty file problem", r)
	}
	if r := got["dangling.yaml"]; len(r.Problems) != 1 || r.Problems[0].Message != "cannot read: no such file or directory" {
		t.Errorf("dangling.yaml: %+v, want a problem", r)
	}
	if len(got) != 7 {
		t.Errorf("%d reports, want 7: %v", len(got), got)
	}

	// A non-regular file named on the command line is a problem, read
	// without blocking.
	rs := CheckPath(filepath.Join(dir, "fifo.yaml"), Options{})
	if len(rs) != 1 || len(rs[0].Problems) != 1 || rs[0].Problems[0].Message != "cannot read: a named pipe (FIFO): not a regular file" {
		t.Errorf("CheckPath(fifo) = %+v", rs)
	}
}

func TestCheckConflicts(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	a, b, c := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml"), filepath.Join(other, "c.json")
	writeFile(t, a, checkPod)
	writeFile(t, b, checkPod+"---\n"+strings.Replace(checkPod, "name: web,", "name: other,", 1))
	writeFile(t, c, `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "other"},
	  "spec": {"containers": [{"name": "c", "image": "runner.local/busybox:test"}]}}`)
	rs := Check([]string{dir, c}, Options{NodeName: "n1", Source: SourceFile})
	if len(rs) != 3 || len(rs[0].Problems) != 0 {
		t.Fatalf("reports %+v", rs)
	}
	want := map[string]string{
		b: "conflict: pod default/web-n1 is also defined in " + a + ";",
		c: "conflict: pod default/other-n1 is also defined in " + b + ";",
	}
	for _, r := range rs[1:] {
		if len(r.Problems) != 1 || !strings.HasPrefix(r.Problems[0].Message, want[r.File]) || r.Problems[0].Field != "metadata.name" {
			t.Errorf("%s: problems %v, want one starting %q", r.File, r.Problems, want[r.File])
		}
	}
	// The same file named twice is no conflict.
	if rs := Check([]string{a, a}, Options{}); len(rs[1].Problems) != 0 {
		t.Errorf("a file conflicts with itself: %v", rs[1].Problems)
	}
}
