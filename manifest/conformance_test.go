package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir is the shared corpus of real-world manifests, used by path
// (never copied: their licences vary). Files named invalid-* must be
// rejected, all others accepted. It lies beside the checkout
// (../shared/conformance); RUNNER_CONFORMANCE_DIR names another place, e.g.
// for a git worktree. A plain clone has no corpus: its tests skip.
func corpusDir() string {
	if dir := os.Getenv("RUNNER_CONFORMANCE_DIR"); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "shared", "conformance")
}

// conformanceFiles lists the corpus' manifest files (SOURCES.md left out).
// When the corpus is absent it skips t with one line naming the directory.
func conformanceFiles(t testing.TB) []string {
	t.Helper()
	files, err := corpusFiles()
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("conformance corpus %s is absent: skipped", corpusDir())
	}
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// corpusFiles lists the corpus' manifest files; an absent corpus is an
// error that wraps fs.ErrNotExist.
func corpusFiles() ([]string, error) {
	conformanceDir := corpusDir()
	entries, err := os.ReadDir(conformanceDir)
	if err != nil {
		return nil, fmt.Errorf("conformance corpus: %w", err)
	}
	var files []string
	for _, e := range entries {
		if ok, _ := ManifestName(e.Name()); ok && !e.IsDir() {
			files = append(files, filepath.Join(conformanceDir, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no manifests in %s", conformanceDir)
	}
	return files, nil
}

func TestConformance(t *testing.T) {
	uids := map[string]string{} // UID → file, across the corpus
	valid, invalid := 0, 0
	for _, file := range conformanceFiles(t) {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			pods, problems := LoadFile(file, Options{NodeName: "node1", Source: SourceFile})
			for _, p := range problems {
				if p.File != file {
					t.Errorf("problem names file %q, want %q: %s", p.File, file, p)
				}
			}
			if strings.HasPrefix(name, "invalid-") {
				invalid++
				if len(pods) > 0 {
					t.Errorf("rejected file yielded pods %q", names(pods))
				}
				placed := false
				for _, p := range problems {
					placed = placed || (p.Line > 0 && strings.TrimSpace(p.Message) != "")
				}
				if !placed {
					t.Errorf("must be rejected with a problem that has a line and a reason; got:\n%v", problems)
				}
				return
			}
			valid++
			if len(problems) > 0 {
				t.Fatalf("must be accepted; got:\n%v", problems)
			}
			if len(pods) == 0 {
				t.Fatal("accepted, but no pod")
			}
			for _, p := range pods {
				if !strings.HasSuffix(p.Name, "-node1") || p.Spec.NodeName != "node1" || p.UID == "" || p.Namespace == "" {
					t.Errorf("pod %s/%s uid %q node %q: not identified", p.Namespace, p.Name, p.UID, p.Spec.NodeName)
				}
				if other, dup := uids[string(p.UID)]; dup {
					t.Errorf("pod %s has the UID of a pod of %s", p.Name, other)
				}
				uids[string(p.UID)] = name
			}
		})
	}
	if valid == 0 || invalid == 0 {
		t.Errorf("the corpus has %d valid and %d invalid files; it needs both", valid, invalid)
	}
}
