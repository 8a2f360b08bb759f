package ipam

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"sync"
)

// DefaultCIDR is the PodCIDR runner uses when none is configured. It was
// chosen to collide with none of the ranges other container stacks on the
// same machine take by default: Docker's bridge 172.17.0.0/16, podman's and
// containerd's 10.88.0.0/16, cri-o's 10.85.0.0/16, flannel's and kind's
// 10.244.0.0/16 and k3s's 10.42.0.0/16. A /24 gives 253 pods, far more than
// one machine of static pods needs.
const DefaultCIDR = "10.218.0.0/24"

// ErrExhausted is wrapped (through *ExhaustedError) by Allocate when every
// address of the CIDR is in use.
var ErrExhausted = errors.New("address range exhausted")

// ExhaustedError says which range ran out and how full it is. It unwraps to
// ErrExhausted.
type ExhaustedError struct {
	CIDR     netip.Prefix
	InUse    int // allocations inside CIDR
	Capacity int // addresses that can be allocated (without network, gateway, broadcast)
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("no free address in %s (%d of %d in use): %v", e.CIDR, e.InUse, e.Capacity, ErrExhausted)
}

func (e *ExhaustedError) Unwrap() error { return ErrExhausted }

// Config configures an Allocator.
type Config struct {
	// CIDR is the PodCIDR, IPv4 only, /30 or larger. Host bits are ignored.
	CIDR netip.Prefix
	// Store persists allocations; required (NewFileStore in production,
	// NewMemStore in unit tests).
	Store Store
}

// Allocator hands out addresses of one PodCIDR to owners. It is safe for
// concurrent use: the reconcile loop and the per-pod workers may call it from
// any goroutine. Every change is persisted through the Store before the call
// returns, under the Allocator's lock, so saves are never reordered.
type Allocator struct {
	cidr    netip.Prefix
	gateway netip.Addr
	first   uint32 // first allocatable address
	size    uint32 // number of allocatable addresses
	store   Store

	mu      sync.Mutex
	byOwner map[string]netip.Addr
	byAddr  map[netip.Addr]string
	last    netip.Addr // last address handed out; round-robin resumes after it
}

// New returns an Allocator for cfg.CIDR with the allocations found in
// cfg.Store. Allocations that lie outside the CIDR (the PodCIDR was changed
// while pods ran) are kept, so Reconcile and Release can free them, but are
// never handed out again: Allocate gives such an owner a new address.
func New(cfg Config) (*Allocator, error) {
	cidr := cfg.CIDR
	if !cidr.IsValid() || !cidr.Addr().Is4() {
		return nil, fmt.Errorf("new ipam allocator: CIDR %q is not an IPv4 prefix", cidr)
	}
	if cidr.Bits() > 30 {
		return nil, fmt.Errorf("new ipam allocator: CIDR %s is smaller than /30", cidr)
	}
	if cfg.Store == nil {
		return nil, errors.New("new ipam allocator: no Store")
	}
	cidr = cidr.Masked()
	network := toUint(cidr.Addr())
	a := &Allocator{
		cidr:    cidr,
		gateway: fromUint(network + 1),
		first:   network + 2,
		size:    uint32(1)<<(32-cidr.Bits()) - 3,
		store:   cfg.Store,
		byOwner: map[string]netip.Addr{},
		byAddr:  map[netip.Addr]string{},
	}
	st, err := cfg.Store.Load()
	if err != nil {
		return nil, fmt.Errorf("new ipam allocator for %s: %w", cidr, err)
	}
	for owner, addr := range st.Allocations {
		if owner == "" || !addr.IsValid() {
			return nil, fmt.Errorf("new ipam allocator for %s: stored allocation %q=%q is invalid", cidr, owner, addr)
		}
		if other, dup := a.byAddr[addr]; dup {
			return nil, fmt.Errorf("new ipam allocator for %s: stored address %s is owned by both %q and %q", cidr, addr, other, owner)
		}
		a.byOwner[owner] = addr
		a.byAddr[addr] = owner
	}
	if a.allocatable(st.Last) {
		a.last = st.Last
	}
	return a, nil
}

// CIDR returns the (masked) PodCIDR.
func (a *Allocator) CIDR() netip.Prefix { return a.cidr }

// Gateway returns the CIDR's first address, reserved for the bridge.
func (a *Allocator) Gateway() netip.Addr { return a.gateway }

// Capacity returns how many addresses can be allocated at once.
func (a *Allocator) Capacity() int { return int(a.size) }

// allocatable reports whether addr may be handed out: inside the CIDR and
// neither network, gateway nor broadcast address.
func (a *Allocator) allocatable(addr netip.Addr) bool {
	if !addr.Is4() {
		return false
	}
	n := toUint(addr)
	return n >= a.first && n-a.first < a.size
}

