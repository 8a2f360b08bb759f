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
		// What runner's uninstall removes, then the foreign list's bridge.
		if _, err := Uninstall(context.Background(), h.config("")); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		_ = exec.Command("ip", "link", "del", h.podBridge).Run()
	})
	return h
}

// config is the Manager's configuration under --network-plugin plugin.
func (h *hostNet) config(plugin string) Config {
	return Config{Dir: h.dir, NetworkPlugin: plugin, CIDR: h.ownCIDR, BridgeName: h.ownBridge,
		ConfDir: h.confDir, BinDirs: []string{h.pluginDir}}
}

// manager starts a Manager (a runner) with --network-plugin plugin.
func (h *hostNet) manager(t *testing.T, plugin string) *Manager {
	t.Helper()
	m, err := New(h.config(plugin))
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
func (h *hostNet) attach(t *testing.T, m *Manager, suffix string, ports ...cni.PortMapping) (Sandbox, netip.Addr) {
	t.Helper()
	ns := "rtest-" + h.runID + "-" + suffix
	sb := Sandbox{ID: "sb-" + ns, Pid: nettest.Sandbox(t, ns), Pod: "default/" + suffix, PodUID: "uid-" + suffix, Ports: ports}
	// Before the namespace goes (cleanups run last first): a runner
	// started afresh detaches the sandbox, whatever the test did.
	t.Cleanup(func() {
		m, err := New(h.config(""))
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

// hostRules lists the iptables rules of every table that mention s.
func hostRules(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	for _, table := range []string{"nat", "filter"} {
		for _, line := range strings.Split(nettest.Run(t, "iptables", "-w", "-t", table, "-S"), "\n") {
			if strings.Contains(line, s) {
				out = append(out, table+": "+line)
			}
		}
	}
	return out
}

// The once-per-node set-up of runner's own network is made at start, kept
// out of the pods' ADDs (no rule names a pod without hostPorts), restored
// by EnsureNode after it was deleted by hand, and by a restarted runner.
func TestOncePerNodeSetUpIsRestored(t *testing.T) {
	h := newHostNet(t)
	m := h.manager(t, "")     // Reconcile: EnsureNode
	ours := "-" + h.ownBridge // the node's chains end with the bridge's name
	node := hostRules(t, ours)
	if len(node) < 4 || !nettest.LinkExists(h.ownBridge) {
		t.Fatalf("after start: bridge %v, rules %v", nettest.LinkExists(h.ownBridge), node)
	}
	sb, ip := h.attach(t, m, "a")
	if rules := hostRules(t, ip.String()+"/32"); len(rules) != 0 {
		t.Errorf("rules for the pod's address: %v", rules)
	}
	if rules := hostRules(t, sb.ID); len(rules) != 0 {
		t.Errorf("rules naming the pod: %v", rules)
	}
	deleteNodeRules := func() {
		nettest.Run(t, "iptables", "-w", "-t", "nat", "-D", "POSTROUTING", "-j", "RUNNER-MASQ-"+h.ownBridge)
		nettest.Run(t, "iptables", "-w", "-F", "RUNNER-FWD-"+h.ownBridge)
		nettest.Run(t, "ip", "addr", "flush", "dev", h.ownBridge)
	}
	deleteNodeRules()
	if err := m.EnsureNode(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := hostRules(t, ours); strings.Join(got, "\n") != strings.Join(node, "\n") {
		t.Errorf("after EnsureNode:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(node, "\n"))
	}
	deleteNodeRules()
	h.manager(t, "") // a restarted runner
	if got := hostRules(t, ours); strings.Join(got, "\n") != strings.Join(node, "\n") {
		t.Errorf("after a restart:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(node, "\n"))
	}
	if out := nettest.Run(t, "ip", "-4", "-o", "addr", "show", "dev", h.ownBridge); !strings.Contains(out, netip.PrefixFrom(h.ownCIDR.Addr().Next(), 24).String()) {
		t.Errorf("bridge address not restored: %s", out)
	}
	// The pod reaches its gateway again.
	if !nettest.Succeeds("ip", "netns", "exec", "rtest-"+h.runID+"-a", "/bin/busybox", "ping", "-c", "1", "-W", "2", h.ownCIDR.Addr().Next().String()) {
		t.Error("the pod cannot reach the bridge after the restore")
	}
}

// runner cleanup-network: with pods attached (one with a hostPort), nothing
// of runner's network is left: no rule, no bridge, no veth, no record, no
// address.
func TestUninstallLeavesNothing(t *testing.T) {
	h := newHostNet(t)
	m := h.manager(t, "")
	a, _ := h.attach(t, m, "a")
	b, _ := h.attach(t, m, "b", cni.PortMapping{HostPort: nettest.FreePort(t), ContainerPort: 8080, HostIP: "127.0.0.1"})
	if len(hostRules(t, b.ID)) == 0 {
		t.Fatal("no hostPort rule for b: the test would prove nothing")
	}
	rep, err := Uninstall(ctxT(t), h.config(""))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.Detached, ",") != a.ID+","+b.ID || strings.Join(rep.Bridges, ",") != h.ownBridge {
		t.Errorf("report %+v", rep)
	}
	for _, s := range []string{"-" + h.ownBridge, a.ID, b.ID, h.ownCIDR.String()} {
		if rules := hostRules(t, s); len(rules) != 0 {
			t.Errorf("rules naming %s left: %v", s, rules)
		}
	}
	if nettest.LinkExists(h.ownBridge) {
		t.Errorf("bridge %s left", h.ownBridge)
	}
	for _, ns := range []string{"a", "b"} {
		if nettest.Succeeds("ip", "-n", "rtest-"+h.runID+"-"+ns, "link", "show", "eth0") {
			t.Errorf("veth left in %s", ns)
		}
	}
	again := h.manager(t, "")
	if got := again.Attached(); len(got) != 0 {
		t.Errorf("records left: %v", got)
	}
	if got := again.addrs.Allocations(); len(got) != 0 {
		t.Errorf("addresses left: %v", got)
	}
}
