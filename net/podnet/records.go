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
	// Network is the ID of the network of the ADD (state.networks); "" in
	// records of version 1 files, until New resolved it.
	Network string `json:"network,omitempty"`
}

// state is what the Manager persists: the records, and the networks they
// refer to.
type state struct {
	networks map[string]cni.Network // by cni.Network.ID
	recs     map[string]*record     // by sandbox ID
	// served are the ranges EnsureNode last set up, by bridge: runner's,
	// so that it may remove their addresses later.
	served  map[string][]netip.Prefix
	version int // of the file it was loaded from; 0: none
}

// recordStore persists the state. Save must be durable when it returns.
// The Manager calls both with its lock held, so calls never overlap.
type recordStore interface {
	Load() (state, error)
	Save(state) error
}

// stateVersion is the version of the layout fileStore writes; it reads 1
// (records without networks) and 2.
const stateVersion = 2

// stateFile is the JSON layout of fileStore's file.
type stateFile struct {
	Version   int                       `json:"version"`
	Networks  map[string]cni.Network    `json:"networks,omitempty"`
	Served    map[string][]netip.Prefix `json:"served,omitempty"`
	Sandboxes map[string]*record        `json:"sandboxes"`
}

// fileStore keeps the state in one JSON file, replaced atomically.
type fileStore struct{ path string }

func (f fileStore) Load() (state, error) {
	st := state{networks: map[string]cni.Network{}, recs: map[string]*record{}, served: map[string][]netip.Prefix{}}
	data, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return state{}, fmt.Errorf("read pod network state: %w", err)
	}
	var file stateFile
	if err := json.Unmarshal(data, &file); err != nil {
		return state{}, fmt.Errorf("pod network state %s is corrupt: %w", f.path, err)
	}
	if file.Version != 1 && file.Version != stateVersion {
		return state{}, fmt.Errorf("pod network state %s has version %d; this runner reads versions 1 and %d", f.path, file.Version, stateVersion)
	}
	st.version = file.Version
	for id, n := range file.Networks {
		st.networks[id] = n
	}
	for bridge, cidrs := range file.Served {
		st.served[bridge] = cidrs
	}
	for id, rec := range file.Sandboxes {
		if rec == nil {
			continue
		}
		if _, ok := st.networks[rec.Network]; rec.Network != "" && !ok {
			return state{}, fmt.Errorf("pod network state %s is corrupt: sandbox %s refers to network %s, which it does not hold", f.path, id, rec.Network)
		}
		st.recs[id] = rec
	}
	return st, nil
}

func (f fileStore) Save(st state) error {
	data, err := json.MarshalIndent(stateFile{Version: stateVersion, Networks: st.networks, Served: st.served, Sandboxes: st.recs}, "", "  ")
	if err != nil {
		return fmt.Errorf("save pod network state: %w", err)
	}
	if err := fsutil.WriteFileAtomic(f.path, data, 0o600); err != nil {
		return fmt.Errorf("save pod network state: %w", err)
	}
	return nil
}
