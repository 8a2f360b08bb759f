package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runner-dev/runner/manifest"
)

// conformanceDir is the shared corpus of real-world manifests: files named
// invalid-* must be rejected, all other manifests accepted. It lies beside
// the checkout; RUNNER_CONFORMANCE_DIR names another place (a git worktree).
var conformanceDir = func() string {
	if dir := os.Getenv("RUNNER_CONFORMANCE_DIR"); dir != "" {
		return dir
	}
	return filepath.Join("..", "shared", "conformance")
}()

// validFixtures holds only manifests runner accepts, plus an editor backup
// with a bad manifest in it that must be ignored.
var validFixtures = filepath.Join("testdata", "manifests", "valid")

// runCLI runs the CLI with args (without the program name) and returns its
// exit code and what it wrote.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"runner"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// manifestFiles lists the files of dir that runner reads and those it
// ignores.
func manifestFiles(t *testing.T, dir string) (read, ignored []string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if ok, _ := manifest.ManifestName(e.Name()); ok {
			read = append(read, e.Name())
		} else {
			ignored = append(ignored, e.Name())
		}
	}
	if len(read) == 0 {
		t.Fatalf("no manifests in %s", dir)
	}
	return read, ignored
}

// splitCorpus splits the conformance corpus' manifests into valid and
// invalid-* ones.
// A plain clone has no corpus: the test skips with one line.
func splitCorpus(t *testing.T) (valid, invalid []string) {
	t.Helper()
	if _, err := os.Stat(conformanceDir); os.IsNotExist(err) {
		t.Skipf("conformance corpus %s is absent: skipped", conformanceDir)
	}
	read, _ := manifestFiles(t, conformanceDir)
	for _, name := range read {
		if strings.HasPrefix(name, "invalid-") {
			invalid = append(invalid, name)
		} else {
			valid = append(valid, name)
		}
	}
	if len(valid) == 0 || len(invalid) == 0 {
		t.Fatalf("corpus has %d valid and %d invalid files", len(valid), len(invalid))
	}
	return valid, invalid
}

func summary(files, valid, invalid int) string {
	return fmt.Sprintf("%d file(s) checked: %d valid, %d invalid", files, valid, invalid)
}

// ignoredSummary is the summary when a directory held ignored files.
func ignoredSummary(files, valid, invalid, ignored int) string {
	return summary(files, valid, invalid) + fmt.Sprintf("; %d ignored", ignored)
}

// corpusConflicts finds the valid corpus files (in lexical order) that
// define a pod an earlier one defines too, as the daemon would read them
// from one directory: file → the conflict line validate must print.
func corpusConflicts(t *testing.T, valid []string) map[string]string {
	t.Helper()
	first := map[string]string{}
	conflicts := map[string]string{}
	for _, name := range valid {
		file := filepath.Join(conformanceDir, name)
		pods, problems := manifest.LoadFile(file, manifest.Options{NodeName: "node1", Source: manifest.SourceFile})
		if len(problems) > 0 {
			t.Fatalf("%s: %v", name, problems)
		}
		for _, p := range pods {
			key := p.Namespace + "/" + p.Name
			if prev, ok := first[key]; ok {
				conflicts[file] = fmt.Sprintf("%s: metadata.name: conflict: pod %s is also defined in %s;", file, key, prev)
			} else {
				first[key] = file
			}
		}
	}
	return conflicts
}

