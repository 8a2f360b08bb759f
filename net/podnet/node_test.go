package podnet

import (
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/runner-dev/runner/net/cni"
)

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

// The node serves the current range, and an earlier disjoint one while its
// pods run; a widened range replaces the one it widens.
func TestNodeServesCurrentAndHeldRanges(t *testing.T) {
	e := newEnv(t)
	if err := e.m.Reconcile(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := e.nodes.servedBy("rtest0"); !slices.Equal(got, prefixes("10.219.250.0/24")) {
		t.Fatalf("served at start: %v", got)
	}
	if _, err := e.m.Attach(t.Context(), sandbox(1)); err != nil {
		t.Fatal(err)
	}
	e.cfg.CIDR = netip.MustParsePrefix("10.219.7.0/24")
	e.restart()
	if err := e.m.Reconcile(t.Context(), map[string]int{"sb-1": 1001}); err != nil {
		t.Fatal(err)
	}
	if got := e.nodes.servedBy("rtest0"); !slices.Equal(got, prefixes("10.219.7.0/24", "10.219.250.0/24")) {
		t.Errorf("served after a disjoint change, with a pod of the old range: %v", got)
	}
	if err := e.m.Detach(t.Context(), "sb-1", 0); err != nil {
		t.Fatal(err)
	}
	if err := e.m.EnsureNode(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.nodes.servedBy("rtest0"); !slices.Equal(got, prefixes("10.219.7.0/24")) {
		t.Errorf("served once the old range's last pod went: %v", got)
	}
	if owned := e.nodes.owned["rtest0"]; !slices.Contains(owned, netip.MustParsePrefix("10.219.250.0/24")) {
		t.Errorf("Owned %v lacks the dropped range: its address would stay on the bridge", owned)
	}
	e.restart()
	if err := e.m.EnsureNode(t.Context()); err != nil {
		t.Fatal(err)
	}
	if owned := e.nodes.owned["rtest0"]; !slices.Contains(owned, netip.MustParsePrefix("10.219.7.0/24")) {
		t.Errorf("after a restart, Owned %v lacks the range served before it", owned)
	}
	if _, err := e.m.Attach(t.Context(), sandbox(2)); err != nil {
		t.Fatal(err)
	}
	e.cfg.CIDR = netip.MustParsePrefix("10.219.6.0/23")
	err := e.tryRestart()
	if err == nil {
		t.Fatal("a /23 starting elsewhere than the /24 it holds was accepted")
	}
}

func TestNodeWidenedRange(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Attach(t.Context(), sandbox(1)); err != nil {
		t.Fatal(err)
	}
	e.cfg.CIDR = netip.MustParsePrefix("10.219.250.0/23")
	e.restart()
	if err := e.m.Reconcile(t.Context(), map[string]int{"sb-1": 1001}); err != nil {
		t.Fatal(err)
	}
	if got := e.nodes.servedBy("rtest0"); !slices.Equal(got, prefixes("10.219.250.0/23")) {
		t.Errorf("served after widening: %v, want the /23 alone", got)
	}
	if ip, ok := e.m.IP("sb-1"); !ok || !e.cfg.CIDR.Contains(ip) {
		t.Errorf("the running pod's address %v %v", ip, ok)
	}
}

// The first Attach sets the node up; when that fails, the Attach fails and
// leaves nothing, and the next one tries again. A repair after the first
// set-up is a warning.
func TestNodeSetUpBeforeFirstAttach(t *testing.T) {
	e := newEnv(t)
	boom := errors.New("xtables lock held")
	e.nodes.failNext = boom
	if _, err := e.m.Attach(t.Context(), sandbox(1)); !errors.Is(err, boom) {
		t.Fatalf("Attach with the node set-up failing = %v", err)
	}
	e.assertHolds()
	if _, err := e.m.Attach(t.Context(), sandbox(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Attach(t.Context(), sandbox(2)); err != nil {
		t.Fatal(err)
	}
	if e.nodes.ensures != 2 {
		t.Errorf("%d node set-ups for three Attaches (one failed), want 2", e.nodes.ensures)
	}
	if len(e.log.warnings("restored")) != 0 {
		t.Error("the first set-up was logged as a repair")
	}
	e.nodes.remove(t.Context(), cni.Node{Bridge: "rtest0"}) // deleted by hand
	if err := e.m.EnsureNode(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(e.log.warnings("restored")) != 1 || !slices.Equal(e.nodes.servedBy("rtest0"), prefixes("10.219.250.0/24")) {
		t.Errorf("repair: warnings %v, served %v", e.log.warnings("restored"), e.nodes.servedBy("rtest0"))
	}
}

// With the cni plugin and no pod of runner's own network, the node is left
// alone; with one, its range is still served.
func TestNodeUnderTheCNIPlugin(t *testing.T) {
	e := newEnv(t)
	e.cfg.NetworkPlugin, e.cfg.ConfDir = cni.CNI, podmanConf(t)
	e.restart()
	if err := e.m.Reconcile(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Attach(t.Context(), sandbox(1)); err != nil {
		t.Fatal(err)
	}
	if e.nodes.ensures != 0 {
		t.Errorf("%d node set-ups under the cni plugin", e.nodes.ensures)
	}
	e.cfg.NetworkPlugin = ""
	e.restart()
	if _, err := e.m.Attach(t.Context(), sandbox(2)); err != nil {
		t.Fatal(err)
	}
	e.cfg.NetworkPlugin = cni.CNI
	e.restart()
	if err := e.m.EnsureNode(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := e.nodes.servedBy("rtest0"); !slices.Equal(got, prefixes("10.219.250.0/24")) {
		t.Errorf("a kubenet pod under the cni plugin: served %v", got)
	}
}

// A pod with hostPorts is attached with portmap in its list, one without is
// not; each record keeps its list.
func TestPortmapOnlyForHostPorts(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.Attach(t.Context(), sandbox(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Attach(t.Context(), sandbox(2, cni.PortMapping{HostPort: 8080, ContainerPort: 80})); err != nil {
		t.Fatal(err)
	}
	file := readState(t, e.dir)
	for sb, want := range map[string]bool{"sb-1": false, "sb-2": true} {
		n := file.Networks[file.Sandboxes[sb].Network]
		var list struct {
			Plugins []struct {
				Type string `json:"type"`
			} `json:"plugins"`
		}
		if err := json.Unmarshal(n.Config, &list); err != nil {
			t.Fatal(err)
		}
		has := slices.ContainsFunc(list.Plugins, func(p struct {
			Type string `json:"type"`
		}) bool {
			return p.Type == "portmap"
		})
		if has != want || list.Plugins[0].Type != "bridge" || len(list.Plugins) > 2 {
			t.Errorf("%s's list %s: portmap %v, want %v", sb, n.Config, has, want)
		}
	}
}

// Attaches run beside the loop's EnsureNode (a relist) and each other: every
// sandbox gets its own address, the node is set up once.
func TestConcurrentAttachAndEnsureNode(t *testing.T) {
	e := newEnv(t)
	errs := make(chan error, 16)
	for n := range 8 {
		go func() {
			_, err := e.m.Attach(t.Context(), sandbox(n))
			errs <- err
		}()
		go func() { errs <- e.m.EnsureNode(t.Context()) }()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[netip.Addr]bool{}
	for n := range 8 {
		ip, ok := e.m.IP(sandbox(n).ID)
		if !ok || seen[ip] {
			t.Fatalf("sandbox %d: address %v %v (duplicate or none)", n, ip, ok)
		}
		seen[ip] = true
	}
	if got := e.nodes.servedBy("rtest0"); !slices.Equal(got, prefixes("10.219.250.0/24")) {
		t.Errorf("served %v", got)
	}
}
