package cni

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

func TestNodeRules(t *testing.T) {
	n := Node{Bridge: "br9", CIDRs: []netip.Prefix{netip.MustParsePrefix("10.218.0.0/24"), netip.MustParsePrefix("10.217.0.0/24")}}
	var got []string
	for _, r := range n.masqRules() {
		got = append(got, strings.Join(r, " "))
	}
	want := []string{
		"-d 10.218.0.0/24 -j RETURN", "-d 10.217.0.0/24 -j RETURN", "-d 224.0.0.0/4 -j RETURN",
		"-s 10.218.0.0/24 -j MASQUERADE", "-s 10.217.0.0/24 -j MASQUERADE",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("masquerade rules:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if g := n.gateways(); len(g) != 2 || g[0].String() != "10.218.0.1/24" || g[1].String() != "10.217.0.1/24" {
		t.Errorf("gateways = %v", g)
	}
	for _, bad := range []Node{{Bridge: "", CIDRs: n.CIDRs}, {Bridge: "a-very-long-bridge", CIDRs: n.CIDRs}, {Bridge: "br9"}} {
		if _, err := EnsureNode(t.Context(), bad); err == nil {
			t.Errorf("EnsureNode(%+v) succeeded", bad)
		}
	}
}

// nodeState is what of the node's set-up is in place.
func nodeState(t *testing.T, bridge string) string {
	t.Helper()
	var parts []string
	parts = append(parts, "addrs:"+strings.Join(strings.Fields(hostBridgeAddrs(t, bridge)), ","))
	for _, table := range []string{"nat", "filter"} {
		for _, line := range strings.Split(run(t, "iptables", "-w", "-t", table, "-S"), "\n") {
			if strings.Contains(line, "RUNNER-MASQ-"+bridge) || strings.Contains(line, "RUNNER-FWD-"+bridge) {
				parts = append(parts, table+":"+line)
			}
		}
	}
	return strings.Join(parts, "\n")
}

// hostBridgeAddrs lists the IPv4 addresses of bridge, "" when it is missing.
func hostBridgeAddrs(t *testing.T, bridge string) string {
	t.Helper()
	if !linkExists(bridge) {
		return ""
	}
	var addrs []string
	for _, f := range strings.Fields(run(t, "ip", "-4", "-o", "addr", "show", "dev", bridge)) {
		if strings.Count(f, ".") == 3 && strings.Contains(f, "/") {
			addrs = append(addrs, f)
		}
	}
	return strings.Join(addrs, " ")
}

// The node's set-up is made once, a second EnsureNode changes nothing, and
// each part deleted or changed by hand is restored; RemoveNode takes all of
// it, and the veths still on the bridge, away.
func TestEnsureNodeRestoresWhatWasDeleted(t *testing.T) {
	tn := newTestNet(t) // EnsureNode ran
	node := tn.plugin.Network().Node()
	want := nodeState(t, tn.bridge)
	for _, part := range []string{"addrs:" + tn.addr(1).String() + "/24", "nat:-A POSTROUTING -j RUNNER-MASQ-", "filter:-A FORWARD -j RUNNER-FWD-",
		"-s " + tn.cidr.String() + " -j MASQUERADE", "RUNNER-FWD-" + tn.bridge + " -o " + tn.bridge + " -m conntrack --ctstate DNAT -j ACCEPT"} {
		if !strings.Contains(want, part) {
			t.Fatalf("node set-up lacks %q:\n%s", part, want)
		}
	}
	if changed, err := EnsureNode(ctxTimeout(t), node); err != nil || len(changed) != 0 {
		t.Fatalf("a second EnsureNode changed %v (%v)", changed, err)
	}
	for _, tc := range []struct {
		what string
		do   []string
	}{
		{"masquerade jump", []string{"iptables", "-w", "-t", "nat", "-D", "POSTROUTING", "-j", masqChainOf(tn.bridge)}},
		{"masquerade chain flushed", []string{"iptables", "-w", "-t", "nat", "-F", masqChainOf(tn.bridge)}},
		{"forward jump", []string{"iptables", "-w", "-D", "FORWARD", "-j", fwdChainOf(tn.bridge)}},
		{"forward rule", []string{"iptables", "-w", "-D", fwdChainOf(tn.bridge), "-i", tn.bridge, "-j", "ACCEPT"}},
		{"a rule added", []string{"iptables", "-w", "-A", fwdChainOf(tn.bridge), "-j", "DROP"}},
		{"bridge address", []string{"ip", "addr", "del", tn.addr(1).String() + "/24", "dev", tn.bridge}},
		{"bridge", []string{"ip", "link", "del", tn.bridge}},
	} {
		run(t, tc.do[0], tc.do[1:]...)
		if nodeState(t, tn.bridge) == want {
			t.Fatalf("%s: deleting changed nothing; the test would prove nothing", tc.what)
		}
		changed, err := EnsureNode(ctxTimeout(t), node)
		if err != nil {
			t.Fatalf("%s: EnsureNode: %v", tc.what, err)
		}
		if got := nodeState(t, tn.bridge); got != want || len(changed) == 0 {
			t.Errorf("%s: after EnsureNode (changes %v):\n%s\nwant\n%s", tc.what, changed, got, want)
		}
	}

	// A pod attached, then the node removed under it (uninstall).
	ns, nsPath := tn.newNetNS(t, "rm")
	res, err := tn.plugin.Attach(ctxTimeout(t), AttachRequest{ID: "rm-" + tn.runID, NetNS: nsPath, IP: tn.addr(9)})
	if err != nil {
		t.Fatal(err)
	}
	if err := RemoveNode(context.Background(), node); err != nil {
		t.Fatal(err)
	}
	if got := nodeState(t, tn.bridge); got != "addrs:" {
		t.Errorf("after RemoveNode:\n%s", got)
	}
	if linkExists(res.HostInterface) || linkExists(tn.bridge) {
		t.Errorf("veth %s or bridge %s left", res.HostInterface, tn.bridge)
	}
	if succeeds("ip", "-n", ns, "link", "show", "eth0") {
		t.Error("the pod's end of the veth is left")
	}
	if err := RemoveNode(context.Background(), node); err != nil {
		t.Errorf("a second RemoveNode: %v", err)
	}
}

// Two ranges on one bridge (a changed --pod-cidr with pods of the old one
// running): both gateways answer, both ranges are masqueraded; dropping one
// removes its address and rules.
func TestEnsureNodeServesTwoRanges(t *testing.T) {
	tn := newTestNet(t)
	old := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 219, tn.cidr.Addr().As4()[2] ^ 0x80, 0}), 24)
	two := Node{Bridge: tn.bridge, CIDRs: []netip.Prefix{tn.cidr, old}}
	if _, err := EnsureNode(ctxTimeout(t), two); err != nil {
		t.Fatal(err)
	}
	state := nodeState(t, tn.bridge)
	oldGW := netip.PrefixFrom(old.Addr().Next(), 24).String()
	for _, want := range []string{oldGW, "-s " + old.String() + " -j MASQUERADE", "-s " + tn.cidr.String() + " -j MASQUERADE"} {
		if !strings.Contains(state, want) {
			t.Errorf("two ranges: lacks %q:\n%s", want, state)
		}
	}
	one := tn.plugin.Network().Node()
	one.Owned = []netip.Prefix{old}
	if _, err := EnsureNode(ctxTimeout(t), one); err != nil {
		t.Fatal(err)
	}
	if state := nodeState(t, tn.bridge); strings.Contains(state, old.Addr().Next().String()) || strings.Contains(state, old.String()) {
		t.Errorf("the dropped range is left:\n%s", state)
	}
}

