package update

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/runner-dev/runner/internal/fsutil"
)

// record is what the Guard keeps of one origin, under --root-dir.
type record struct {
	// ReadySum and ReadyContent are the content that last ran Ready, since
	// ReadySince.
	ReadySum     string    `json:"readySum,omitempty"`
	ReadyContent []byte    `json:"readyContent,omitempty"`
	ReadySince   time.Time `json:"readySince,omitzero"`
	// Updating is the sum of the update in progress, first seen at Since.
	Updating string    `json:"updating,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	// Failed is the sum of a rolled-back update, rolled back at FailedAt
	// because of FailedReason.
	Failed       string    `json:"failed,omitempty"`
	FailedAt     time.Time `json:"failedAt,omitzero"`
	FailedReason string    `json:"failedReason,omitempty"`
}

// stateFile is the file's form.
type stateFile struct {
	Version int                `json:"version"`
	Origins map[string]*record `json:"origins"`
}

const stateVersion = 1

// loadState reads the Guard's state; a missing file is an empty state, a
// file that does not read (another version of runner wrote it) is
// ignored with the returned warning, never fatal: runner then only forgets
// which contents ran Ready.
func loadState(path string) (map[string]*record, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]*record{}, nil
	}
	if err != nil {
		return map[string]*record{}, fmt.Errorf("read the state of safe updates: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil || st.Version != stateVersion || st.Origins == nil {
		return map[string]*record{}, fmt.Errorf("the state of safe updates %s is not one this runner reads (version %d, %v); starting afresh", path, st.Version, err)
	}
	return st.Origins, nil
}

// saveState writes the state atomically.
func saveState(path string, origins map[string]*record) error {
	data, err := json.Marshal(stateFile{Version: stateVersion, Origins: origins})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, data, 0o600)
}
