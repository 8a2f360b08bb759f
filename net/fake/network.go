package fake

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/runner-dev/runner/net/ipam"
	"github.com/runner-dev/runner/net/podnet"
)

// Call is one recorded call: the method and its main argument (the sandbox
// ID; for Reconcile the sorted live IDs joined by ","; for EnsureNode "").
type Call struct {
	Method string
	Arg    string
}

func (c Call) String() string { return c.Method + "(" + c.Arg + ")" }

// methods are the methods FailNext accepts.
var methods = []string{"Attach", "Detach", "Reconcile", "EnsureNode"}

// Network is the fake. Safe for concurrent use. Create it with New.
type Network struct {
	addrs *ipam.Allocator // the real allocator, on a MemStore

	mu       sync.Mutex
	calls    []Call
	failNext map[string]error
	attached map[string]podnet.Sandbox
}

// New returns an empty Network with addresses from cidr (IPv4, /30 or
// larger; zero: ipam.DefaultCIDR).
func New(cidr netip.Prefix) *Network {
	if !cidr.IsValid() {
		cidr = netip.MustParsePrefix(ipam.DefaultCIDR)
	}
	addrs, err := ipam.New(ipam.Config{CIDR: cidr, Store: ipam.NewMemStore()})
	if err != nil {
		panic(fmt.Sprintf("fake: %v", err))
	}
	return &Network{addrs: addrs, failNext: map[string]error{}, attached: map[string]podnet.Sandbox{}}
}

// FailNext makes the next call of method (Attach, Detach, Reconcile or
// EnsureNode) return err without doing anything.
func (n *Network) FailNext(method string, err error) {
	if !slices.Contains(methods, method) {
		panic(fmt.Sprintf("fake: FailNext of unknown method %q", method))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failNext[method] = err
}

// Calls returns every call so far, in order.
func (n *Network) Calls() []Call {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.calls)
}

// CallsOf returns the calls of one method, in order.
func (n *Network) CallsOf(method string) []Call {
	var out []Call
	for _, c := range n.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Attached returns the sorted IDs of the attached sandboxes.
func (n *Network) Attached() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Sorted(maps.Keys(n.attached))
}

// Sandbox returns what Attach was given for an attached sandbox.
func (n *Network) Sandbox(id string) (podnet.Sandbox, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	sb, ok := n.attached[id]
	return sb, ok
}

// recordLocked records a call and returns the error injected for it.
func (n *Network) recordLocked(method, arg string) error {
	n.calls = append(n.calls, Call{Method: method, Arg: arg})
	err := n.failNext[method]
	delete(n.failNext, method)
	return err
}

// Attach gives the sandbox an address, or returns the one it has. A hostPort
// held by another pod's sandbox is refused as the Manager refuses it.
func (n *Network) Attach(ctx context.Context, sb podnet.Sandbox) (netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.recordLocked("Attach", sb.ID); err != nil {
		return netip.Addr{}, err
	}
	if err := ctx.Err(); err != nil {
		return netip.Addr{}, fmt.Errorf("network for pod %s: %w", sb.Pod, err)
	}
	for id, other := range n.attached {
		if id == sb.ID || other.PodUID == sb.PodUID {
			continue
		}
		if err := podnet.HostPortConflict(sb.Pod, sb.Ports, other.Pod, other.Ports); err != nil {
			return netip.Addr{}, err
		}
	}
	ip, err := n.addrs.Allocate(sb.ID)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("no pod IP left for %s: %w", sb.Pod, err)
	}
	n.attached[sb.ID] = sb
	return ip, nil
}

// Detach releases the sandbox's address; an unknown sandbox is fine.
func (n *Network) Detach(_ context.Context, sandboxID string, _ int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.recordLocked("Detach", sandboxID); err != nil {
		return err
	}
	return n.detachLocked(sandboxID)
}

func (n *Network) detachLocked(id string) error {
	if err := n.addrs.Release(id); err != nil {
		return err
	}
	delete(n.attached, id)
	return nil
}

// IP returns an attached sandbox's address.
func (n *Network) IP(sandboxID string) (netip.Addr, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.attached[sandboxID]; !ok {
		return netip.Addr{}, false
	}
	return n.addrs.Lookup(sandboxID)
}

// Reconcile detaches every sandbox not in live.
func (n *Network) Reconcile(_ context.Context, live map[string]int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.recordLocked("Reconcile", strings.Join(slices.Sorted(maps.Keys(live)), ",")); err != nil {
		return err
	}
	for id := range n.attached {
		if _, ok := live[id]; !ok {
			if err := n.detachLocked(id); err != nil {
				return err
			}
		}
	}
	return nil
}

// EnsureNode records the call (the Manager sets up or repairs the node's
// part of the network; the fake has none).
func (n *Network) EnsureNode(context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.recordLocked("EnsureNode", "")
}
