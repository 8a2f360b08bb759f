package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// conformanceDir is the shared corpus of real-world manifests, used by path
// (never copied: their licences vary). Files named invalid-* must be
// rejected, all others accepted.
var conformanceDir = filepath.Join("..", "..", "shared", "conformance")

// conformanceFiles lists the corpus' manifest files (SOURCES.md left out).
func conformanceFiles(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(conformanceDir)
	if err != nil {
		t.Fatalf("the conformance corpus must be present: %v", err)
	}
	var files []string
	for _, e := range entries {
		if ok, _ := ManifestName(e.Name()); ok && !e.IsDir() {
			files = append(files, filepath.Join(conformanceDir, e.Name()))
		}
	}
	if len(files) == 0 {
		t.Fatalf("no manifests in %s", conformanceDir)
	}
	return files
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
