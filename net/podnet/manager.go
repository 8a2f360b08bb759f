package podnet

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	// served are the ranges of runner's own network the node was last set
	// up with, by bridge (persisted; state.served); owned adds the range
	// the address allocator kept before this start (a runner older than
	// the record of served ranges).
	served map[string][]netip.Prefix
	owned  []netip.Prefix

	// nodeMu serialises EnsureNode; nodeEnsured is set once it succeeded
	// (read without nodeMu, so that Attach never waits for a relist's check).
	nodeMu      sync.Mutex
	nodeEnsured atomic.Bool
	// ensureNode and removeNode are cni.EnsureNode and cni.RemoveNode (unit
	// tests replace them).
	ensureNode func(context.Context, cni.Node) ([]string, error)
	removeNode func(context.Context, cni.Node) error
}

// New chooses the network (see chooseNetwork), loads the state, and checks
// a changed PodCIDR against the pods that hold addresses (decideCIDRs); it
// runs no plugin.
func New(cfg Config) (*Manager, error) { return build(cfg, true) }

// build is New; checkCIDRs false skips decideCIDRs (Uninstall).
func build(cfg Config, checkCIDRs bool) (*Manager, error) {
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
	ipStore := ipam.NewFileStore(filepath.Join(cfg.Dir, "ipam.json"))
	before, err := ipStore.Load()
	if err != nil {
		return nil, err
	}
	alloc, err := ipam.New(ipam.Config{CIDR: cfg.CIDR, Store: ipStore})
	if err != nil {
		return nil, err
	}
	cniCfg := cni.Config{BinDirs: cfg.BinDirs, CacheDir: filepath.Join(cfg.Dir, "cni-cache"), Timeout: cfg.CNITimeout, Trace: cfg.Trace}
	open := func(n cni.Network) (attacher, error) { return cni.Open(cniCfg, n) }
	if _, err := open(choice.Network); err != nil {
		return nil, err
	}
	m, err := newManager(cfg, alloc, fileStore{path: filepath.Join(cfg.Dir, "sandboxes.json")}, choice, open, checkCIDRs)
	if err != nil {
		return nil, err
	}
	if before.CIDR.IsValid() {
		m.owned = []netip.Prefix{before.CIDR}
	}
	return m, nil
}

// newManager wires a Manager from its parts, loads the state and decides
// about earlier PodCIDRs; New passes the real parts, unit tests fakes.
func newManager(cfg Config, addrs addresses, store recordStore, choice Choice, open func(cni.Network) (attacher, error), checkCIDRs bool) (*Manager, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	st, err := store.Load()
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, addrs: addrs, store: store, choice: choice, current: choice.Network,
		cacheDir: filepath.Join(cfg.Dir, "cni-cache"), open: open, opened: map[string]attacher{},
		recs: st.recs, networks: st.networks, served: st.served, ensureNode: cni.EnsureNode, removeNode: cni.RemoveNode}
	m.mu.Lock()
	defer m.mu.Unlock()
	if st.version == 1 {
		m.migrateLocked(m.cacheDir)
		if err := m.saveLocked(); err != nil {
			return nil, err
		}
	}
	if checkCIDRs && m.current.Plugin == cni.Kubenet {
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
	return m.store.Save(state{recs: m.recs, networks: m.networks, served: m.served})
}

func podNamespace(key string) string { ns, _, _ := strings.Cut(key, "/"); return ns }
func podName(key string) string      { _, n, _ := strings.Cut(key, "/"); return n }

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
