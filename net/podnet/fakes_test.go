package podnet

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/runner-dev/runner/net/cni"
	"github.com/runner-dev/runner/net/ipam"
)

// fakeCNI stands for net/cni: it keeps which sandboxes are attached, counts
// ADDs and DELs, and fails the next call of a method once. Like the real
// Plugin, a failed ADD leaves nothing attached and DEL is idempotent.
type fakeCNI struct {
	mu       sync.Mutex
	attached map[string]netip.Addr
	adds     int
	dels     int
	failNext map[string]error // "Attach" or "Detach"
}

func newFakeCNI() *fakeCNI {
	return &fakeCNI{attached: map[string]netip.Addr{}, failNext: map[string]error{}}
}

func (f *fakeCNI) fail(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext[method] = err
}

func (f *fakeCNI) takeFailure(method string) error {
	err := f.failNext[method]
	delete(f.failNext, method)
	return err
}

func (f *fakeCNI) Attach(_ context.Context, req cni.AttachRequest) (cni.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.adds++
	if err := f.takeFailure("Attach"); err != nil {
		return cni.Result{}, err
	}
	f.attached[req.ID] = req.IP
	return cni.Result{IP: req.IP, Interface: "eth0"}, nil
}

func (f *fakeCNI) Detach(_ context.Context, req cni.DetachRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dels++
	if err := f.takeFailure("Detach"); err != nil {
		return err
	}
	delete(f.attached, req.ID)
	return nil
}

func (f *fakeCNI) attachedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.attached))
}

// flakyStore is the real file store that can fail its n-th next Save once.
type flakyStore struct {
	fileStore
	mu     sync.Mutex
	failIn int // fail when it counts down to 1; 0: never
	err    error
}

// failSave makes the n-th Save from now (1: the next) fail with err.
func (s *flakyStore) failSave(n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failIn, s.err = n, err
}

func (s *flakyStore) Save(st state) error {
	s.mu.Lock()
	if s.failIn > 0 {
		s.failIn--
		if s.failIn == 0 {
			s.mu.Unlock()
			return s.err
		}
	}
	s.mu.Unlock()
	return s.fileStore.Save(st)
}

// logRecorder keeps the log records of a test.
type logRecorder struct {
	mu   sync.Mutex
	recs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, b.String())
	return nil
}

// warnings returns the WARN records that mention s.
func (l *logRecorder) warnings(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if strings.HasPrefix(r, "WARN ") && strings.Contains(r, s) {
			out = append(out, r)
		}
	}
	return out
}

// env is a Manager on fakes: the real allocator on a MemStore (which can
// fail a save), a fake CNI per network and the real record file behind
// flakyStore.
type env struct {
	t       *testing.T
	dir     string
	ipStore *ipam.MemStore
	alloc   *ipam.Allocator
	cni     *fakeCNI // the current network's
	fakes   map[string]*fakeCNI
	store   *flakyStore
	nodes   *fakeNodes
	log     *logRecorder
	m       *Manager
	cfg     Config
	current cni.Network
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), ipStore: ipam.NewMemStore(), fakes: map[string]*fakeCNI{}, nodes: &fakeNodes{}, log: &logRecorder{}}
	e.cfg = Config{CIDR: netip.MustParsePrefix("10.219.250.0/24"), BridgeName: "rtest0", Dir: e.dir, Logger: slog.New(e.log)}
	e.store = &flakyStore{fileStore: fileStore{path: filepath.Join(e.dir, "sandboxes.json")}}
	e.restart()
	return e
}

