package ipam

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileStoreSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ipam.json")
	cidr := netip.MustParsePrefix(DefaultCIDR)

	a, err := New(Config{CIDR: cidr, Store: NewFileStore(path)})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := a.Allocate("sandbox-a")
	second, _ := a.Allocate("sandbox-b")
	if err := a.Release("sandbox-a"); err != nil {
		t.Fatal(err)
	}

	// A "restarted" allocator reading the same file: same allocations, and
	// round-robin resumes after the last address handed out.
	b, err := New(Config{CIDR: cidr, Store: NewFileStore(path)})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Allocations(); len(got) != 1 || got["sandbox-b"] != second {
		t.Fatalf("after restart allocations = %v, want sandbox-b=%s", got, second)
	}
	third, err := b.Allocate("sandbox-c")
	if err != nil {
		t.Fatal(err)
	}
	if third == first || third == second {
		t.Errorf("after restart Allocate = %s, reused %s or %s", third, first, second)
	}

	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only the state file (no temp files left)", len(entries))
	}
	info, _ := os.Stat(path)
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode = %v, want 0600", perm)
	}
	data, _ := os.ReadFile(path)
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["version"] != float64(1) || raw["cidr"] != DefaultCIDR || raw["last"] != third.String() {
		t.Errorf("file = %s", data)
	}
}

func TestFileStoreMissingFileIsEmpty(t *testing.T) {
	st, err := NewFileStore(filepath.Join(t.TempDir(), "none.json")).Load()
	if err != nil || len(st.Allocations) != 0 || st.CIDR.IsValid() {
		t.Fatalf("Load of missing file = %+v, %v", st, err)
	}
}

func TestFileStoreRejectsBadFiles(t *testing.T) {
	for name, content := range map[string]string{
		"truncated":   `{"version":1,"allocations":{`,
		"future":      `{"version":2,"allocations":{}}`,
		"noversion":   `{"allocations":{}}`,
		"bad address": `{"version":1,"allocations":{"a":"10.0.0.300"}}`,
		"bad cidr":    `{"version":1,"cidr":"10.0.0.0/99","allocations":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ipam.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := NewFileStore(path).Load()
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("Load = %v, want an error naming %s", err, path)
			}
		})
	}
}

func TestFileStoreSaveFailsInMissingDir(t *testing.T) {
	s := NewFileStore(filepath.Join(t.TempDir(), "missing", "ipam.json"))
	if err := s.Save(State{}); err == nil {
		t.Fatal("Save into a missing directory succeeded")
	}
}
