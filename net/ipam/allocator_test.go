package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
)

func newTestAllocator(t *testing.T, cidr string) (*Allocator, *MemStore) {
	t.Helper()
	store := NewMemStore()
	a, err := New(Config{CIDR: netip.MustParsePrefix(cidr), Store: store})
	if err != nil {
		t.Fatalf("New(%s): %v", cidr, err)
	}
	return a, store
}

func TestNewRejects(t *testing.T) {
	for _, cidr := range []string{"10.0.0.0/31", "10.0.0.1/32", "fd00::/64"} {
		if _, err := New(Config{CIDR: netip.MustParsePrefix(cidr), Store: NewMemStore()}); err == nil {
			t.Errorf("New(%s) succeeded, want error", cidr)
		}
	}
	if _, err := New(Config{Store: NewMemStore()}); err == nil {
		t.Error("New without CIDR succeeded")
	}
	if _, err := New(Config{CIDR: netip.MustParsePrefix(DefaultCIDR)}); err == nil {
		t.Error("New without Store succeeded")
	}
}

func TestDefaultCIDR(t *testing.T) {
	a, _ := newTestAllocator(t, DefaultCIDR)
	if got, want := a.Gateway(), netip.MustParseAddr("10.218.0.1"); got != want {
		t.Errorf("Gateway = %s, want %s", got, want)
	}
	if got := a.Capacity(); got != 253 {
		t.Errorf("Capacity = %d, want 253", got)
	}
}

func TestSlash30HasOneAddress(t *testing.T) {
	a, _ := newTestAllocator(t, "10.1.2.4/30")
	addr, err := a.Allocate("a")
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParseAddr("10.1.2.6"); addr != want {
		t.Errorf("Allocate = %s, want %s", addr, want)
	}
	_, err = a.Allocate("b")
	var ex *ExhaustedError
	if !errors.Is(err, ErrExhausted) || !errors.As(err, &ex) {
		t.Fatalf("second Allocate err = %v, want ExhaustedError", err)
	}
	if ex.InUse != 1 || ex.Capacity != 1 || ex.CIDR != netip.MustParsePrefix("10.1.2.4/30") {
		t.Errorf("ExhaustedError = %+v", ex)
	}
}

func TestHostBitsAreMasked(t *testing.T) {
	a, _ := newTestAllocator(t, "10.1.2.77/24")
	if got := a.CIDR().String(); got != "10.1.2.0/24" {
		t.Errorf("CIDR = %s", got)
	}
}

func TestAllocateIsIdempotentAndSkipsReserved(t *testing.T) {
	a, store := newTestAllocator(t, "10.9.0.0/29") // .2 … .6 allocatable
	seen := map[netip.Addr]string{}
	for i := range 5 {
		owner := fmt.Sprintf("pod-%d", i)
		addr, err := a.Allocate(owner)
		if err != nil {
			t.Fatalf("Allocate(%s): %v", owner, err)
		}
		if want := netip.AddrFrom4([4]byte{10, 9, 0, byte(2 + i)}); addr != want {
			t.Errorf("Allocate(%s) = %s, want %s", owner, addr, want)
		}
		if prev, dup := seen[addr]; dup {
			t.Fatalf("%s given to both %s and %s", addr, prev, owner)
		}
		seen[addr] = owner
		again, err := a.Allocate(owner)
		if err != nil || again != addr {
			t.Errorf("second Allocate(%s) = %s, %v; want %s", owner, again, err, addr)
		}
	}
	if got := store.Saves(); got != 5 {
		t.Errorf("saves = %d, want 5 (one per new allocation, none for repeats)", got)
	}
	_, err := a.Allocate("one-too-many")
	if !errors.Is(err, ErrExhausted) {
		t.Fatalf("Allocate on full range: %v, want ErrExhausted", err)
	}
	t.Logf("exhausted error: %v", err)
}

