package podnet

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/runner-dev/runner/net/cni"
)

// Choice is the network new sandboxes get, and why: what runner logs in one
// line at start.
type Choice struct {
	Network cni.Network
	// Reason says which flags made the choice.
	Reason string
	// Kept are the earlier PodCIDRs whose pods keep their addresses (see
	// decideCIDRs).
	Kept []netip.Prefix
}

// Attrs are the choice as slog attributes.
func (c Choice) Attrs() []any {
	attrs := []any{"network_plugin", c.Network.Plugin, "network", c.Network.Describe(), "reason", c.Reason}
	if c.Network.Plugin == cni.Kubenet {
		attrs = append(attrs, "pod_cidr", c.Network.CIDR.String())
	} else {
		attrs = append(attrs, "config_file", c.Network.File)
	}
	if len(c.Kept) > 0 {
		attrs = append(attrs, "earlier_pod_cidrs_kept", fmt.Sprint(c.Kept))
	}
	return attrs
}

// chooseNetwork returns the network of cfg.NetworkPlugin: runner's own
// (kubenet, the default: nothing of ConfDir is read) or a list of ConfDir
// (cni: by CNINetwork's name, else the first usable by file name).
func chooseNetwork(cfg Config) (Choice, error) {
	switch cfg.NetworkPlugin {
	case "", cni.Kubenet:
		n, err := cni.Own(cfg.BridgeName, cfg.CIDR)
		if err != nil {
			return Choice{}, fmt.Errorf("--network-plugin=kubenet: %w", err)
		}
		return Choice{Network: n, Reason: "--network-plugin=kubenet (the default): runner's own bridge and --pod-cidr; --cni-conf-dir is not read"}, nil
	case cni.CNI:
		n, err := cni.Load(cfg.ConfDir, cfg.CNINetwork)
		if err != nil {
			return Choice{}, err
		}
		reason := fmt.Sprintf("--network-plugin=cni: the first usable file by name in %s", cfg.ConfDir)
		if cfg.CNINetwork != "" {
			reason = fmt.Sprintf("--network-plugin=cni --cni-network=%s: the first file in %s of that network", cfg.CNINetwork, cfg.ConfDir)
		}
		return Choice{Network: n, Reason: reason}, nil
	}
	return Choice{}, fmt.Errorf("--network-plugin %q: must be %s or %s", cfg.NetworkPlugin, cni.Kubenet, cni.CNI)
}

// decideCIDRs decides what a changed --pod-cidr means for the pods that still
// hold addresses of earlier ranges of runner's own network (held: range →
// pods). They keep their addresses, and new pods get addresses of current,
// when the earlier range
//   - is disjoint from current: the bridge keeps serving it (its gateway
//     address and masquerading) until its last pod is gone; or
//   - lies inside current and starts at the same address (current widens
//     it): its pods are inside current already, the gateway is the same.
//
// Any other overlap (a narrower range, or one shifted over it) would hand out
// addresses, or the gateway, of running pods: runner refuses to start and
// says what to do. It returns the disjoint ranges to keep serving, sorted.
// Pure.
func decideCIDRs(current netip.Prefix, held map[netip.Prefix][]string) ([]netip.Prefix, error) {
	var kept []netip.Prefix
	for _, old := range slices.SortedFunc(maps.Keys(held), comparePrefix) {
		switch {
		case old == current:
		case !old.Overlaps(current):
			kept = append(kept, old)
		case old.Bits() >= current.Bits() && old.Addr() == current.Addr():
		default:
			pods := slices.Sorted(slices.Values(held[old]))
			return nil, fmt.Errorf("--pod-cidr %s overlaps %s, the range of the addresses of %d pod(s) still running (%s): "+
				"use a range that contains %s and starts at %s (to widen it), or one disjoint from it, "+
				"or start runner with --pod-cidr %s and remove those pods first",
				current, old, len(pods), strings.Join(pods, ", "), old, old.Addr(), old)
		}
	}
	return kept, nil
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// heldCIDRs maps each range of runner's own network that records refer to,
// to the pods of those records. m.mu must be held.
func (m *Manager) heldCIDRsLocked() map[netip.Prefix][]string {
	held := map[netip.Prefix][]string{}
	for _, rec := range m.recs {
		if n, ok := m.networks[rec.Network]; ok && n.Plugin == cni.Kubenet {
			held[n.CIDR] = append(held[n.CIDR], rec.Pod)
		}
	}
	return held
}

// migrateLocked gives records of a version 1 file (which kept no network)
// the network of their ADD, read back from libcni's cache, or else the
// current one. m.mu must be held; New calls it.
func (m *Manager) migrateLocked(cacheDir string) {
	for id, rec := range m.recs {
		if rec.Network != "" {
			continue
		}
		n, ok := cni.Cached(cacheDir, id, "eth0")
		how := "libcni's cache of its ADD"
		if !ok {
			n, how = m.current, "the current network (libcni's cache holds none for it)"
		}
		m.networks[n.ID()] = n
		rec.Network = n.ID()
		m.log.Info("attachment recorded by an older runner: its network comes from "+how,
			"sandbox_id", short(id), "pod", rec.Pod, "network", n.Describe())
	}
}

// attacherFor returns the Plugin for network n, opened once.
func (m *Manager) attacherFor(n cni.Network) (attacher, error) {
	id := n.ID()
	m.openMu.Lock()
	defer m.openMu.Unlock()
	if a, ok := m.opened[id]; ok {
		return a, nil
	}
	a, err := m.open(n)
	if err != nil {
		return nil, err
	}
	m.opened[id] = a
	return a, nil
}

// networkOfLocked is the network to DEL a sandbox with: its record's, else
// (an address without a record) the one in libcni's cache, else runner's own
// on the current bridge and range. m.mu must be held.
func (m *Manager) networkOfLocked(id string) (cni.Network, error) {
	if rec, ok := m.recs[id]; ok {
		if n, ok := m.networks[rec.Network]; ok {
			return n, nil
		}
	}
	if n, ok := cni.Cached(m.cacheDir, id, "eth0"); ok {
		return n, nil
	}
	if m.current.Plugin == cni.Kubenet {
		return m.current, nil
	}
	return cni.Own(m.cfg.BridgeName, m.cfg.CIDR)
}

// gcNetworksLocked drops the networks no record refers to. m.mu must be
// held.
func (m *Manager) gcNetworksLocked() {
	used := map[string]bool{}
	for _, rec := range m.recs {
		used[rec.Network] = true
	}
	maps.DeleteFunc(m.networks, func(id string, _ cni.Network) bool { return !used[id] })
}
