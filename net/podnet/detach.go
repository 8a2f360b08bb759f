package podnet

import (
	"context"
	"fmt"
	"strconv"

	"github.com/runner-dev/runner/net/cni"
)

// Detach undoes Attach: CNI DEL (into the sandbox's namespace while its
// process lives, else with no namespace so plugins still clean the host
// side), then releases the address. Idempotent; nothing to undo is success.
// A failure is logged here as well as returned, so that no caller can drop
// it; the record and the address stay for a retry. Bounded by the CNI
// timeouts (cni.Config.Timeout). pid is the pause process, 0 when it is
// gone. Called by a worker.
func (m *Manager) Detach(ctx context.Context, sandboxID string, pid int) error {
	if !m.known(sandboxID) {
		return nil
	}
	if err := m.del(ctx, sandboxID, pid); err != nil {
		m.log.Warn("CNI DEL failed; the sandbox keeps its address and record until a retry succeeds", "sandbox_id", short(sandboxID), "error", err)
		return fmt.Errorf("remove network of sandbox %s: %w", short(sandboxID), err)
	}
	if err := m.addrs.Release(sandboxID); err != nil {
		m.log.Warn("release of a detached sandbox's address failed; retried with the next Detach", "sandbox_id", short(sandboxID), "error", err)
		return fmt.Errorf("release IP of sandbox %s: %w", short(sandboxID), err)
	}
	m.forget(sandboxID)
	return nil
}

// known reports whether the sandbox has a record or an address.
func (m *Manager) known(id string) bool {
	m.mu.Lock()
	_, ok := m.recs[id]
	m.mu.Unlock()
	if !ok {
		_, ok = m.addrs.Lookup(id)
	}
	return ok
}

// del runs CNI DEL for a sandbox with the network of its ADD, from its
// record and address. The namespace is passed only while the pause process
// that Attach saw lives.
func (m *Manager) del(ctx context.Context, id string, pid int) error {
	req := cni.DetachRequest{ID: id, IfName: "eth0"}
	m.mu.Lock()
	if rec, ok := m.recs[id]; ok {
		req.IP, req.PortMappings = rec.IP, rec.Ports
		req.PodNamespace, req.PodName, req.PodUID = podNamespace(rec.Pod), podName(rec.Pod), rec.PodUID
		if pid > 0 && rec.NetNS == "/proc/"+strconv.Itoa(pid)+"/ns/net" {
			req.NetNS = rec.NetNS
		}
	}
	n, err := m.networkOfLocked(id)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	if ip, ok := m.addrs.Lookup(id); ok && !req.IP.IsValid() {
		req.IP = ip
	}
	net, err := m.attacherFor(n)
	if err != nil {
		return fmt.Errorf("network %q of the sandbox's ADD: %w", n.Name, err)
	}
	return net.Detach(ctx, req)
}

// forget removes a sandbox's record. A failed save is logged: the record is
// gone from memory and the next save drops it from the file; until then a
// restarted runner finds it and detaches again, which is harmless.
func (m *Manager) forget(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.recs[id]; !ok {
		return
	}
	delete(m.recs, id)
	if err := m.saveLocked(); err != nil {
		m.log.Warn("save pod network state", "sandbox_id", short(id), "error", err)
	}
}
