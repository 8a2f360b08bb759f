package manifest

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzLoad feeds Load arbitrary bytes, seeded with every fixture and every
// file of the conformance corpus. Run it with
//
//	go test ./manifest -run XXX -fuzz FuzzLoad -fuzztime 3m
//
// and keep what it finds in testdata/fuzz/FuzzLoad (go puts it there).
func FuzzLoad(f *testing.F) {
	seeds := 0
	err := filepath.WalkDir(fixtureDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == ".gitattributes" {
			return err
		}
		f.Add(readFixture(f, path))
		seeds++
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	corpus, err := corpusFiles()
	if errors.Is(err, fs.ErrNotExist) {
		f.Logf("conformance corpus %s is absent: fuzzing from the fixtures alone", corpusDir())
	} else if err != nil {
		f.Fatal(err)
	}
	for _, file := range corpus {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		seeds++
	}
	if seeds < 20 {
		f.Fatalf("only %d seeds", seeds)
	}
	opts := Options{NodeName: "node1", Source: SourceFile, Now: func() time.Time { return goldenTime }}
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "/etc/kubernetes/manifests/fuzz.yaml"
		pods, problems := Load(file, data, opts)
		if len(data) < 64<<10 {
			checkNodeBound(t, "input", data)
		}
		if len(pods) > 0 && len(problems) > 0 {
			t.Fatalf("both %d pods and problems:\n%v", len(pods), problems)
		}
		// YAML ends lines at LF, CR, NEL, LS and PS; counting CRLF twice
		// makes this an upper bound.
		lines := 1
		for _, brk := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
			lines += bytes.Count(data, []byte(brk))
		}
		for _, p := range problems {
			if p.File != file {
				t.Errorf("problem without its file: %#v", p)
			}
			if p.Message == "" {
				t.Errorf("problem without a message: %#v", p)
			}
			if p.Line < 0 || p.Line > lines+1 {
				t.Errorf("problem at line %d of a %d-line file: %s", p.Line, lines, p)
			}
		}
		seen := map[string]bool{}
		for _, p := range pods {
			if p.Name == "" || p.UID == "" || p.Namespace == "" {
				t.Errorf("pod not identified: name %q namespace %q uid %q", p.Name, p.Namespace, p.UID)
			}
			key := p.Namespace + "/" + p.Name
			if seen[key] {
				t.Errorf("pod %s twice", key)
			}
			seen[key] = true
		}

		again, problemsAgain := Load(file, bytes.Clone(data), opts)
		if len(again) != len(pods) || len(problemsAgain) != len(problems) {
			t.Fatalf("a second load gave %d pods and %d problems, the first %d and %d", len(again), len(problemsAgain), len(pods), len(problems))
		}
		for i := range pods {
			if again[i].UID != pods[i].UID {
				t.Errorf("pod %s: UID %s, then %s", pods[i].Name, pods[i].UID, again[i].UID)
			}
		}
		for i := range problems {
			if problems[i] != problemsAgain[i] {
				t.Errorf("problem %d: %s, then %s", i, problems[i], problemsAgain[i])
			}
		}
	})
}
