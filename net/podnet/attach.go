package podnet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/runner-dev/runner/net/cni"
	"github.com/runner-dev/runner/net/ipam"
)

// Attach gives a started sandbox its network and returns its address. A
// failure undoes everything it did (see the package doc). With runner's own
// network, the first Attach sets the node up (EnsureNode) unless Reconcile
// did; a pod with hostPorts gets portmap in its list, the others not.
// Called by a worker.
func (m *Manager) Attach(ctx context.Context, sb Sandbox) (netip.Addr, error) {
	netns := "/proc/" + strconv.Itoa(sb.Pid) + "/ns/net"
	if err := m.ensureNodeOnce(ctx); err != nil {
		return netip.Addr{}, fmt.Errorf("network for pod %s: %w", sb.Pod, err)
	}
	n := m.current.ForPod(len(sb.Ports) > 0)
	if err := m.claim(sb, netns, n); err != nil {
		return netip.Addr{}, err
	}
	net, err := m.attacherFor(n)
	if err != nil {
		m.forget(sb.ID)
		return netip.Addr{}, fmt.Errorf("network for pod %s: %w", sb.Pod, err)
	}
	var ip netip.Addr
	if m.current.Plugin == cni.Kubenet {
		var err error
		if ip, err = m.addrs.Allocate(sb.ID); err != nil {
			m.forget(sb.ID)
			if errors.Is(err, ipam.ErrExhausted) {
				return netip.Addr{}, fmt.Errorf("no pod IP left for %s: %w (release comes with pod removal; widen --pod-cidr)", sb.Pod, err)
			}
			return netip.Addr{}, fmt.Errorf("allocate pod IP for %s: %w", sb.Pod, err)
		}
	}
	res, err := net.Attach(ctx, cni.AttachRequest{
		ID: sb.ID, NetNS: netns, IfName: "eth0", IP: ip, PortMappings: sb.Ports,
		PodNamespace: podNamespace(sb.Pod), PodName: podName(sb.Pod), PodUID: sb.PodUID,
	})
	if err != nil {
		// net/cni rolled its own ADD back.
		m.undoAttach(ctx, sb, false)
		return netip.Addr{}, fmt.Errorf("network for pod %s: %w", sb.Pod, err)
	}
	if err := m.markReady(sb.ID, res.IP); err != nil {
		m.undoAttach(ctx, sb, true)
		return netip.Addr{}, fmt.Errorf("network for pod %s: %w", sb.Pod, err)
	}
	return res.IP, nil
}

// claim records the sandbox and its network n before any plugin runs,
// after checking that no other pod holds one of its host ports.
func (m *Manager) claim(sb Sandbox, netns string, n cni.Network) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, rec := range m.recs {
		if id == sb.ID || rec.PodUID == sb.PodUID {
			continue
		}
		if err := HostPortConflict(sb.Pod, sb.Ports, rec.Pod, rec.Ports); err != nil {
			return err
		}
	}
	prev, had := m.recs[sb.ID]
	id := n.ID()
	m.networks[id] = n
	m.recs[sb.ID] = &record{Pod: sb.Pod, PodUID: sb.PodUID, NetNS: netns, Ports: sb.Ports, Network: id}
	if err := m.saveLocked(); err != nil {
		if had {
			m.recs[sb.ID] = prev
		} else {
			delete(m.recs, sb.ID)
		}
		return fmt.Errorf("network for pod %s: %w", sb.Pod, err)
	}
	return nil
}

// markReady records the sandbox's address once CNI ADD succeeded. When the
// record cannot be saved it stays "not ready" in memory too.
func (m *Manager) markReady(id string, ip netip.Addr) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec := m.recs[id]
	rec.IP, rec.Ready = ip, true
	if err := m.saveLocked(); err != nil {
		rec.IP, rec.Ready = netip.Addr{}, false
		return err
	}
	return nil
}

// undoAttach undoes the steps of a failed Attach on a context detached from
// the caller's: CNI DEL when the ADD had succeeded, then the address and the
// record. When a step fails, what it protects stays (and is logged), so
// that Detach or Reconcile finishes it.
func (m *Manager) undoAttach(ctx context.Context, sb Sandbox, added bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	if added {
		if err := m.del(ctx, sb.ID, sb.Pid); err != nil {
			m.log.Warn("CNI DEL undoing a failed attach failed; the record and address stay until the sandbox is removed",
				"pod", sb.Pod, "sandbox_id", short(sb.ID), "error", err)
			return
		}
	}
	if err := m.addrs.Release(sb.ID); err != nil {
		m.log.Warn("release the address of a failed attach; released when the sandbox is removed", "pod", sb.Pod, "sandbox_id", short(sb.ID), "error", err)
		return
	}
	m.forget(sb.ID)
}

// HostPortConflict returns the error for the first of ports (of pod) that
// collides with one of heldPorts (of holder), or nil. The Manager refuses
// such an Attach; net/fake uses it to answer alike.
func HostPortConflict(pod string, ports []cni.PortMapping, holder string, heldPorts []cni.PortMapping) error {
	for _, want := range ports {
		for _, have := range heldPorts {
			if want.CollidesWith(have) {
				return fmt.Errorf("hostPort %d/%s of pod %s is already used by pod %s", want.HostPort, want.Proto(), pod, holder)
			}
		}
	}
	return nil
}