// A bridge that is not runner's is left alone: an interface that is no
// bridge, or a bridge holding an address runner did not put there (docker0
// named by mistake).
func TestNodeRefusesAForeignBridge(t *testing.T) {
	tn := newTestNet(t)
	veth := "rv" + tn.runID
	run(t, "ip", "link", "add", veth, "type", "veth", "peer", "name", veth+"p")
	t.Cleanup(func() { _ = succeeds("ip", "link", "del", veth) })
	foreign := "rf" + tn.runID
	run(t, "ip", "link", "add", foreign, "type", "bridge")
	t.Cleanup(func() { _ = succeeds("ip", "link", "del", foreign) })
	run(t, "ip", "addr", "add", "10.219.254.1/24", "dev", foreign)
	for _, name := range []string{veth, foreign} {
		n := Node{Bridge: name, CIDRs: []netip.Prefix{tn.cidr}}
		_, err := EnsureNode(ctxTimeout(t), n)
		if err == nil || !strings.Contains(err.Error(), "not runner's") {
			t.Errorf("EnsureNode on %s = %v, want a refusal", name, err)
		}
		if state := nodeState(t, name); strings.Contains(state, "RUNNER-") || strings.Contains(state, tn.addr(1).String()) {
			t.Errorf("EnsureNode on %s changed it:\n%s", name, state)
		}
		if err := RemoveNode(ctxTimeout(t), n); err == nil || !linkExists(name) {
			t.Errorf("RemoveNode on %s = %v, exists after: %v; want it kept with an error", name, err, linkExists(name))
		}
	}
}
