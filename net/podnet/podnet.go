// Package podnet gives pod sandboxes their network: an address from the
// PodCIDR (net/ipam), CNI ADD/DEL (net/cni) and host ports that never
// collide between pods. It keeps a record of every sandbox it attached under
// the root dir, written before CNI runs, so a runner killed at any moment
// finds, at its next start, every attachment it has to undo: no address,
// veth or iptables rule ever leaks.
//
// The reconcile loop's workers call Attach after a sandbox's pause process
// started and Detach before the sandbox is removed (also when its process is
// gone); the loop calls Reconcile once at start with the sandboxes that exist.
package podnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/runner-dev/runner/internal/fsutil"
	"github.com/runner-dev/runner/net/cni"
	"github.com/runner-dev/runner/net/ipam"
)

// Config configures a Manager.
type Config struct {
	// Dir holds the state files (e.g. <root-dir>/net).
	Dir string
	// CIDR is the PodCIDR; zero: ipam.DefaultCIDR.
	CIDR netip.Prefix
	// BinDirs, ConfDir and BridgeName are passed to net/cni.
	BinDirs    []string
	ConfDir    string
	BridgeName string
	Logger     *slog.Logger
}

// Sandbox is what Attach needs to know of a pod sandbox.
type Sandbox struct {
	ID     string // the sandbox container's ID: the owner of the address
	Pid    int    // its pause process
	Pod    string // namespace/name, for messages
	PodUID string
	Ports  []cni.PortMapping
}

// record is what is kept of an attached sandbox.
type record struct {
	Pod    string            `json:"pod"`
	PodUID string            `json:"podUID"`
	NetNS  string            `json:"netns"`
	IP     netip.Addr        `json:"ip,omitzero"`
	Ports  []cni.PortMapping `json:"ports,omitempty"`
	Ready  bool              `json:"ready"`
}

// Manager attaches and detaches sandboxes. Safe for concurrent use.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	ipam  *ipam.Allocator
	cni   *cni.Plugin
	mu    sync.Mutex
	recs  map[string]*record // sandbox ID → record
	path  string
	ports sync.Mutex // serialises the host-port check with the record write
}

// New loads the state and sets up CNI; it runs no plugin.
func New(cfg Config) (*Manager, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if !cfg.CIDR.IsValid() {
		cfg.CIDR = netip.MustParsePrefix(ipam.DefaultCIDR)
	}
	cfg.CIDR = cfg.CIDR.Masked()
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("pod network state dir: %w", err)
	}
	alloc, err := ipam.New(ipam.Config{CIDR: cfg.CIDR, Store: ipam.NewFileStore(filepath.Join(cfg.Dir, "ipam.json"))})
	if err != nil {
		return nil, err
	}
	plugin, err := cni.New(cni.Config{
		BinDirs: cfg.BinDirs, ConfDir: cfg.ConfDir, CacheDir: filepath.Join(cfg.Dir, "cni-cache"),
		BridgeName: cfg.BridgeName, CIDR: cfg.CIDR, Gateway: alloc.Gateway(),
	})
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, ipam: alloc, cni: plugin, recs: map[string]*record{}, path: filepath.Join(cfg.Dir, "sandboxes.json")}
	if err := m.load(); err != nil {
		return nil, err
	}
	return m, nil
}

// Description says which network config is in use, for the start-up log.
func (m *Manager) Description() string { return m.cni.Description() }

// CIDR is the PodCIDR addresses come from (with runner's own config).
func (m *Manager) CIDR() netip.Prefix { return m.cfg.CIDR }

// Attach gives a started sandbox its network and returns its address. A
// failure undoes everything it did. Called by a worker.
func (m *Manager) Attach(ctx context.Context, sb Sandbox) (netip.Addr, error) {
	netns := "/proc/" + strconv.Itoa(sb.Pid) + "/ns/net"
	if err := m.claim(sb, netns); err != nil {
		return netip.Addr{}, err
	}
	var ip netip.Addr
	if m.cni.UserConfig() == "" {
		var err error
		if ip, err = m.ipam.Allocate(sb.ID); err != nil {
			m.forget(sb.ID)
			if errors.Is(err, ipam.ErrExhausted) {
				return netip.Addr{}, fmt.Errorf("no pod IP left for %s: %w (release comes with pod removal; widen --pod-cidr)", sb.Pod, err)
			}
			return netip.Addr{}, fmt.Errorf("allocate pod IP for %s: %w", sb.Pod, err)
		}
	}
	res, err := m.cni.Attach(ctx, cni.AttachRequest{
		ID: sb.ID, NetNS: netns, IfName: "eth0", IP: ip, PortMappings: sb.Ports,
		PodNamespace: podNamespace(sb.Pod), PodName: podName(sb.Pod), PodUID: sb.PodUID,
	})
	if err != nil {
		if rerr := m.ipam.Release(sb.ID); rerr != nil {
			m.log.Warn("release the address of a failed attach; released when the sandbox is removed", "pod", sb.Pod, "sandbox_id", short(sb.ID), "error", rerr)
		}
		m.forget(sb.ID)
		return netip.Addr{}, fmt.Errorf("network for pod %s: %w", sb.Pod, err)
	}
	m.mu.Lock()
	rec := m.recs[sb.ID]
	rec.IP, rec.Ready = res.IP, true
	err = m.saveLocked()
	m.mu.Unlock()
	if err != nil {
		return netip.Addr{}, err
	}
	return res.IP, nil
}

