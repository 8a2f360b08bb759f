package gc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/runner-dev/runner/internal/fsutil"
	"github.com/runner-dev/runner/runner/runtime"
)

// ImageRecord is what runner remembers of an image: when it first saw it
// and when it last saw a container use it (zero: never).
type ImageRecord struct {
	FirstDetected time.Time `json:"firstDetected"`
	LastUsed      time.Time `json:"lastUsed,omitzero"`
}

// recordsFile is the records' file under the root directory.
const recordsFile = "gc/images.json"

// recordsVersion is the file's format.
const recordsVersion = 1

type recordsDoc struct {
	Version int                    `json:"version"`
	Images  map[string]ImageRecord `json:"images"`
}

// imageRecords are the records by image ID, kept in a file so that they
// survive a restart. Not safe for concurrent use: the Manager's pass lock
// guards it.
type imageRecords struct {
	path  string
	m     map[string]ImageRecord
	dirty bool
}

// loadRecords reads the records of rootDir. A missing file is no records;
// an unreadable one is no records and an error to log: every image then
// counts as first seen now, which only delays its removal.
func loadRecords(rootDir string) (*imageRecords, error) {
	r := &imageRecords{path: filepath.Join(rootDir, recordsFile), m: map[string]ImageRecord{}}
	data, err := os.ReadFile(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("read image records %s: %w", r.path, err)
	}
	var doc recordsDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return r, fmt.Errorf("read image records %s: %w", r.path, err)
	}
	if doc.Version != recordsVersion {
		return r, fmt.Errorf("read image records %s: version %d, want %d", r.path, doc.Version, recordsVersion)
	}
	if doc.Images != nil {
		r.m = doc.Images
	}
	return r, nil
}

// observe folds one look at the engine into the records: images seen for the
// first time are detected now, images in use were used now, and records of
// images that are gone are dropped. It fills in the times of images.
func (r *imageRecords) observe(images []ImageState, now time.Time) {
	present := make(map[string]bool, len(images))
	for i := range images {
		im := &images[i]
		present[im.ID] = true
		rec, ok := r.m[im.ID]
		if !ok {
			rec.FirstDetected = now
		}
		if im.InUse {
			rec.LastUsed = now
		}
		if !ok || im.InUse {
			r.m[im.ID] = rec
			r.dirty = true
		}
		im.FirstDetected, im.LastUsed = rec.FirstDetected, rec.LastUsed
	}
	for id := range r.m {
		if !present[id] {
			delete(r.m, id)
			r.dirty = true
		}
	}
}

// touch marks the images of containers as used now, between image passes.
// Images runner has not recorded yet are left to the next image pass.
func (r *imageRecords) touch(containers []runtime.Container, now time.Time) {
	for _, c := range containers {
		if rec, ok := r.m[c.ImageID]; ok && rec.LastUsed.Before(now) {
			rec.LastUsed = now
			r.m[c.ImageID] = rec
			r.dirty = true
		}
	}
}

// save writes the records when they changed, atomically.
func (r *imageRecords) save() error {
	if !r.dirty {
		return nil
	}
	data, err := json.Marshal(recordsDoc{Version: recordsVersion, Images: r.m})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(r.path), 0o700); err != nil {
		return fmt.Errorf("save image records: %w", err)
	}
	if err := fsutil.WriteFileAtomic(r.path, data, 0o600); err != nil {
		return fmt.Errorf("save image records %s: %w", r.path, err)
	}
	r.dirty = false
	return nil
}
