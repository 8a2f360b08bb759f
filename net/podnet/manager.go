package podnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runner-dev/runner/net/cni"
	"github.com/runner-dev/runner/net/ipam"
)

// Config configures a Manager.
type Config struct {
	// Dir holds the state files (e.g. <root-dir>/net).
	Dir string
	// NetworkPlugin is cni.Kubenet (runner's own bridge and PodCIDR; the
	// default) or cni.CNI (a network list of ConfDir).
	NetworkPlugin string
	// CIDR is the PodCIDR of runner's own network; zero: ipam.DefaultCIDR.
	// BridgeName is its bridge; zero: cni.DefaultBridgeName.
	CIDR       netip.Prefix
	BridgeName string
	// ConfDir and CNINetwork choose the list of the cni plugin (cni.Load).
	ConfDir    string
	CNINetwork string
	// BinDirs are searched for plugin binaries (cni.Config.BinDirs).
	BinDirs []string
	// CNITimeout bounds each CNI ADD and DEL (cni.Config.Timeout); zero:
	// cni.DefaultTimeout.
	CNITimeout time.Duration
	// Trace, when set, is told of every plugin and iptables run
	// (cni.Config.Trace), for measurements.
	Trace  func(cni.Call)
	Logger *slog.Logger
}

// Sandbox is what Attach needs to know of a pod sandbox.
type Sandbox struct {
	ID     string // the sandbox container's ID: the owner of the address
	Pid    int    // its pause process
	Pod    string // namespace/name, for messages
	PodUID string
	Ports  []cni.PortMapping
}

// addresses is what the Manager needs of net/ipam's Allocator.
type addresses interface {
	Allocate(owner string) (netip.Addr, error)
	Release(owner string) error
	Lookup(owner string) (netip.Addr, bool)
	Allocations() map[string]netip.Addr
}

// attacher is what the Manager needs of net/cni's Plugin.
type attacher interface {
	Attach(ctx context.Context, req cni.AttachRequest) (cni.Result, error)
	Detach(ctx context.Context, req cni.DetachRequest) error
}

// undoTimeout bounds the undo of a failed Attach, which runs on a context
// detached from the caller's (whose end may be what failed).
const undoTimeout = 15 * time.Second

// Manager attaches and detaches sandboxes. Safe for concurrent use; calls
// for one sandbox must not overlap (the loop works on a pod one step at a
// time). Each sandbox is detached with the network of its ADD, whatever the
// current one.
type Manager struct {
	cfg      Config
	log      *slog.Logger
	addrs    addresses
	store    recordStore
	choice   Choice
	current  cni.Network
	cacheDir string

	openMu sync.Mutex
	open   func(cni.Network) (attacher, error)
	opened map[string]attacher // by network ID

	mu       sync.Mutex
	recs     map[string]*record     // sandbox ID → record
	networks map[string]cni.Network // ID → network, those records refer to
}

// New chooses the network (see chooseNetwork), loads the state, and checks
// a changed PodCIDR against the pods that hold addresses (decideCIDRs); it
// runs no plugin.
func New(cfg Config) (*Manager, error) {
	if !cfg.CIDR.IsValid() {
		cfg.CIDR = netip.MustParsePrefix(ipam.DefaultCIDR)
	}
	cfg.CIDR = cfg.CIDR.Masked()
	if cfg.BridgeName == "" {
		cfg.BridgeName = cni.DefaultBridgeName
	}
	if cfg.ConfDir == "" {
		cfg.ConfDir = cni.DefaultConfDir
	}
	choice, err := chooseNetwork(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("pod network state dir: %w", err)
	}
	alloc, err := ipam.New(ipam.Config{CIDR: cfg.CIDR, Store: ipam.NewFileStore(filepath.Join(cfg.Dir, "ipam.json"))})
	if err != nil {
		return nil, err
	}
	cniCfg := cni.Config{BinDirs: cfg.BinDirs, CacheDir: filepath.Join(cfg.Dir, "cni-cache"), Timeout: cfg.CNITimeout, Trace: cfg.Trace}
	open := func(n cni.Network) (attacher, error) { return cni.Open(cniCfg, n) }
	if _, err := open(choice.Network); err != nil {
		return nil, err
	}
	return newManager(cfg, alloc, fileStore{path: filepath.Join(cfg.Dir, "sandboxes.json")}, choice, open)
}

// newManager wires a Manager from its parts, loads the state and decides
// about earlier PodCIDRs; New passes the real parts, unit tests fakes.
func newManager(cfg Config, addrs addresses, store recordStore, choice Choice, open func(cni.Network) (attacher, error)) (*Manager, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	st, err := store.Load()
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, addrs: addrs, store: store, choice: choice, current: choice.Network,
		cacheDir: filepath.Join(cfg.Dir, "cni-cache"), open: open, opened: map[string]attacher{},
		recs: st.recs, networks: st.networks}
	m.mu.Lock()
	defer m.mu.Unlock()
	if st.version == 1 {
		m.migrateLocked(m.cacheDir)
		if err := m.saveLocked(); err != nil {
			return nil, err
		}
	}
	if m.current.Plugin == cni.Kubenet {
		if m.choice.Kept, err = decideCIDRs(m.current.CIDR, m.heldCIDRsLocked()); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Choice is the network new sandboxes get and why, for the start log.
func (m *Manager) Choice() Choice { return m.choice }

// Description says in words which network new sandboxes get and why.
func (m *Manager) Description() string {
	return m.choice.Network.Plugin + ": " + m.choice.Network.Describe() + " (" + m.choice.Reason + ")"
}

// CIDR is the PodCIDR of runner's own network.
func (m *Manager) CIDR() netip.Prefix { return m.cfg.CIDR }

// Attach gives a started sandbox its network and returns its address. A
// failure undoes everything it did (see the package doc). Called by a
// worker.
func (m *Manager) Attach(ctx context.Context, sb Sandbox) (netip.Addr, error) {
	netns := "/proc/" + strconv.Itoa(sb.Pid) + "/ns/net"
	if err := m.claim(sb, netns); err != nil {
		return netip.Addr{}, err
	}
	net, err := m.attacherFor(m.current)
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

// claim records the sandbox before any plugin runs, after checking that no
// other pod holds one of its host ports.
func (m *Manager) claim(sb Sandbox, netns string) error {
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
	id := m.current.ID()
	m.networks[id] = m.current
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

// Attached lists the sandbox IDs with a record (for tests and status).
func (m *Manager) Attached() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.recs))
}

// saveLocked persists the records and the networks they refer to; m.mu
// must be held.
func (m *Manager) saveLocked() error {
	m.gcNetworksLocked()
	return m.store.Save(state{recs: m.recs, networks: m.networks})
}

func podNamespace(key string) string { ns, _, _ := strings.Cut(key, "/"); return ns }
func podName(key string) string      { _, n, _ := strings.Cut(key, "/"); return n }

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
