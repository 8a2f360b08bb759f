package manifest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden from the current output")

// fixtureDir holds the manifest fixtures: valid/ (every file loads) and
// invalid/ (every file is rejected).
var fixtureDir = filepath.Join("..", "testdata", "manifests")

// goldenTime is the fixed clock of golden loads.
var goldenTime = time.Date(2024, 1, 2, 3, 4, 5, 600, time.UTC)

// goldenOptions make a load independent of the machine: fixed node and
// clock. The file name the pods are loaded as is fixed too (goldenPath).
var goldenOptions = Options{NodeName: "node1", Source: SourceFile, Now: func() time.Time { return goldenTime }}

// goldenPath is where a fixture is loaded as, so UIDs and problems do not
// depend on the checkout's location.
func goldenPath(fixture string) string {
	return "/etc/kubernetes/manifests/" + filepath.Base(fixture)
}

// goldenResult is what a golden file holds: the pods of a file, or its
// problems.
type goldenResult struct {
	Pods     []*v1.Pod `json:"pods,omitempty"`
	Problems Problems  `json:"problems,omitempty"`
}

// fixtures lists the manifest files of testdata/manifests/<dir>, as the
// file source would read them (backups and dotfiles left out).
func fixtures(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(fixtureDir, dir))
	if err != nil {
		t.Fatalf("read fixtures: %v", err)
	}
	var out []string
	for _, e := range entries {
		if ok, _ := ManifestName(e.Name()); ok && !e.IsDir() {
			out = append(out, filepath.Join(fixtureDir, dir, e.Name()))
		}
	}
	if len(out) == 0 {
		t.Fatalf("no fixtures in %s", dir)
	}
	return out
}

func readFixture(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// loadFixture loads a fixture as goldenPath names it.
func loadFixture(t testing.TB, path string) ([]*v1.Pod, Problems) {
	t.Helper()
	return Load(goldenPath(path), readFixture(t, path), goldenOptions)
}

// TestGolden loads every fixture and compares the pods (valid/) or the
// problems (invalid/) with testdata/golden/<dir>/<file>.json. Regenerate
// with: go test ./manifest -run Golden -update
func TestGolden(t *testing.T) {
	want := map[string]bool{}
	for _, dir := range []string{"valid", "invalid"} {
		for _, fixture := range fixtures(t, dir) {
			golden := filepath.Join("testdata", "golden", dir, filepath.Base(fixture)+".json")
			want[golden] = true
			t.Run(dir+"/"+filepath.Base(fixture), func(t *testing.T) {
				pods, problems := loadFixture(t, fixture)
				switch {
				case dir == "valid" && len(problems) > 0:
					t.Errorf("a valid fixture has problems:\n%v", problems)
				case dir == "invalid" && len(problems) == 0:
					t.Errorf("an invalid fixture loaded %d pod(s) and no problem", len(pods))
				}
				got, err := json.MarshalIndent(goldenResult{Pods: pods, Problems: problems}, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, '\n')
				compareGolden(t, golden, got)
			})
		}
	}
	// A golden file whose fixture is gone is stale.
	stale, _ := filepath.Glob(filepath.Join("testdata", "golden", "*", "*.json"))
	for _, g := range stale {
		if !want[g] {
			if *update {
				if err := os.Remove(g); err != nil {
					t.Error(err)
				}
				continue
			}
			t.Errorf("%s has no fixture any more: delete it or run with -update", g)
		}
	}
}

// compareGolden compares got with the golden file, or writes it with -update.
func compareGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./manifest -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update if the change is intended):\n%s", golden, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			shown++
			b.WriteString("line ")
			b.WriteString(strconv.Itoa(i + 1))
			b.WriteString(":\n  want: " + wl + "\n  got:  " + gl + "\n")
		}
	}
	return b.String()
}
