package podnet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"github.com/runner-dev/runner/net/cni"
)

// EnsureNode sets up, or repairs, the node's part of runner's own network
// (cni.EnsureNode): for the current network's bridge its PodCIDR and the
// earlier ranges whose pods still run, for other bridges that records name
// their ranges. A repair after the first set-up (a rule or the bridge
// deleted by hand, a flush by a firewall script) is logged as a warning.
// With the cni plugin and no pod of runner's own network left, there is
// nothing to do. Called by Reconcile at start, by the first Attach, and by
// the loop on every relist (any goroutine; calls are serialised).
func (m *Manager) EnsureNode(ctx context.Context) error {
	m.nodeMu.Lock()
	defer m.nodeMu.Unlock()
	m.mu.Lock()
	nodes := m.nodesLocked()
	owned := map[string][]netip.Prefix{}
	for bridge := range nodes {
		owned[bridge] = m.ownedLocked(bridge)
	}
	m.mu.Unlock()
	var errs []error
	for _, bridge := range slices.Sorted(maps.Keys(nodes)) {
		changed, err := m.ensureNode(ctx, cni.Node{Bridge: bridge, CIDRs: nodes[bridge], Owned: owned[bridge], Trace: m.cfg.Trace})
		if err == nil {
			err = m.recordServed(bridge, nodes[bridge])
		}
		if len(changed) > 0 {
			if m.nodeEnsured.Load() {
				m.log.Warn("restored the node's pod network set-up (changed or deleted from outside runner)", "bridge", bridge, "changes", fmt.Sprint(changed))
			} else {
				m.log.Info("node's pod network set up", "bridge", bridge, "ranges", fmt.Sprint(nodes[bridge]), "changes", fmt.Sprint(changed))
			}
		}
		if err != nil {
			m.log.Warn("setting up the node's pod network failed; retried on the next relist", "bridge", bridge, "error", err)
			errs = append(errs, err)
		}
	}
	err := errors.Join(errs...)
	if err == nil {
		m.nodeEnsured.Store(true)
	}
	return err
}

// recordServed keeps the ranges bridge now serves, so that a later
// EnsureNode may remove their addresses.
func (m *Manager) recordServed(bridge string, cidrs []netip.Prefix) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if slices.Equal(m.served[bridge], cidrs) {
		return nil
	}
	prev, had := m.served[bridge]
	m.served[bridge] = slices.Clone(cidrs)
	if err := m.saveLocked(); err != nil {
		if had {
			m.served[bridge] = prev
		} else {
			delete(m.served, bridge)
		}
		return err
	}
	return nil
}

// ownedLocked are the ranges runner may have put on bridge: those it last
// served there, those of records, and the allocator's earlier range. m.mu
// must be held.
func (m *Manager) ownedLocked(bridge string) []netip.Prefix {
	owned := slices.Clone(m.served[bridge])
	for _, n := range m.networks {
		if n.Plugin == cni.Kubenet && n.Bridge == bridge {
			owned = append(owned, n.CIDR)
		}
	}
	return append(owned, m.owned...)
}

// ensureNodeOnce runs EnsureNode unless it succeeded before; Attach calls
// it, so that pods get a working network even before the loop's first
// Reconcile or relist.
func (m *Manager) ensureNodeOnce(ctx context.Context) error {
	if m.current.Plugin != cni.Kubenet {
		return nil
	}
	if m.nodeEnsured.Load() {
		return nil
	}
	return m.EnsureNode(ctx)
}

// nodesLocked are the ranges each bridge of runner's own network serves:
// the current network's first, then the ranges of records, except those a
// served range widens (same first address). m.mu must be held.
func (m *Manager) nodesLocked() map[string][]netip.Prefix {
	nodes := map[string][]netip.Prefix{}
	if m.current.Plugin == cni.Kubenet {
		nodes[m.current.Bridge] = []netip.Prefix{m.current.CIDR}
	}
	var held []cni.Network
	for _, rec := range m.recs {
		if n, ok := m.networks[rec.Network]; ok && n.Plugin == cni.Kubenet {
			held = append(held, n)
		}
	}
	slices.SortFunc(held, func(a, b cni.Network) int { return comparePrefix(a.CIDR, b.CIDR) })
	for _, n := range held {
		if !slices.ContainsFunc(nodes[n.Bridge], func(p netip.Prefix) bool { return widens(p, n.CIDR) }) {
			nodes[n.Bridge] = append(nodes[n.Bridge], n.CIDR)
		}
	}
	return nodes
}

// widens reports whether p is old or holds it with the same first address.
func widens(p, old netip.Prefix) bool {
	return p.Addr() == old.Addr() && p.Bits() <= old.Bits()
}

// UninstallReport says what Uninstall removed.
type UninstallReport struct {
	Detached []string // sandbox IDs
	Bridges  []string // bridges whose node set-up was removed
}

// Uninstall undoes everything runner's pod network did on this node, for
// `runner cleanup-network`: every sandbox the state under cfg.Dir knows is
// detached (CNI DEL with the network of its ADD, address released, record
// removed), then the node's part of runner's own network (rules, bridge,
// the veths left on it) is removed, for cfg.BridgeName and every bridge a
// record named. Pods still running lose their network: runner must be
// stopped and its pods removed first. Failures do not stop the rest; they
// are joined.
func Uninstall(ctx context.Context, cfg Config) (UninstallReport, error) {
	cfg.NetworkPlugin = cni.Kubenet // the current choice does not matter; records carry theirs
	m, err := build(cfg, false)
	if err != nil {
		return UninstallReport{}, err
	}
	var rep UninstallReport
	m.mu.Lock()
	bridges := map[string][]netip.Prefix{}
	for _, bridge := range append(slices.Collect(maps.Keys(m.served)), cfg.BridgeName) {
		bridges[bridge] = nil
	}
	for _, n := range m.networks {
		if n.Plugin == cni.Kubenet {
			bridges[n.Bridge] = nil
		}
	}
	for bridge := range bridges {
		bridges[bridge] = m.ownedLocked(bridge)
	}
	bridges[m.cfg.BridgeName] = append(bridges[m.cfg.BridgeName], m.cfg.CIDR)
	before := slices.Sorted(maps.Keys(m.recs))
	m.mu.Unlock()
	for id := range m.addrs.Allocations() {
		if !slices.Contains(before, id) {
			before = append(before, id)
		}
	}
	errs := []error{m.releaseGone(ctx, nil)}
	for _, id := range before {
		if !m.known(id) {
			rep.Detached = append(rep.Detached, id)
		}
	}
	for _, bridge := range slices.Sorted(maps.Keys(bridges)) {
		if err := m.removeNode(ctx, cni.Node{Bridge: bridge, Owned: bridges[bridge], Trace: cfg.Trace}); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Bridges = append(rep.Bridges, bridge)
		m.mu.Lock()
		if _, ok := m.served[bridge]; ok {
			delete(m.served, bridge)
			errs = append(errs, m.saveLocked())
		}
		m.mu.Unlock()
	}
	return rep, errors.Join(errs...)
}
