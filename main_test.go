package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/runner-dev/runner/manifest"
)

// conformanceDir is the shared corpus of real-world manifests: files named
// invalid-* must be rejected, all other manifests accepted.
var conformanceDir = filepath.Join("..", "shared", "conformance")

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
func splitCorpus(t *testing.T) (valid, invalid []string) {
	t.Helper()
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

func TestValidateConformanceDir(t *testing.T) {
	valid, invalid := splitCorpus(t)
	code, stdout, stderr := runCLI(t, "validate", "--node-name", "node1", conformanceDir)
	if code != exitFail {
		t.Errorf("exit %d, want %d (the corpus has invalid files)\nstderr: %s", code, exitFail, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if last := lines[len(lines)-1]; last != summary(len(valid)+len(invalid), len(valid), len(invalid)) {
		t.Errorf("summary %q, want %q", last, summary(len(valid)+len(invalid), len(valid), len(invalid)))
	}
	problems := lines[:len(lines)-1]
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
		if !strings.HasPrefix(l, filepath.Join(conformanceDir, "invalid-")) {
			t.Errorf("a line that is not a problem of an invalid file: %q", l)
		}
	}
	if strings.Contains(stdout, "SOURCES.md") {
		t.Error("SOURCES.md, not a manifest, is reported")
	}
}

func TestValidateValidDir(t *testing.T) {
	read, ignored := manifestFiles(t, validFixtures)
	if len(ignored) == 0 {
		t.Fatal("the valid fixtures must include an ignored editor backup")
	}
	code, stdout, stderr := runCLI(t, "validate", "--node-name", "node1", validFixtures)
	if code != exitOK {
		t.Errorf("exit %d, want 0\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if want := summary(len(read), len(read), 0) + "\n"; stdout != want {
		t.Errorf("stdout %q, want only the summary %q", stdout, want)
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
	if code != exitOK || stdout != summary(1, 1, 0)+"\n" || stderr != "" {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
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
	if ignored != 3 || got.Valid != 1 || got.Invalid != 0 {
		t.Errorf("%d ignored, %d valid, %d invalid; want 3, 1, 0: %s", ignored, got.Valid, got.Invalid, stdout)
	}
}

// jsonReport is what `runner validate --output json` prints.
type jsonReport struct {
	Files   []manifest.FileReport `json:"files"`
	Valid   int                   `json:"valid"`
	Invalid int                   `json:"invalid"`
}

func TestValidateJSON(t *testing.T) {
	valid, invalid := splitCorpus(t)
	code, stdout, stderr := runCLI(t, "validate", "--node-name", "node1", "-o", "json", conformanceDir)
	if code != exitFail {
		t.Errorf("exit %d, want %d\nstderr: %s", code, exitFail, stderr)
	}
	var got jsonReport
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if got.Valid != len(valid) || got.Invalid != len(invalid) {
		t.Errorf("valid %d invalid %d, want %d and %d", got.Valid, got.Invalid, len(valid), len(invalid))
	}
	byName := map[string]manifest.FileReport{}
	for _, f := range got.Files {
		byName[filepath.Base(f.File)] = f
	}
	for _, name := range valid {
		f, ok := byName[name]
		if !ok || len(f.Problems) > 0 || len(f.Pods) == 0 {
			t.Errorf("%s: %+v, want pods and no problem", name, f)
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
