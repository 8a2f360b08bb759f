package ipam

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"

	"github.com/runner-dev/runner/internal/fsutil"
)

// fileVersion is the version of the JSON layout FileStore writes. Load
// refuses any other version rather than guess at its meaning.
const fileVersion = 1

// fileState is the JSON layout of a FileStore file.
type fileState struct {
	Version     int               `json:"version"`
	CIDR        string            `json:"cidr,omitempty"`
	Last        string            `json:"last,omitempty"`
	Allocations map[string]string `json:"allocations"`
}

// FileStore is a Store that keeps State as a JSON file. Save replaces the file
// atomically: it writes a temporary file in the same directory, fsyncs it,
// renames it over the old one and fsyncs the directory, so after a crash the
// file holds either the old or the new State, never a mix.
type FileStore struct {
	path string
}

// NewFileStore returns a FileStore for path. The directory must exist; the
// file is created by the first Save.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

// Path returns the file the store reads and writes.
func (f *FileStore) Path() string { return f.path }

// Load reads the file. A missing file is the zero State (nothing allocated
// yet); an unreadable, unparsable or future-version file is an error, since
// guessing would risk handing out an address a running pod still has.
func (f *FileStore) Load() (State, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("load ipam state: %w", err)
	}
	st, err := decodeState(data)
	if err != nil {
		return State{}, fmt.Errorf("load ipam state %s: %w", f.path, err)
	}
	return st, nil
}

// decodeState parses the JSON layout of fileState into a State.
func decodeState(data []byte) (State, error) {
	var fst fileState
	if err := json.Unmarshal(data, &fst); err != nil {
		return State{}, fmt.Errorf("parse: %w", err)
	}
	if fst.Version != fileVersion {
		return State{}, fmt.Errorf("unsupported version %d (want %d)", fst.Version, fileVersion)
	}
	var st State
	var err error
	if fst.CIDR != "" {
		if st.CIDR, err = netip.ParsePrefix(fst.CIDR); err != nil {
			return State{}, fmt.Errorf("parse cidr: %w", err)
		}
	}
	if fst.Last != "" {
		if st.Last, err = netip.ParseAddr(fst.Last); err != nil {
			return State{}, fmt.Errorf("parse last: %w", err)
		}
	}
	st.Allocations = make(map[string]netip.Addr, len(fst.Allocations))
	for owner, s := range fst.Allocations {
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return State{}, fmt.Errorf("parse address of %q: %w", owner, err)
		}
		st.Allocations[owner] = addr
	}
	return st, nil
}

// Save writes st atomically and durably (see FileStore).
func (f *FileStore) Save(st State) error {
	fst := fileState{Version: fileVersion, Allocations: make(map[string]string, len(st.Allocations))}
	if st.CIDR.IsValid() {
		fst.CIDR = st.CIDR.String()
	}
	if st.Last.IsValid() {
		fst.Last = st.Last.String()
	}
	for owner, addr := range st.Allocations {
		fst.Allocations[owner] = addr.String()
	}
	data, err := json.MarshalIndent(fst, "", "  ")
	if err != nil {
		return fmt.Errorf("save ipam state: %w", err)
	}
	if err := fsutil.WriteFileAtomic(f.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save ipam state: %w", err)
	}
	return nil
}
