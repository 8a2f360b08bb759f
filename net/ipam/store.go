package ipam

import (
	"maps"
	"net/netip"
	"sync"
)

// State is what an Allocator persists: the CIDR it allocates from, the last
// address it handed out (where the round-robin search resumes) and every
// allocation by owner.
type State struct {
	CIDR        netip.Prefix
	Last        netip.Addr
	Allocations map[string]netip.Addr
}

// clone returns a deep copy of s, so a Store never shares a map with the
// Allocator.
func (s State) clone() State {
	s.Allocations = maps.Clone(s.Allocations)
	return s
}

// Store persists an Allocator's State. Load returns the zero State when
// nothing was saved yet. Save must be durable when it returns: the Allocator
// hands out an address only after Save succeeded. The Allocator serializes its
// calls; a Store needs no locking of its own for it.
type Store interface {
	Load() (State, error)
	Save(State) error
}

// MemStore is an in-memory Store for unit tests. It can fail the next Save
// once, to test what a caller does when persisting fails. It is safe for
// concurrent use.
type MemStore struct {
	mu       sync.Mutex
	state    State
	saves    int
	failNext error
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{} }

// Load returns a copy of the last saved State.
func (m *MemStore) Load() (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.clone(), nil
}

// Save keeps a copy of s, or returns the error set by FailNextSave (once).
func (m *MemStore) Save(s State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failNext; err != nil {
		m.failNext = nil
		return err
	}
	m.state = s.clone()
	m.saves++
	return nil
}

// FailNextSave makes the next Save return err without saving.
func (m *MemStore) FailNextSave(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failNext = err
}

// Saves returns how many Saves succeeded.
func (m *MemStore) Saves() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saves
}
