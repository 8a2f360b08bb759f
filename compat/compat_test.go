package compat

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// tally counts the verdicts of every comparison the tests make, for the
// summary TestMain prints (`make compat` shows it).
var tally = struct {
	sync.Mutex
	verdicts map[string]int
	differ   []string
}{verdicts: map[string]int{}}

func record(name string, r Result) {
	tally.Lock()
	defer tally.Unlock()
	key := r.Verdict.String()
	if r.Verdict == Deliberate {
		key += " (" + r.Rule + ")"
	}
	tally.verdicts[key]++
	if r.Verdict == Differ {
		tally.differ = append(tally.differ, name)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	tally.Lock()
	if len(tally.verdicts) > 0 {
		keys := make([]string, 0, len(tally.verdicts))
		for k := range tally.verdicts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Println("runner against the kubelet:")
		for _, k := range keys {
			fmt.Printf("  %5d %s\n", tally.verdicts[k], k)
		}
		for _, d := range tally.differ {
			fmt.Println("  remaining difference:", d)
		}
	}
	tally.Unlock()
	os.Exit(code)
}

// check compares data and fails t on a difference that is not deliberate.
func check(t *testing.T, name string, data []byte) Result {
	t.Helper()
	r := Compare(data)
	record(name, r)
	switch r.Verdict {
	case Differ:
		t.Errorf("%s: %s", name, r.Detail)
	case Deliberate:
		t.Logf("%s: deliberate (%s): %s", name, r.Rule, firstLine(r.Detail))
	}
	return r
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimPrefix(s, "the kubelet accepts it, runner refuses it:\n"), "\n")
	return s
}

// corpusDir is the shared conformance corpus, beside the checkout (or where
// RUNNER_CONFORMANCE_DIR says), used by path and never copied.
func corpusDir() string {
	if dir := os.Getenv("RUNNER_CONFORMANCE_DIR"); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "shared", "conformance")
}

// inputs lists the files of dir that runner reads as manifests.
func inputs(t testing.TB, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		if ok, _ := manifestName(e.Name()); ok && !e.IsDir() {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	return files
}

func manifestName(name string) (bool, string) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json", ".manifest":
		return !strings.HasPrefix(name, "."), ""
	}
	return false, "not a manifest"
}

func TestCorpus(t *testing.T) {
	dir := corpusDir()
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("conformance corpus %s is absent: skipped", dir)
	}
	for _, f := range inputs(t, dir) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		check(t, "corpus "+filepath.Base(f), data)
	}
}

// TestFixtures compares the manifest fixtures (testdata/manifests) and the
// inputs the fuzzers of runner's manifest package have kept.
func TestFixtures(t *testing.T) {
	for _, dir := range []string{"../testdata/manifests/valid", "../testdata/manifests/invalid"} {
		for _, f := range inputs(t, dir) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			check(t, "fixture "+filepath.Base(f), data)
		}
	}
	for name, data := range fuzzInputs(t, "../manifest/testdata/fuzz/FuzzLoad") {
		check(t, "fuzz input "+name, data)
	}
}

// fuzzInputs reads the inputs Go's fuzzer keeps in dir (files of the form
// "go test fuzz v1" then []byte("...")).
func fuzzInputs(t testing.TB, dir string) map[string][]byte {
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		text, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(string(text), "\n", 3)
		if len(lines) < 2 || lines[0] != "go test fuzz v1" {
			continue
		}
		lit := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(lines[1]), "[]byte("), ")")
		s, err := strconv.Unquote(lit)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		out[e.Name()] = []byte(s)
	}
	return out
}

// FuzzCompat feeds both readers the same bytes, seeded with the corpus,
// the fixtures and the cases, and fails on a difference that is not
// deliberate. `make compat` runs it for a while.
func FuzzCompat(f *testing.F) {
	if files, err := os.ReadDir(corpusDir()); err == nil {
		for _, e := range files {
			if ok, _ := manifestName(e.Name()); ok {
				if data, err := os.ReadFile(filepath.Join(corpusDir(), e.Name())); err == nil {
					f.Add(data)
				}
			}
		}
	} else {
		f.Logf("conformance corpus %s is absent: fuzzing from the fixtures and cases", corpusDir())
	}
	for _, dir := range []string{"../testdata/manifests/valid", "../testdata/manifests/invalid"} {
		for _, file := range inputs(f, dir) {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	for _, c := range cases {
		f.Add([]byte(c.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if r := Compare(data); r.Verdict == Differ {
			t.Errorf("%q:\n%s", data, r.Detail)
		}
	})
}

// TestRulesInREADME: every deliberate difference is explained in the
// README's section "Differences from the kubelet", named as the rule.
func TestRulesInREADME(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "## Differences from the kubelet")
	if !ok {
		t.Fatal(`README.md has no section "Differences from the kubelet"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, r := range Rules {
		if !strings.Contains(section, "- `"+r.Name+"`:") {
			t.Errorf("the README's differences from the kubelet do not explain %s (%s)", r.Name, r.Reason)
		}
	}
}