// restart builds a new Manager on the same state, as a restarted runner
// with e.cfg.
func (e *env) restart() {
	e.t.Helper()
	if err := e.tryRestart(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) tryRestart() error {
	var err error
	if e.alloc, err = ipam.New(ipam.Config{CIDR: e.cfg.CIDR, Store: e.ipStore}); err != nil {
		return err
	}
	choice, err := chooseNetwork(e.cfg)
	if err != nil {
		return err
	}
	e.current = choice.Network
	e.cni = e.fakeFor(e.current)
	e.m, err = newManager(e.cfg, e.alloc, e.store, choice, func(n cni.Network) (attacher, error) { return e.fakeFor(n), nil }, true)
	if err != nil {
		return err
	}
	e.m.ensureNode = e.nodes.ensure
	e.m.removeNode = e.nodes.remove
	return nil
}

// fakeNodes stands for cni.EnsureNode and cni.RemoveNode: it keeps the
// ranges each bridge was last set up with, and can fail the next Ensure.
type fakeNodes struct {
	mu       sync.Mutex
	served   map[string][]netip.Prefix
	owned    map[string][]netip.Prefix // the Owned of the last Ensure
	ensures  int
	failNext error
}

func (f *fakeNodes) ensure(_ context.Context, n cni.Node) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ensures++
	if err := f.failNext; err != nil {
		f.failNext = nil
		return nil, err
	}
	if f.served == nil {
		f.served, f.owned = map[string][]netip.Prefix{}, map[string][]netip.Prefix{}
	}
	f.owned[n.Bridge] = slices.Clone(n.Owned)
	if slices.Equal(f.served[n.Bridge], n.CIDRs) {
		return nil, nil
	}
	f.served[n.Bridge] = slices.Clone(n.CIDRs)
	return []string{fmt.Sprint("set up ", n.CIDRs)}, nil
}

func (f *fakeNodes) remove(_ context.Context, n cni.Node) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.served, n.Bridge)
	return nil
}

// servedBy returns the ranges bridge was last set up with.
func (f *fakeNodes) servedBy(bridge string) []netip.Prefix {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.served[bridge])
}

// fakeFor is the fake CNI of network n; runner's own list with and without
// portmap share one.
func (e *env) fakeFor(n cni.Network) *fakeCNI {
	key := fmt.Sprint(n.Plugin, n.Name, n.File, n.Bridge, n.CIDR)
	f, ok := e.fakes[key]
	if !ok {
		f = newFakeCNI()
		e.fakes[key] = f
	}
	return f
}

// sandbox is the sandbox numbered n, of pod n.
func sandbox(n int, ports ...cni.PortMapping) Sandbox {
	return Sandbox{ID: fmt.Sprintf("sb-%d", n), Pid: 1000 + n, Pod: fmt.Sprintf("default/p%d", n), PodUID: fmt.Sprintf("uid-%d", n), Ports: ports}
}

// state is everything that could leak: records in memory and on disk,
// addresses, CNI attachments.
type leakState struct {
	records, persisted, allocated, attached []string
}

func (e *env) state() leakState {
	e.t.Helper()
	onDisk, err := e.store.fileStore.Load()
	if err != nil {
		e.t.Fatal(err)
	}
	var attached []string
	for _, f := range e.fakes {
		attached = append(attached, f.attachedIDs()...)
	}
	slices.Sort(attached)
	return leakState{
		records:   e.m.Attached(),
		persisted: slices.Sorted(maps.Keys(onDisk.recs)),
		allocated: slices.Sorted(maps.Keys(e.alloc.Allocations())),
		attached:  attached,
	}
}

// assertHolds checks that exactly ids hold a record (in memory and on disk),
// an address and a CNI attachment.
func (e *env) assertHolds(ids ...string) {
	e.t.Helper()
	want := slices.Sorted(slices.Values(ids))
	st := e.state()
	for name, got := range map[string][]string{"records": st.records, "persisted records": st.persisted,
		"allocations": st.allocated, "CNI attachments": st.attached} {
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			e.t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// assertReconcileLeavesNothing lets a restarted manager reconcile with no
// live sandbox: whatever a failure left must be undone then.
func (e *env) assertReconcileLeavesNothing() {
	e.t.Helper()
	e.restart()
	if err := e.m.Reconcile(e.t.Context(), map[string]int{}); err != nil {
		e.t.Fatalf("Reconcile: %v", err)
	}
	e.assertHolds()
}
