package volume

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// preparedInstance prepares container app (attempt 0) of pod uid-1 and
// returns its termination-log path on the host.
func preparedInstance(t *testing.T, m *Manager) string {
	t.Helper()
	pod := testPod("uid-1")
	if err := m.PreparePod(pod); err != nil {
		t.Fatal(err)
	}
	mounts, err := m.PrepareContainer(pod, &pod.Spec.Containers[0], nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 1 || mounts[0].Target != "/dev/termination-log" {
		t.Fatalf("mounts = %+v, want the termination log", mounts)
	}
	return mounts[0].Source
}

func TestTerminationMessage(t *testing.T) {
	m := newTestManager(t)
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := preparedInstance(t, m)
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o666 || st.Size() != 0 {
		t.Fatalf("termination log: %v %v, want an empty file 0666 whatever the umask", st.Mode(), err)
	}
	if msg, err := m.TerminationMessage("uid-1", "app", 0); err != nil || msg != "" {
		t.Fatalf("empty log: %q, %v", msg, err)
	}
	writeFile(t, path, "bye")
	if msg, err := m.TerminationMessage("uid-1", "app", 0); err != nil || msg != "bye" {
		t.Fatalf("message = %q, %v", msg, err)
	}
	// As the kubelet: the last 4 KiB.
	long := strings.Repeat("a", 5000) + strings.Repeat("z", 4096)
	writeFile(t, path, long)
	if msg, err := m.TerminationMessage("uid-1", "app", 0); err != nil || msg != strings.Repeat("z", 4096) {
		t.Fatalf("long message: %d bytes starting %.10q, %v; want the last 4096 bytes", len(msg), msg, err)
	}
	// Missing: empty, so that FallbackToLogsOnError applies.
	for _, tc := range []struct {
		name    string
		attempt int
	}{{"app", 7}, {"other", 0}} {
		if msg, err := m.TerminationMessage("uid-1", tc.name, tc.attempt); err != nil || msg != "" {
			t.Errorf("missing %s/%d: %q, %v", tc.name, tc.attempt, msg, err)
		}
	}
	if _, err := m.TerminationMessage("..", "app", 0); err == nil {
		t.Error("uid ..: want an error")
	}
}

func TestTerminationMessageNeverFollowsASymlink(t *testing.T) {
	m := newTestManager(t)
	path := preparedInstance(t, m)
	secret := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secret, "host secret")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, path); err != nil {
		t.Fatal(err)
	}
	// Control: a reader that follows symlinks would leak the host file.
	if b, _ := os.ReadFile(path); string(b) != "host secret" {
		t.Fatalf("control: the planted symlink does not lead to the secret (%q)", b)
	}
	msg, err := m.TerminationMessage("uid-1", "app", 0)
	if err == nil || strings.Contains(msg, "secret") {
		t.Fatalf("TerminationMessage through a symlink = %q, %v; want an error and no content", msg, err)
	}
	// A symlinked instance directory leads nowhere outside either.
	dir := filepath.Dir(path)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(secret), dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(secret, filepath.Join(filepath.Dir(secret), terminationLog)); err != nil {
		t.Fatal(err)
	}
	if msg, err := m.TerminationMessage("uid-1", "app", 0); strings.Contains(msg, "secret") {
		t.Fatalf("through a symlinked directory: %q, %v", msg, err)
	}
}

func TestTerminationMessageDoesNotBlockOnAFIFO(t *testing.T) {
	m := newTestManager(t)
	path := preparedInstance(t, m)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o666); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := m.TerminationMessage("uid-1", "app", 0)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a FIFO: want an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("TerminationMessage blocked on a FIFO")
	}
}
