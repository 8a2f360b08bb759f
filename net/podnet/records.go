package podnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/runner-dev/runner/internal/fsutil"
	"github.com/runner-dev/runner/net/cni"
)

// record is what is kept of an attached sandbox.
type record struct {
	Pod    string            `json:"pod"`
	PodUID string            `json:"podUID"`
	NetNS  string            `json:"netns"`
	IP     netip.Addr        `json:"ip,omitzero"`
	Ports  []cni.PortMapping `json:"ports,omitempty"`
	Ready  bool              `json:"ready"`
}

// recordStore persists the records. Save must be durable when it returns.
// The Manager calls both with its lock held, so calls never overlap.
type recordStore interface {
	Load() (map[string]*record, error)
	Save(map[string]*record) error
}

// stateFile is the JSON layout of fileStore's file.
type stateFile struct {
	Version   int                `json:"version"`
	Sandboxes map[string]*record `json:"sandboxes"`
}

// fileStore keeps the records in one JSON file, replaced atomically.
type fileStore struct{ path string }

func (f fileStore) Load() (map[string]*record, error) {
	recs := map[string]*record{}
	data, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return recs, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pod network state: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("pod network state %s is corrupt: %w", f.path, err)
	}
	if st.Version != 1 {
		return nil, fmt.Errorf("pod network state %s has version %d; this runner reads version 1", f.path, st.Version)
	}
	for id, rec := range st.Sandboxes {
		if rec != nil {
			recs[id] = rec
		}
	}
	return recs, nil
}

func (f fileStore) Save(recs map[string]*record) error {
	data, err := json.MarshalIndent(stateFile{Version: 1, Sandboxes: recs}, "", "  ")
	if err != nil {
		return fmt.Errorf("save pod network state: %w", err)
	}
	if err := fsutil.WriteFileAtomic(f.path, data, 0o600); err != nil {
		return fmt.Errorf("save pod network state: %w", err)
	}
	return nil
}