// claim records the sandbox before any plugin runs, after checking that no
// other pod holds one of its host ports.
func (m *Manager) claim(sb Sandbox, netns string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, rec := range m.recs {
		if id == sb.ID || rec.PodUID == sb.PodUID {
			continue
		}
		for _, want := range sb.Ports {
			for _, have := range rec.Ports {
				if portsCollide(want, have) {
					return fmt.Errorf("hostPort %d/%s of pod %s is already used by pod %s", want.HostPort, proto(want), sb.Pod, rec.Pod)
				}
			}
		}
	}
	m.recs[sb.ID] = &record{Pod: sb.Pod, PodUID: sb.PodUID, NetNS: netns, Ports: sb.Ports}
	if err := m.saveLocked(); err != nil {
		delete(m.recs, sb.ID)
		return err
	}
	return nil
}

func portsCollide(a, b cni.PortMapping) bool {
	if a.HostPort != b.HostPort || proto(a) != proto(b) {
		return false
	}
	return a.HostIP == "" || b.HostIP == "" || a.HostIP == "0.0.0.0" || b.HostIP == "0.0.0.0" || a.HostIP == b.HostIP
}

func proto(p cni.PortMapping) string {
	if p.Protocol == "" {
		return "tcp"
	}
	return strings.ToLower(p.Protocol)
}

func (m *Manager) forget(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, id)
	if err := m.saveLocked(); err != nil {
		m.log.Warn("save pod network state", "error", err)
	}
}

// Detach undoes Attach: CNI DEL (into the sandbox's namespace while its
// process lives, else with no namespace so plugins still clean the host
// side), then releases the address. Idempotent; nothing to undo is success.
// A failure is logged here as well as returned, so that no caller can drop
// it; the record and the address stay for a retry. Bounded by the CNI
// timeouts (cni.Config.Timeout).
// pid is the pause process, 0 when it is gone. Called by a worker.
func (m *Manager) Detach(ctx context.Context, sandboxID string, pid int) error {
	m.mu.Lock()
	rec, known := m.recs[sandboxID]
	m.mu.Unlock()
	_, allocated := m.ipam.Lookup(sandboxID)
	if !known && !allocated {
		return nil
	}
	req := cni.DetachRequest{ID: sandboxID, IfName: "eth0"}
	if known {
		req.IP, req.PortMappings = rec.IP, rec.Ports
		req.PodNamespace, req.PodName, req.PodUID = podNamespace(rec.Pod), podName(rec.Pod), rec.PodUID
		if pid > 0 && rec.NetNS == "/proc/"+strconv.Itoa(pid)+"/ns/net" {
			req.NetNS = rec.NetNS
		}
	}
	if ip, ok := m.ipam.Lookup(sandboxID); ok && !req.IP.IsValid() {
		req.IP = ip
	}
	if err := m.cni.Detach(ctx, req); err != nil {
		m.log.Warn("CNI DEL failed; the sandbox keeps its address and record until a retry succeeds", "sandbox_id", short(sandboxID), "error", err)
		return fmt.Errorf("remove network of sandbox %s: %w", short(sandboxID), err)
	}
	if err := m.ipam.Release(sandboxID); err != nil {
		m.log.Warn("release of a detached sandbox's address failed; retried with the next Detach", "sandbox_id", short(sandboxID), "error", err)
		return fmt.Errorf("release IP of sandbox %s: %w", short(sandboxID), err)
	}
	m.forget(sandboxID)
	return nil
}

// IP is the address of an attached sandbox; ok is false while it is not
// (fully) attached.
func (m *Manager) IP(sandboxID string) (netip.Addr, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.recs[sandboxID]
	if !ok || !rec.Ready {
		return netip.Addr{}, false
	}
	return rec.IP, true
}

// Reconcile undoes every attachment whose sandbox no longer exists. live
// maps the IDs of the sandboxes that exist to their pause pid (0: not
// running). Called once at start, before any Attach.
func (m *Manager) Reconcile(ctx context.Context, live map[string]int) error {
	m.mu.Lock()
	var gone []string
	for id := range m.recs {
		if _, ok := live[id]; !ok {
			gone = append(gone, id)
		}
	}
	m.mu.Unlock()
	for id := range m.ipam.Allocations() {
		if _, ok := live[id]; !ok && !contains(gone, id) {
			gone = append(gone, id)
		}
	}
	sort.Strings(gone)
	var errs []error
	for _, id := range gone {
		if err := m.Detach(ctx, id, 0); err != nil {
			errs = append(errs, err)
			continue
		}
		m.log.Info("released the network of a sandbox that is gone", "sandbox_id", short(id))
	}
	return errors.Join(errs...)
}

// Attached lists the sandbox IDs with a record (for tests and status).
func (m *Manager) Attached() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.recs))
	for id := range m.recs {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func podNamespace(key string) string { ns, _, _ := strings.Cut(key, "/"); return ns }
func podName(key string) string      { _, n, _ := strings.Cut(key, "/"); return n }

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

type stateFile struct {
	Version   int                `json:"version"`
	Sandboxes map[string]*record `json:"sandboxes"`
}

func (m *Manager) load() error {
	data, err := os.ReadFile(m.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read pod network state: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("pod network state %s is corrupt: %w", m.path, err)
	}
	if st.Version != 1 {
		return fmt.Errorf("pod network state %s has version %d; this runner reads version 1", m.path, st.Version)
	}
	if st.Sandboxes != nil {
		m.recs = st.Sandboxes
	}
	return nil
}

// saveLocked writes the records atomically; m.mu must be held.
func (m *Manager) saveLocked() error {
	data, err := json.MarshalIndent(stateFile{Version: 1, Sandboxes: m.recs}, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(m.path, data, 0o600); err != nil {
		return fmt.Errorf("save pod network state: %w", err)
	}
	return nil
}