func TestValidateConformanceDir(t *testing.T) {
	valid, invalid := splitCorpus(t)
	conflicts := corpusConflicts(t, valid)
	code, stdout, stderr := runCLI(t, "validate", "--node-name", "node1", conformanceDir)
	if code != exitFail {
		t.Errorf("exit %d, want %d (the corpus has invalid files)\nstderr: %s", code, exitFail, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	good, bad := len(valid)-len(conflicts), len(invalid)+len(conflicts)
	if last, want := lines[len(lines)-1], ignoredSummary(good+bad, good, bad, 1); last != want {
		t.Errorf("summary %q, want %q", last, want)
	}
	sources := filepath.Join(conformanceDir, "SOURCES.md") + ": ignored: only *.yaml, *.yml, *.json and *.manifest are read"
	var problems []string
	for _, l := range lines[:len(lines)-1] {
		if l != sources {
			problems = append(problems, l)
		}
	}
	if len(problems) != len(lines)-2 {
		t.Errorf("SOURCES.md is not listed as ignored (%q):\n%s", sources, stdout)
	}
	for _, name := range invalid {
		placed := regexp.MustCompile(`^` + regexp.QuoteMeta(filepath.Join(conformanceDir, name)) + `:[1-9][0-9]*: \S`)
		found := false
		for _, l := range problems {
			found = found || placed.MatchString(l)
		}
		if !found {
			t.Errorf("no file:line: problem for %s in:\n%s", name, stdout)
		}
	}
	for _, l := range problems {
		file, _, _ := strings.Cut(l, ":")
		if c, ok := conflicts[file]; ok && strings.HasPrefix(l, c) {
			delete(conflicts, file)
			continue
		}
		if !strings.HasPrefix(l, filepath.Join(conformanceDir, "invalid-")) {
			t.Errorf("a line that is neither a problem of an invalid file nor a conflict: %q", l)
		}
	}
	for _, c := range conflicts {
		t.Errorf("conflict not reported: %q", c)
	}
}

// TestValidateValidDir: the valid fixtures load with no problem, but for
// empty.yaml, which Load accepts (no documents, no pods) and validate
// reports: an empty manifest is most likely cut off.
func TestValidateValidDir(t *testing.T) {
	read, ignored := manifestFiles(t, validFixtures)
	if len(ignored) == 0 {
		t.Fatal("the valid fixtures must include an ignored editor backup")
	}
	if !slices.Contains(read, "empty.yaml") {
		t.Fatal("the valid fixtures must include empty.yaml")
	}
	code, stdout, stderr := runCLI(t, "validate", "--node-name", "node1", validFixtures)
	if code != exitFail {
		t.Errorf("exit %d, want %d for empty.yaml\nstdout: %s\nstderr: %s", code, exitFail, stdout, stderr)
	}
	var want strings.Builder
	for _, name := range slices.Sorted(slices.Values(append(read, ignored...))) {
		path := filepath.Join(validFixtures, name)
		if name == "empty.yaml" {
			fmt.Fprintf(&want, "%s: %s\n", path, manifest.EmptyMessage)
		}
		if ok, why := manifest.ManifestName(name); !ok {
			fmt.Fprintf(&want, "%s: ignored: %s\n", path, why)
		}
	}
	want.WriteString(ignoredSummary(len(read), len(read)-1, 1, len(ignored)) + "\n")
	if stdout != want.String() {
		t.Errorf("stdout %q, want the empty file, the ignored files and the summary %q", stdout, want.String())
	}
	if stderr != "" {
		t.Errorf("stderr %q", stderr)
	}
}

// TestValidateIgnoresBackups: a .bak next to a good manifest is neither read
// nor counted, even when it would not parse.
func TestValidateIgnoresBackups(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(filepath.Join(validFixtures, "pod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"pod.yaml":     string(good),
		"pod.yaml.bak": "kind: Pod\nspec: [not, a, pod\n",
		"pod.yaml~":    "{",
		".pod.yaml":    "{",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runCLI(t, "validate", "--node-name", "node1", dir)
	backup := "editor backups and temporary files are ignored; only *.yaml, *.yml, *.json and *.manifest are read"
	want := filepath.Join(dir, ".pod.yaml") + ": ignored: hidden files (dotfiles) are ignored\n" +
		filepath.Join(dir, "pod.yaml.bak") + ": ignored: " + backup + "\n" +
		filepath.Join(dir, "pod.yaml~") + ": ignored: " + backup + "\n" +
		ignoredSummary(1, 1, 0, 3) + "\n"
	if code != exitOK || stdout != want || stderr != "" {
		t.Errorf("exit %d\nstdout: %s\nwant: %s\nstderr: %s", code, stdout, want, stderr)
	}

	code, stdout, _ = runCLI(t, "validate", "--node-name", "node1", "--output", "json", dir)
	var got jsonReport
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || code != exitOK {
		t.Fatalf("exit %d, %v:\n%s", code, err, stdout)
	}
	ignored := 0
	for _, f := range got.Files {
		if f.Ignored != "" {
			ignored++
			if len(f.Problems) > 0 || len(f.Pods) > 0 {
				t.Errorf("ignored %s was read: %+v", f.File, f)
			}
		}
	}
	if ignored != 3 || got.Ignored != 3 || got.Valid != 1 || got.Invalid != 0 {
		t.Errorf("%d ignored, %d valid, %d invalid; want 3, 1, 0: %s", ignored, got.Valid, got.Invalid, stdout)
	}
}

// jsonReport is what `runner validate --output json` prints.
type jsonReport struct {
	Files   []manifest.FileReport `json:"files"`
	Valid   int                   `json:"valid"`
	Invalid int                   `json:"invalid"`
	Ignored int                   `json:"ignored"`
}

func TestValidateJSON(t *testing.T) {
	valid, invalid := splitCorpus(t)
	conflicts := corpusConflicts(t, valid)
	code, stdout, stderr := runCLI(t, "validate", "--node-name", "node1", "-o", "json", conformanceDir)
	if code != exitFail {
		t.Errorf("exit %d, want %d\nstderr: %s", code, exitFail, stderr)
	}
	var got jsonReport
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if got.Valid != len(valid)-len(conflicts) || got.Invalid != len(invalid)+len(conflicts) || got.Ignored != 1 {
		t.Errorf("valid %d invalid %d ignored %d, want %d, %d and 1", got.Valid, got.Invalid, got.Ignored,
			len(valid)-len(conflicts), len(invalid)+len(conflicts))
	}
	byName := map[string]manifest.FileReport{}
	for _, f := range got.Files {
		byName[filepath.Base(f.File)] = f
	}
	for _, name := range valid {
		f, ok := byName[name]
		_, conflicted := conflicts[filepath.Join(conformanceDir, name)]
		if !ok || (len(f.Problems) > 0) != conflicted || len(f.Pods) == 0 {
			t.Errorf("%s: %+v, want pods and no problem but a conflict", name, f)
			continue
		}
		for _, p := range f.Pods {
			if !strings.HasSuffix(p, "-node1") || !strings.Contains(p, "/") {
				t.Errorf("%s: pod %q is not namespace/name-node1", name, p)
			}
		}
	}
	for _, name := range invalid {
		f := byName[name]
		if len(f.Problems) == 0 || len(f.Pods) > 0 {
			t.Errorf("%s: %+v, want problems and no pod", name, f)
		}
		for _, p := range f.Problems {
			if p.File != filepath.Join(conformanceDir, name) || p.Message == "" {
				t.Errorf("%s: problem %+v", name, p)
			}
		}
	}
	if f := byName["SOURCES.md"]; f.Ignored == "" {
		t.Errorf("SOURCES.md not reported as ignored: %+v", f)
	}
}

func TestValidateUsage(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no path", []string{"validate"}, exitUsage, "validate needs at least one PATH"},
		{"unknown output", []string{"validate", "--output", "yaml", validFixtures}, exitUsage, `--output "yaml"`},
		{"unknown flag", []string{"validate", "--nope", validFixtures}, exitUsage, "nope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, c.code, c.stderr)
			}
			if c.name == "no path" && stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
}

func TestValidateFilesAndMissingPaths(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone.yaml")
	bad := filepath.Join("testdata", "manifests", "invalid", "misspelt-field.yaml")
	good := filepath.Join(validFixtures, "pod.json")
	code, stdout, _ := runCLI(t, "validate", "--node-name", "node1", good, bad, missing)
	if code != exitFail {
		t.Errorf("exit %d, want %d", code, exitFail)
	}
	want := []string{
		bad + `:9: spec.containers[0].imagePullPolice: unknown field "imagePullPolice": did you mean "imagePullPolicy"?`,
		missing + ": cannot read: ",
		summary(3, 1, 2),
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", stdout)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: %q, want %q...", i+1, lines[i], w)
		}
	}
}

// TestValidateOddFilesEmptyAndConflicts: in one directory a kops-style
// *.manifest, a named pipe (which blocked validate before: it must be
// listed as ignored, never opened), an empty file and a pod defined twice.
func TestValidateOddFilesEmptyAndConflicts(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(filepath.Join(validFixtures, "pod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"a.yaml":                  string(good),
		"kube-apiserver.manifest": string(good), // the same pod
		"empty.yml":               "\n",
		"notes.txt":               "not a manifest",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, stdout, stderr := runCLI(t, "validate", "--node-name", "node1", dir)
		done <- result{code, stdout, stderr}
	}()
	var got result
	select {
	case got = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("runner validate blocked on a directory with a named pipe")
	}
	pod := "edge/web-node1"
	want := strings.Join([]string{
		filepath.Join(dir, "empty.yml") + ": " + manifest.EmptyMessage,
		filepath.Join(dir, "kube-apiserver.manifest") + ": metadata.name: conflict: pod " + pod + " is also defined in " +
			filepath.Join(dir, "a.yaml") + "; runner runs only one of them (the one it already runs, else that one) and ignores the other",
		filepath.Join(dir, "notes.txt") + ": ignored: only *.yaml, *.yml, *.json and *.manifest are read",
		filepath.Join(dir, "pipe.yaml") + ": ignored: not a regular file (a named pipe (FIFO)); only regular files, or symlinks to them, are read",
		ignoredSummary(3, 1, 2, 2),
	}, "\n") + "\n"
	if got.code != exitFail || got.stdout != want || got.stderr != "" {
		t.Errorf("exit %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr: %s", got.code, exitFail, got.stdout, want, got.stderr)
	}
}

// TestValidateOnlyIgnoredFiles: a directory with nothing to read says why,
// instead of a bare "0 file(s) checked".
func TestValidateOnlyIgnoredFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "etcd.yaml.bak"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := runCLI(t, "validate", dir)
	want := filepath.Join(dir, "etcd.yaml.bak") + ": ignored: editor backups and temporary files are ignored; only *.yaml, *.yml, *.json and *.manifest are read\n" +
		ignoredSummary(0, 0, 0, 1) + "\n"
	if code != exitOK || stdout != want {
		t.Errorf("exit %d\nstdout: %q\nwant:   %q", code, stdout, want)
	}
}

// TestValidateURL: runner validate fetches a URL as --manifest-url does
// (headers included), reports its problems with the URL as the file, and
// a pod defined by a file and the URL as a conflict.
func TestValidateURL(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(validFixtures, "pod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := os.ReadFile(filepath.Join("testdata", "manifests", "invalid", "misspelt-field.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Node") != "edge-7" {
			http.Error(w, "who are you?", http.StatusForbidden)
			return
		}
		switch r.URL.Path {
		case "/good":
			_, _ = w.Write(good)
		case "/bad":
			_, _ = w.Write(bad)
		case "/empty":
		default:
			http.Error(w, "no such thing", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()

	code, stdout, stderr := runCLI(t, "validate", "--node-name", "node1", "--manifest-url-header", "X-Node:edge-7", srv.URL+"/good", srv.URL+"/empty")
	if code != exitOK || stdout != summary(2, 2, 0)+"\n" || stderr != "" {
		t.Errorf("good URLs: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	code, stdout, _ = runCLI(t, "validate", "--node-name", "node1", "--manifest-url-header", "X-Node:edge-7",
		filepath.Join(validFixtures, "pod.yaml"), srv.URL+"/good", srv.URL+"/bad", srv.URL+"/broken")
	want := []string{
		srv.URL + "/good: metadata.name: conflict: pod edge/web-node1 is also defined in " + filepath.Join(validFixtures, "pod.yaml") + ";",
		srv.URL + `/bad:9: spec.containers[0].imagePullPolice: unknown field "imagePullPolice"`,
		srv.URL + "/broken: the server answered 500 Internal Server Error; runner reads only 200 OK",
		summary(4, 1, 3),
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if code != exitFail || len(lines) != len(want) {
		t.Fatalf("exit %d, output:\n%s", code, stdout)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: %q, want %q...", i+1, lines[i], w)
		}
	}

	code, stdout, _ = runCLI(t, "validate", srv.URL+"/good")
	if code != exitFail || !strings.Contains(stdout, "403 Forbidden") {
		t.Errorf("without the header: exit %d\n%s", code, stdout)
	}
	code, _, stderr = runCLI(t, "validate", "--manifest-url-header", "no colon", srv.URL+"/good")
	if code != exitUsage || !strings.Contains(stderr, "--manifest-url-header") {
		t.Errorf("a bad header: exit %d, stderr %q", code, stderr)
	}
}
