package gc

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

func TestRecordsObserveTouchSave(t *testing.T) {
	root := t.TempDir()
	r, err := loadRecords(root)
	if err != nil || len(r.m) != 0 {
		t.Fatalf("fresh root: %v, %v", r.m, err)
	}
	states := []ImageState{
		{Image: runtime.Image{ID: "sha256:a"}},
		{Image: runtime.Image{ID: "sha256:b"}, InUse: true},
	}
	r.observe(states, t0)
	if states[0].FirstDetected != t0 || !states[0].LastUsed.IsZero() || states[1].LastUsed != t0 {
		t.Errorf("times not filled in: %+v", states)
	}
	if err := r.save(); err != nil {
		t.Fatal(err)
	}

	// A later pass: a is now in use through a container pass, b is gone, c new.
	r2, err := loadRecords(root)
	if err != nil {
		t.Fatal(err)
	}
	later := t0.Add(time.Hour)
	r2.touch([]runtime.Container{{ImageID: "sha256:a"}, {ImageID: "sha256:unknown"}}, later)
	states = []ImageState{{Image: runtime.Image{ID: "sha256:a"}}, {Image: runtime.Image{ID: "sha256:c"}}}
	r2.observe(states, later.Add(time.Minute))
	want := map[string]ImageRecord{
		"sha256:a": {FirstDetected: t0, LastUsed: later},
		"sha256:c": {FirstDetected: later.Add(time.Minute)},
	}
	if len(r2.m) != len(want) {
		t.Fatalf("records %v, want %v", r2.m, want)
	}
	for id, w := range want {
		if got := r2.m[id]; !got.FirstDetected.Equal(w.FirstDetected) || !got.LastUsed.Equal(w.LastUsed) {
			t.Errorf("%s: %+v, want %+v", id, got, w)
		}
	}
	if err := r2.save(); err != nil {
		t.Fatal(err)
	}
	r3, err := loadRecords(root)
	if err != nil || len(r3.m) != 2 || !r3.m["sha256:a"].LastUsed.Equal(later) {
		t.Errorf("after a restart: %v, %v", r3.m, err)
	}
	if r3.save() != nil || r3.dirty {
		t.Error("an unchanged record set is not written")
	}
}

func TestRecordsUnreadable(t *testing.T) {
	for name, content := range map[string]string{
		"half-written": `{"version":1,"images":{"sha256:a":`,
		"other format": `{"version":7,"images":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, recordsFile)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := loadRecords(root)
			if err == nil || r == nil || len(r.m) != 0 {
				t.Fatalf("got %v, %v; want empty records and an error", r, err)
			}
			// They still work, and the next save replaces the file.
			r.observe([]ImageState{{Image: runtime.Image{ID: "sha256:x"}}}, t0)
			if err := r.save(); err != nil {
				t.Fatal(err)
			}
			if r2, err := loadRecords(root); err != nil || len(r2.m) != 1 {
				t.Errorf("after save: %v, %v", r2.m, err)
			}
		})
	}
}