// Allocate returns owner's address, allocating the next free one after the
// last handed out when owner has none. It is idempotent: an owner that already
// has an address gets the same one. The allocation is persisted before
// Allocate returns; when persisting fails nothing is allocated. When the range
// is full the error wraps *ExhaustedError (errors.Is(err, ErrExhausted)).
func (a *Allocator) Allocate(owner string) (netip.Addr, error) {
	if owner == "" {
		return netip.Addr{}, errors.New("allocate address: empty owner")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	old, had := a.byOwner[owner]
	if had && a.allocatable(old) {
		return old, nil
	}
	addr, ok := a.nextFreeLocked()
	if !ok {
		return netip.Addr{}, fmt.Errorf("allocate address for %s: %w", owner,
			&ExhaustedError{CIDR: a.cidr, InUse: a.inRangeLocked(), Capacity: int(a.size)})
	}
	prevLast := a.last
	if had {
		delete(a.byAddr, old)
	}
	a.byOwner[owner] = addr
	a.byAddr[addr] = owner
	a.last = addr
	if err := a.saveLocked(); err != nil {
		delete(a.byAddr, addr)
		if had {
			a.byOwner[owner] = old
			a.byAddr[old] = owner
		} else {
			delete(a.byOwner, owner)
		}
		a.last = prevLast
		return netip.Addr{}, fmt.Errorf("allocate address for %s: %w", owner, err)
	}
	return addr, nil
}

// nextFreeLocked finds the first free allocatable address after a.last,
// wrapping around. The caller holds a.mu.
func (a *Allocator) nextFreeLocked() (netip.Addr, bool) {
	var start uint32 // offset from a.first where the search starts
	if a.last.IsValid() {
		start = (toUint(a.last) - a.first + 1) % a.size
	}
	for i := range a.size {
		addr := fromUint(a.first + (start+i)%a.size)
		if _, used := a.byAddr[addr]; !used {
			return addr, true
		}
	}
	return netip.Addr{}, false
}

// inRangeLocked counts the allocations inside the CIDR. The caller holds a.mu.
func (a *Allocator) inRangeLocked() int {
	n := 0
	for addr := range a.byAddr {
		if a.allocatable(addr) {
			n++
		}
	}
	return n
}

// Release frees owner's address. It is idempotent: releasing an owner without
// an address succeeds and saves nothing. The release is persisted before
// Release returns; when persisting fails the address stays allocated.
func (a *Allocator) Release(owner string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	addr, ok := a.byOwner[owner]
	if !ok {
		return nil
	}
	delete(a.byOwner, owner)
	delete(a.byAddr, addr)
	if err := a.saveLocked(); err != nil {
		a.byOwner[owner] = addr
		a.byAddr[addr] = owner
		return fmt.Errorf("release address %s of %s: %w", addr, owner, err)
	}
	return nil
}

// Reconcile releases every allocation whose owner live reports as not live,
// persists once and returns what it released. The reconcile loop calls it at
// start (after rebuilding its view of sandboxes from Docker) and
// periodically; live is called without the Allocator's lock held, so it may
// call back into the Allocator. An allocation made or changed while live ran
// is left alone. When persisting fails nothing is released.
func (a *Allocator) Reconcile(live func(owner string) bool) (map[string]netip.Addr, error) {
	snapshot := a.Allocations()
	dead := map[string]netip.Addr{}
	for owner, addr := range snapshot {
		if !live(owner) {
			dead[owner] = addr
		}
	}
	if len(dead) == 0 {
		return dead, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for owner, addr := range dead {
		if a.byOwner[owner] != addr {
			delete(dead, owner)
			continue
		}
		delete(a.byOwner, owner)
		delete(a.byAddr, addr)
	}
	if len(dead) == 0 {
		return dead, nil
	}
	if err := a.saveLocked(); err != nil {
		for owner, addr := range dead {
			a.byOwner[owner] = addr
			a.byAddr[addr] = owner
		}
		return nil, fmt.Errorf("reconcile addresses of %s: release %d: %w", a.cidr, len(dead), err)
	}
	return dead, nil
}

// LiveSet adapts a set of live owners to Reconcile's predicate.
func LiveSet(live map[string]bool) func(string) bool {
	return func(owner string) bool { return live[owner] }
}

// Lookup returns owner's address, if it has one.
func (a *Allocator) Lookup(owner string) (netip.Addr, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	addr, ok := a.byOwner[owner]
	return addr, ok
}

// Allocations returns a copy of every allocation by owner.
func (a *Allocator) Allocations() map[string]netip.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.byOwner)
}

// saveLocked persists the current state. The caller holds a.mu.
func (a *Allocator) saveLocked() error {
	return a.store.Save(State{CIDR: a.cidr, Last: a.last, Allocations: maps.Clone(a.byOwner)})
}

func toUint(addr netip.Addr) uint32 {
	b := addr.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func fromUint(n uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}
