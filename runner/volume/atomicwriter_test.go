package volume

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// entries lists the names in dir, sorted.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	list, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func TestWriteAtomicLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	files := map[string]file{
		"labels":       {data: []byte("app=\"web\""), mode: 0o644},
		"sub/dir/name": {data: []byte("web"), mode: 0o600},
	}
	changed, err := writeAtomic(dir, files, nil)
	if err != nil || !changed {
		t.Fatalf("first write: changed=%v err=%v", changed, err)
	}
	names := entries(t, dir)
	if len(names) != 4 || !isTimestampDir(names[0]) || names[1] != "..data" || names[2] != "labels" || names[3] != "sub" {
		t.Fatalf("entries = %v, want ..<ts>, ..data, labels, sub", names)
	}
	ts := names[0]
	if l, _ := os.Readlink(filepath.Join(dir, "..data")); l != ts {
		t.Errorf("..data -> %q, want %q", l, ts)
	}
	for name, want := range map[string]string{"labels": "..data/labels", "sub": "..data/sub"} {
		if l, err := os.Readlink(filepath.Join(dir, name)); err != nil || l != want {
			t.Errorf("%s -> %q (%v), want a symlink to %q", name, l, err, want)
		}
	}
	if got := readFile(t, filepath.Join(dir, "sub/dir/name")); got != "web" {
		t.Errorf("sub/dir/name = %q", got)
	}
	st, err := os.Stat(filepath.Join(dir, "sub/dir/name"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode of sub/dir/name = %v (%v), want 0600 whatever the umask", st.Mode(), err)
	}
	if st, _ := os.Stat(filepath.Join(dir, ts)); st.Mode().Perm() != 0o755 {
		t.Errorf("mode of %s = %v, want 0755", ts, st.Mode())
	}

	// Same payload: nothing is rewritten.
	changed, err = writeAtomic(dir, files, nil)
	if err != nil || changed {
		t.Fatalf("same payload again: changed=%v err=%v", changed, err)
	}
	if l, _ := os.Readlink(filepath.Join(dir, "..data")); l != ts {
		t.Errorf("..data moved to %q for an unchanged payload", l)
	}

	// New payload: swapped, the old name and the old timestamp dir go.
	changed, err = writeAtomic(dir, map[string]file{"labels": {data: []byte("app=\"db\""), mode: 0o644}}, nil)
	if err != nil || !changed {
		t.Fatalf("update: changed=%v err=%v", changed, err)
	}
	names = entries(t, dir)
	if len(names) != 3 || names[0] == ts || !isTimestampDir(names[0]) || names[2] != "labels" {
		t.Fatalf("entries after update = %v, want a new ..<ts>, ..data, labels", names)
	}
	if got := readFile(t, filepath.Join(dir, "labels")); got != "app=\"db\"" {
		t.Errorf("labels after update = %q", got)
	}

	// A changed mode alone is a change.
	changed, err = writeAtomic(dir, map[string]file{"labels": {data: []byte("app=\"db\""), mode: 0o400}}, nil)
	if err != nil || !changed {
		t.Fatalf("mode change: changed=%v err=%v", changed, err)
	}
}

func TestWriteAtomicRefusesBadPaths(t *testing.T) {
	outside := t.TempDir()
	for _, p := range []string{"../escape", "/abs", "..data", "a/../../b", "..hidden"} {
		dir := filepath.Join(t.TempDir(), "vol")
		if _, err := writeAtomic(dir, map[string]file{p: {data: []byte("x"), mode: 0o644}}, nil); err == nil {
			t.Errorf("path %q: want an error", p)
		}
	}
	if names := entries(t, outside); len(names) != 0 {
		t.Errorf("something was written outside: %v", names)
	}
	dir := filepath.Join(t.TempDir(), "vol")
	if _, err := writeAtomic(dir, map[string]file{"a": {mode: 0o644}, "./a": {mode: 0o644}}, nil); err == nil {
		t.Error("a and ./a: want a duplicate error")
	}
}

// A pod of an older runner had the volume read-write and planted symlinks
// everywhere the writer touches: nothing is written outside the volume,
// and the volume ends up as the writer's.
func TestWriteAtomicIgnoresPlantedSymlinks(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	writeFile(t, secret, "host secret")
	dir := filepath.Join(t.TempDir(), "vol")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"labels":                          secret,                            // a visible name pointing at a host file
		"name":                            outside,                           // a visible name pointing at a host directory
		"..data":                          "..2020_01_01_00_00_00.000000000", // the data link, to a timestamp dir that leads out
		"..data_tmp":                      outside + "/tmp",                  // the temporary link
		"stale":                           "/",
		"..2020_01_01_00_00_00.000000000": outside,
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]file{
		"labels": {data: []byte("app=\"web\""), mode: 0o644},
		"name":   {data: []byte("web"), mode: 0o644},
	}
	if _, err := writeAtomic(dir, files, nil); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, secret); got != "host secret" {
		t.Errorf("the host file was changed: %q", got)
	}
	if names := entries(t, outside); len(names) != 1 || names[0] != "secret" {
		t.Errorf("files appeared outside the volume: %v", names)
	}
	names := entries(t, dir)
	if len(names) != 4 || !isTimestampDir(names[0]) || names[0] == "..2020_01_01_00_00_00.000000000" || names[1] != "..data" || names[2] != "labels" || names[3] != "name" {
		t.Errorf("entries = %v, want a new ..<ts>, ..data, labels, name", names)
	}
	if got := readFile(t, filepath.Join(dir, "labels")); got != "app=\"web\"" {
		t.Errorf("labels = %q", got)
	}
}

// The layout of runner before the atomic writer: plain files. They are
// replaced by the writer's symlinks.
func TestWriteAtomicMigratesPlainFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	if err := os.MkdirAll(filepath.Join(dir, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "labels"), "old labels")
	writeFile(t, filepath.Join(dir, "old", "x"), "x")
	if _, err := writeAtomic(dir, map[string]file{"labels": {data: []byte("new"), mode: 0o644}}, nil); err != nil {
		t.Fatal(err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "labels")); err != nil || l != "..data/labels" {
		t.Errorf("labels -> %q (%v), want the writer's symlink", l, err)
	}
	if got := readFile(t, filepath.Join(dir, "labels")); got != "new" {
		t.Errorf("labels = %q", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "old")); !os.IsNotExist(err) {
		t.Errorf("a file of the old layout is left: %v", err)
	}
}