func TestRoundRobinDoesNotReuseJustReleased(t *testing.T) {
	a, _ := newTestAllocator(t, "10.9.0.0/29") // .2 … .6
	a1, _ := a.Allocate("a")                   // .2
	a2, _ := a.Allocate("b")                   // .3
	if err := a.Release("a"); err != nil {
		t.Fatal(err)
	}
	c, _ := a.Allocate("c")
	if c == a1 || c == a2 {
		t.Fatalf("Allocate(c) = %s, reused a just released or taken address", c)
	}
	if want := netip.MustParseAddr("10.9.0.4"); c != want {
		t.Errorf("Allocate(c) = %s, want %s", c, want)
	}
	// Fill the rest; the search must wrap around to .2.
	d, _ := a.Allocate("d") // .5
	e, _ := a.Allocate("e") // .6
	f, err := a.Allocate("f")
	if err != nil {
		t.Fatal(err)
	}
	if d.String() != "10.9.0.5" || e.String() != "10.9.0.6" || f != a1 {
		t.Errorf("d, e, f = %s, %s, %s; want 10.9.0.5, 10.9.0.6, %s", d, e, f, a1)
	}
}

func TestReleaseIsIdempotent(t *testing.T) {
	a, store := newTestAllocator(t, DefaultCIDR)
	if _, err := a.Allocate("a"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := a.Release("a"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Release("never"); err != nil {
		t.Fatal(err)
	}
	if got := store.Saves(); got != 2 {
		t.Errorf("saves = %d, want 2 (allocate, first release)", got)
	}
	if _, ok := a.Lookup("a"); ok {
		t.Error("a still allocated")
	}
}

func TestFailedSaveAllocatesNothing(t *testing.T) {
	a, store := newTestAllocator(t, DefaultCIDR)
	boom := errors.New("disk full")
	store.FailNextSave(boom)
	if _, err := a.Allocate("a"); !errors.Is(err, boom) {
		t.Fatalf("Allocate err = %v, want %v", err, boom)
	}
	if got := len(a.Allocations()); got != 0 {
		t.Fatalf("allocations after failed save = %d", got)
	}
	addr, err := a.Allocate("a")
	if err != nil || addr.String() != "10.218.0.2" {
		t.Fatalf("retry = %s, %v; want 10.218.0.2 (round-robin position not advanced by the failure)", addr, err)
	}
	store.FailNextSave(boom)
	if err := a.Release("a"); !errors.Is(err, boom) {
		t.Fatalf("Release err = %v", err)
	}
	if got, ok := a.Lookup("a"); !ok || got != addr {
		t.Fatalf("after failed release Lookup = %s, %v; want %s kept", got, ok, addr)
	}
	st, _ := store.Load()
	if st.Allocations["a"] != addr {
		t.Fatalf("store lost allocation: %v", st.Allocations)
	}
}

func TestReconcileReleasesDeadOwners(t *testing.T) {
	a, store := newTestAllocator(t, DefaultCIDR)
	for _, o := range []string{"live-1", "dead-1", "live-2", "dead-2"} {
		if _, err := a.Allocate(o); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]netip.Addr{}
	for _, o := range []string{"dead-1", "dead-2"} {
		want[o], _ = a.Lookup(o)
	}
	saves := store.Saves()
	got, err := a.Reconcile(LiveSet(map[string]bool{"live-1": true, "live-2": true}))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("released %v, want %v", got, want)
	}
	if store.Saves() != saves+1 {
		t.Errorf("Reconcile saved %d times, want once", store.Saves()-saves)
	}
	left := a.Allocations()
	if len(left) != 2 || !left["live-1"].IsValid() || !left["live-2"].IsValid() {
		t.Errorf("left %v", left)
	}
	st, _ := store.Load()
	if len(st.Allocations) != 2 {
		t.Errorf("store has %v", st.Allocations)
	}
	// Nothing dead: nothing released, nothing saved.
	got, err = a.Reconcile(func(string) bool { return true })
	if err != nil || len(got) != 0 || store.Saves() != saves+1 {
		t.Errorf("second Reconcile = %v, %v, saves %d", got, err, store.Saves())
	}
}

func TestReconcileMayCallBack(t *testing.T) {
	a, _ := newTestAllocator(t, DefaultCIDR)
	if _, err := a.Allocate("x"); err != nil {
		t.Fatal(err)
	}
	// The predicate re-allocates x to a new address by releasing and
	// allocating it: Reconcile must not release the new allocation.
	got, err := a.Reconcile(func(owner string) bool {
		if err := a.Release(owner); err != nil {
			t.Error(err)
		}
		if _, err := a.Allocate(owner); err != nil {
			t.Error(err)
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("released %v, want nothing (allocation changed while live ran)", got)
	}
	if _, ok := a.Lookup("x"); !ok {
		t.Error("x lost its new address")
	}
}

func TestChangedCIDRKeepsForeignAllocations(t *testing.T) {
	store := NewMemStore()
	old, err := New(Config{CIDR: netip.MustParsePrefix("10.1.0.0/24"), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	oldAddr, _ := old.Allocate("a")
	if _, err := old.Allocate("b"); err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{CIDR: netip.MustParsePrefix("10.2.0.0/24"), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Lookup("a"); got != oldAddr {
		t.Fatalf("foreign allocation not kept: %s", got)
	}
	addr, err := a.Allocate("a")
	if err != nil || !a.CIDR().Contains(addr) {
		t.Fatalf("Allocate(a) = %s, %v; want an address in %s", addr, err, a.CIDR())
	}
	released, err := a.Reconcile(LiveSet(map[string]bool{"a": true}))
	if err != nil || len(released) != 1 || released["b"].String() != "10.1.0.3" {
		t.Fatalf("Reconcile = %v, %v; want b=10.1.0.3", released, err)
	}
}

func TestNewRejectsCorruptState(t *testing.T) {
	store := NewMemStore()
	dup := netip.MustParseAddr("10.218.0.5")
	if err := store.Save(State{Allocations: map[string]netip.Addr{"a": dup, "b": dup}}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{CIDR: netip.MustParsePrefix(DefaultCIDR), Store: store}); err == nil {
		t.Fatal("New accepted one address owned twice")
	}
}

func TestConcurrentAllocateNeverDuplicates(t *testing.T) {
	a, store := newTestAllocator(t, DefaultCIDR)
	const workers = 300 // more than the 253 addresses
	var wg sync.WaitGroup
	addrs := make([]netip.Addr, workers)
	errs := make([]error, workers)
	for i := range workers {
		wg.Go(func() {
			owner := fmt.Sprintf("pod-%d", i)
			addrs[i], errs[i] = a.Allocate(owner)
			if i%7 == 0 && errs[i] == nil {
				// Idempotent repeats and lookups race with new allocations.
				if again, err := a.Allocate(owner); err != nil || again != addrs[i] {
					t.Errorf("repeat Allocate(%s) = %s, %v", owner, again, err)
				}
			}
		})
	}
	wg.Wait()
	seen := map[netip.Addr]int{}
	ok, exhausted := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			if j, dup := seen[addrs[i]]; dup {
				t.Fatalf("%s given to pod-%d and pod-%d", addrs[i], j, i)
			}
			seen[addrs[i]] = i
		case errors.Is(err, ErrExhausted):
			exhausted++
		default:
			t.Fatalf("pod-%d: %v", i, err)
		}
	}
	if ok != 253 || exhausted != workers-253 {
		t.Errorf("ok %d exhausted %d, want 253 and %d", ok, exhausted, workers-253)
	}
	st, _ := store.Load()
	if len(st.Allocations) != 253 {
		t.Errorf("store holds %d allocations, want 253", len(st.Allocations))
	}
}
