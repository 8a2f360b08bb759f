package podnet

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/net/cni"
	"github.com/runner-dev/runner/net/internal/nettest"
)

// hostNet is one integration test's world: runner's own bridge and range,
// and a conf dir holding a foreign list of podman's shape on a bridge and
// range of its own (its host-local IPAM keeps its state in a temp dir). All
// names carry the test's run id.
type hostNet struct {
	runID      string
	pluginDir  string
	dir        string // the Manager's state
	ownBridge  string
	ownCIDR    netip.Prefix
	confDir    string
	podBridge  string
	podCIDR    netip.Prefix
	hostLocal  string // host-local's data dir
	foreignNet string // the foreign list's name
}

func newHostNet(t *testing.T) *hostNet {
	t.Helper()
	pluginDir := nettest.NeedNetAdmin(t, "bridge", "static", "firewall", "portmap", "loopback", "host-local", "tuning")
	id := nettest.RunID(t)
	n := byte(id[0])%100 + 100
	h := &hostNet{
		runID: id, pluginDir: pluginDir, dir: t.TempDir(),
		ownBridge: "rp" + id, ownCIDR: netip.MustParsePrefix(fmt.Sprintf("10.219.%d.0/24", n)),
		confDir: t.TempDir(), podBridge: "rq" + id, podCIDR: netip.MustParsePrefix(fmt.Sprintf("10.219.%d.0/24", n+100)),
		hostLocal: t.TempDir(), foreignNet: "podman-" + id,
	}
	conf := fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": %q,
  "plugins": [
    {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": %q, "routes": [{"dst": "0.0.0.0/0"}], "ranges": [[{"subnet": %q}]]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "firewall"},
    {"type": "tuning"}
  ]
}`, h.foreignNet, h.podBridge, h.hostLocal, h.podCIDR)
	if err := os.WriteFile(filepath.Join(h.confDir, "87-podman-bridge.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, br := range []string{h.ownBridge, h.podBridge} {
			_ = exec.Command("ip", "link", "del", br).Run()
		}
	})
	return h
}

// manager starts a Manager (a runner) with --network-plugin plugin.
func (h *hostNet) manager(t *testing.T, plugin string) *Manager {
	t.Helper()
	m, err := New(Config{Dir: h.dir, NetworkPlugin: plugin, CIDR: h.ownCIDR, BridgeName: h.ownBridge,
		ConfDir: h.confDir, BinDirs: []string{h.pluginDir}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Reconcile(ctxT(t), h.live(t)); err != nil {
		t.Fatal(err)
	}
	return m
}

// live is every sandbox of the test: none is gone.
func (h *hostNet) live(t *testing.T) map[string]int {
	t.Helper()
	live := map[string]int{}
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		if strings.Contains(e.Name(), h.runID) {
			live["sb-"+e.Name()] = 0
		}
	}
	return live
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// attach attaches a new sandbox (namespace and process) and makes sure
// cleanup detaches it.
func (h *hostNet) attach(t *testing.T, m *Manager, suffix string) (Sandbox, netip.Addr) {
	t.Helper()
	ns := "rtest-" + h.runID + "-" + suffix
	sb := Sandbox{ID: "sb-" + ns, Pid: nettest.Sandbox(t, ns), Pod: "default/" + suffix, PodUID: "uid-" + suffix}
	// Before the namespace goes (cleanups run last first): a runner
	// started afresh detaches the sandbox, whatever the test did.
	t.Cleanup(func() {
		m, err := New(Config{Dir: h.dir, CIDR: h.ownCIDR, BridgeName: h.ownBridge, BinDirs: []string{h.pluginDir}})
		if err == nil {
			err = m.Detach(context.Background(), sb.ID, sb.Pid)
		}
		if err != nil {
			t.Errorf("cleanup: detach %s: %v", sb.ID, err)
		}
	})
	ip, err := m.Attach(ctxT(t), sb)
	if err != nil {
		t.Fatal(err)
	}
	if out := nettest.Run(t, "ip", "-n", ns, "-4", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(out, " "+ip.String()+"/") {
		t.Fatalf("eth0 of %s lacks %s: %s", ns, ip, out)
	}
	return sb, ip
}

// vethsOn counts the interfaces enslaved to bridge.
func vethsOn(bridge string) int {
	out, err := exec.Command("ip", "-o", "link", "show", "master", bridge).Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return 0
	}
	return len(strings.Split(strings.TrimSpace(string(out)), "\n"))
}

// hostLocalHolds reports whether host-local keeps a reservation of ip.
func (h *hostNet) hostLocalHolds(ip netip.Addr) bool {
	_, err := os.Stat(filepath.Join(h.hostLocal, h.foreignNet, ip.String()))
	return err == nil
}

// With a foreign list of podman's shape in the conf dir: the default runs
// pods on runner's own bridge and range; --network-plugin=cni on the list;
// and a pod attached under one plugin is detached with its own network after
// runner restarted under the other — both ways, with nothing left.
func TestForeignConflistAndSwitchingPlugins(t *testing.T) {
	h := newHostNet(t)

	own := h.manager(t, "")
	a, ipA := h.attach(t, own, "a")
	if !h.ownCIDR.Contains(ipA) || vethsOn(h.ownBridge) != 1 || nettest.LinkExists(h.podBridge) {
		t.Fatalf("default network: %s on %s (%d veths), foreign bridge exists: %v; want runner's %s only",
			ipA, h.ownBridge, vethsOn(h.ownBridge), nettest.LinkExists(h.podBridge), h.ownCIDR)
	}

	user := h.manager(t, cni.CNI)
	b, ipB := h.attach(t, user, "b")
	if !h.podCIDR.Contains(ipB) || vethsOn(h.podBridge) != 1 || !h.hostLocalHolds(ipB) {
		t.Fatalf("cni network: %s on %s (%d veths, host-local holds it: %v); want the list's %s",
			ipB, h.podBridge, vethsOn(h.podBridge), h.hostLocalHolds(ipB), h.podCIDR)
	}
	// a, attached under kubenet, is detached with kubenet's list.
	if err := user.Detach(ctxT(t), a.ID, a.Pid); err != nil {
		t.Fatal(err)
	}
	if vethsOn(h.ownBridge) != 0 {
		t.Errorf("a's veth left on %s", h.ownBridge)
	}

	again := h.manager(t, "")
	if _, ok := again.addrs.Lookup(a.ID); ok {
		t.Errorf("a's address %s still allocated", ipA)
	}
	// b, attached under cni, is detached with the foreign list.
	if err := again.Detach(ctxT(t), b.ID, b.Pid); err != nil {
		t.Fatal(err)
	}
	if vethsOn(h.podBridge) != 0 || h.hostLocalHolds(ipB) {
		t.Errorf("b left: %d veths on %s, host-local holds %s: %v", vethsOn(h.podBridge), h.podBridge, ipB, h.hostLocalHolds(ipB))
	}
	if got := again.Attached(); len(got) != 0 {
		t.Errorf("records left: %v", got)
	}
	for _, ns := range []string{"a", "b"} {
		if nettest.Succeeds("ip", "-n", "rtest-"+h.runID+"-"+ns, "link", "show", "eth0") {
			t.Errorf("eth0 left in %s's namespace", ns)
		}
	}
}
