package cni

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Node is the once-per-node part of runner's own network, which no pod's
// ADD or DEL touches: the bridge, its addresses (the first address of each
// range it serves), the masquerading of traffic from those ranges to
// elsewhere, and the FORWARD accept rules for the bridge (Docker sets the
// FORWARD policy to DROP). EnsureNode sets it up and repairs it; RemoveNode
// takes it away.
//
// Its iptables state lives in two chains named after the bridge, each
// jumped to from one rule:
//
//	nat     POSTROUTING -j RUNNER-MASQ-<bridge>
//	        RUNNER-MASQ-<bridge>: -d <range> -j RETURN (each range)
//	                              -d 224.0.0.0/4 -j RETURN
//	                              -s <range> -j MASQUERADE (each range)
//	filter  FORWARD (first) -j RUNNER-FWD-<bridge>
//	        RUNNER-FWD-<bridge>: -i <bridge> -j ACCEPT
//	                             -o <bridge> --ctstate RELATED,ESTABLISHED -j ACCEPT
//	                             -o <bridge> --ctstate DNAT -j ACCEPT (hostPorts)
//
// The bridge must be runner's: an interface of that name that is not a
// bridge, or a bridge holding an IPv4 address that is neither the gateway of
// CIDRs nor of Owned (docker0, a CNI plugin's cni0 named by mistake), makes
// EnsureNode fail and RemoveNode keep the bridge.
type Node struct {
	Bridge string
	// CIDRs are the ranges the bridge serves: the current PodCIDR and the
	// earlier ones whose pods still run.
	CIDRs []netip.Prefix
	// Owned are ranges runner served on the bridge before: EnsureNode
	// removes their gateway addresses from it when they are not in CIDRs.
	Owned []netip.Prefix
	// Trace, when set, is told of every iptables run (Config.Trace).
	Trace func(Call)
}

// masqChainOf and fwdChainOf are the node's chains (at most 27 characters
// for a bridge name of 15: iptables allows 28).
func masqChainOf(bridge string) string { return "RUNNER-MASQ-" + bridge }
func fwdChainOf(bridge string) string  { return "RUNNER-FWD-" + bridge }

// nodeTimeout bounds EnsureNode and RemoveNode.
const nodeTimeout = time.Minute

// rules are the node's chains' contents, in order, as iptables -S prints
// them (without "-A <chain>").
func (n Node) masqRules() [][]string {
	var rules [][]string
	for _, c := range n.CIDRs {
		rules = append(rules, []string{"-d", c.Masked().String(), "-j", "RETURN"})
	}
	rules = append(rules, []string{"-d", "224.0.0.0/4", "-j", "RETURN"})
	for _, c := range n.CIDRs {
		rules = append(rules, []string{"-s", c.Masked().String(), "-j", "MASQUERADE"})
	}
	return rules
}

func (n Node) fwdRules() [][]string {
	return [][]string{
		{"-i", n.Bridge, "-j", "ACCEPT"},
		{"-o", n.Bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
		{"-o", n.Bridge, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"},
	}
}

// gateways are the bridge's addresses: the first of each range.
func (n Node) gateways() []netip.Prefix { return gatewaysOf(n.CIDRs) }

func gatewaysOf(cidrs []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range cidrs {
		out = append(out, netip.PrefixFrom(firstAddr(c), c.Bits()))
	}
	return out
}

// EnsureNode sets up what n describes and repairs what differs: a missing
// bridge, a missing address (and removes addresses of ranges no longer
// served), chains whose rules differ (rewritten), missing jumps, IPv4
// forwarding off. It returns what it changed, in words, nothing when all
// was in place; checking costs four iptables runs. The pod network calls
// it at start, before the first ADD, and on every relist of the loop.
func EnsureNode(ctx context.Context, n Node) (changed []string, err error) {
	if n.Bridge == "" || len(n.Bridge) > 15 {
		return nil, fmt.Errorf("ensure node network: bridge name %q must have 1 to 15 characters", n.Bridge)
	}
	if len(n.CIDRs) == 0 {
		return nil, fmt.Errorf("ensure node network of %s: no range", n.Bridge)
	}
	ctx, cancel := context.WithTimeout(ctx, nodeTimeout)
	defer cancel()
	ipt := ipTables{trace: n.Trace}
	var errs []error
	note := func(what string, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		if what != "" {
			changed = append(changed, what)
		}
	}
	if _, err := ensureBridge(ctx, n.Bridge, n.gateways(), gatewaysOf(n.Owned), true); err != nil {
		// Not runner's bridge, or it cannot be made: touch no rule.
		return nil, fmt.Errorf("ensure node network of %s: %w", n.Bridge, err)
	}
	note(ensureBridge(ctx, n.Bridge, n.gateways(), gatewaysOf(n.Owned), false))
	note(ensureForwarding())
	note(ipt.ensureChainRules(ctx, "nat", masqChainOf(n.Bridge), n.masqRules()))
	note(ipt.ensureJump(ctx, "nat", "POSTROUTING", false, masqChainOf(n.Bridge)))
	note(ipt.ensureChainRules(ctx, "filter", fwdChainOf(n.Bridge), n.fwdRules()))
	note(ipt.ensureJump(ctx, "filter", "FORWARD", true, fwdChainOf(n.Bridge)))
	if err := errors.Join(errs...); err != nil {
		return changed, fmt.Errorf("ensure node network of %s: %w", n.Bridge, err)
	}
	return changed, nil
}

// RemoveNode takes away what EnsureNode set up for n, and every interface
// still enslaved to the bridge (pods' veths): for uninstalling. The bridge
// is deleted only when it is runner's (see Node). Missing parts are fine.
func RemoveNode(ctx context.Context, n Node) error {
	ctx, cancel := context.WithTimeout(ctx, nodeTimeout)
	defer cancel()
	ipt := ipTables{trace: n.Trace}
	bridge := n.Bridge
	var errs []error
	errs = append(errs,
		ipt.deleteRule(ctx, "nat", "POSTROUTING", "-j", masqChainOf(bridge)),
		ipt.deleteChain(ctx, "nat", masqChainOf(bridge)),
		ipt.deleteRule(ctx, "filter", "FORWARD", "-j", fwdChainOf(bridge)),
		ipt.deleteChain(ctx, "filter", fwdChainOf(bridge)),
		removeBridge(ctx, bridge, append(n.gateways(), gatewaysOf(n.Owned)...)))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove node network of %s: %w", bridge, err)
	}
	return nil
}

// bridgeAddrs returns the IPv4 addresses of iface.
func bridgeAddrs(iface *net.Interface) ([]netip.Prefix, error) {
	addrs, err := iface.Addrs()
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", iface.Name, err)
	}
	var have []netip.Prefix
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		addr, ok := netip.AddrFromSlice(ipn.IP)
		if !ok || !addr.Unmap().Is4() {
			continue
		}
		bits, _ := ipn.Mask.Size()
		have = append(have, netip.PrefixFrom(addr.Unmap(), bits))
	}
	return have, nil
}

// isBridge reports whether the interface name is a Linux bridge.
func isBridge(name string) bool {
	_, err := os.Stat("/sys/class/net/" + name + "/bridge")
	return err == nil
}

// checkOwned fails when bridge is no bridge, or holds an IPv4 address that
// is not one of ours.
func checkOwned(iface *net.Interface, ours []netip.Prefix) error {
	if !isBridge(iface.Name) {
		return fmt.Errorf("interface %s exists and is not a bridge: it is not runner's; choose another --cni-bridge-name", iface.Name)
	}
	have, err := bridgeAddrs(iface)
	if err != nil {
		return err
	}
	for _, p := range have {
		if !slices.Contains(ours, p) {
			return fmt.Errorf("bridge %s holds %s, which runner did not put there: it is not runner's bridge; choose another --cni-bridge-name (or, if it is runner's from a lost state, delete it: ip link del %s)", iface.Name, p, iface.Name)
		}
	}
	return nil
}

// ensureBridge makes bridge exist, be up and hold exactly the addresses
// want (IPv4; IPv6 ones are left alone), removing those of owned. With
// checkOnly it changes nothing and fails when the bridge exists and is not
// runner's (an interface that is no bridge, an address neither wanted nor
// owned).
func ensureBridge(ctx context.Context, bridge string, want, owned []netip.Prefix, checkOnly bool) (string, error) {
	iface, err := net.InterfaceByName(bridge)
	if checkOnly {
		if err != nil {
			return "", nil // made below
		}
		return "", checkOwned(iface, append(slices.Clone(want), owned...))
	}
	var did []string
	if err != nil {
		if err := ipCmd(ctx, "link", "add", "name", bridge, "type", "bridge"); err != nil {
			return "", err
		}
		did = append(did, "bridge "+bridge+" created")
		if iface, err = net.InterfaceByName(bridge); err != nil {
			return "", fmt.Errorf("bridge %s: %w", bridge, err)
		}
	}
	if iface.Flags&net.FlagUp == 0 {
		if err := ipCmd(ctx, "link", "set", bridge, "up"); err != nil {
			return "", err
		}
		did = append(did, bridge+" set up")
	}
	have, err := bridgeAddrs(iface)
	if err != nil {
		return "", err
	}
	// Add before removing: a widened range's gateway keeps answering.
	for _, p := range want {
		if !slices.Contains(have, p) {
			if err := ipCmd(ctx, "addr", "add", p.String(), "dev", bridge); err != nil {
				return "", err
			}
			did = append(did, "address "+p.String()+" added to "+bridge)
		}
	}
	for _, p := range have {
		if !slices.Contains(want, p) && slices.Contains(owned, p) {
			if err := ipCmd(ctx, "addr", "del", p.String(), "dev", bridge); err != nil {
				return "", err
			}
			did = append(did, "address "+p.String()+" removed from "+bridge)
		}
	}
	return strings.Join(did, ", "), nil
}

// removeBridge deletes the interfaces enslaved to bridge, then bridge, when
// it is runner's: a bridge holding no IPv4 address but ours.
func removeBridge(ctx context.Context, bridge string, ours []netip.Prefix) error {
	iface, err := net.InterfaceByName(bridge)
	if err != nil {
		return nil
	}
	if err := checkOwned(iface, ours); err != nil {
		return fmt.Errorf("keep %s: %w", bridge, err)
	}
	out, err := exec.CommandContext(ctx, "ip", "-o", "link", "show", "master", bridge).Output()
	if err != nil {
		return fmt.Errorf("list the ports of %s: %w", bridge, err)
	}
	var errs []error
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// "12: veth1234@if3: <...> ..."
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(fields[1], ":"), "@")
		errs = append(errs, ipCmd(ctx, "link", "del", name))
	}
	errs = append(errs, ipCmd(ctx, "link", "del", bridge))
	return errors.Join(errs...)
}

// ipForwardPath is the switch of IPv4 forwarding, which the bridge plugin
// turned on with isGateway (Docker does too).
const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

func ensureForwarding() (string, error) {
	data, err := os.ReadFile(ipForwardPath)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", ipForwardPath, err)
	}
	if strings.TrimSpace(string(data)) == "1" {
		return "", nil
	}
	if err := os.WriteFile(ipForwardPath, []byte("1"), 0o644); err != nil {
		return "", fmt.Errorf("turn on IPv4 forwarding: %w", err)
	}
	return "IPv4 forwarding turned on", nil
}

// ipCmd runs ip with a deadline.
func ipCmd(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, iptablesTimeout)
	defer cancel()
	_, stderr, err := runCommand(ctx, "ip", args, nil, nil)
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(stderr)))
	}
	return nil
}

// ensureChainRules makes chain hold exactly rules, in order: it creates the
// chain, or rewrites it when its rules differ.
func (ipt ipTables) ensureChainRules(ctx context.Context, table, chain string, rules [][]string) (string, error) {
	have, err := ipt.listChain(ctx, table, chain)
	created := false
	if err != nil {
		if !notFound(err) {
			return "", err
		}
		if err := ipt.run(ctx, "-t", table, "-N", chain); err != nil {
			return "", fmt.Errorf("create chain %s/%s: %w", table, chain, err)
		}
		created = true
	}
	want := make([]string, len(rules))
	for i, r := range rules {
		want[i] = "-A " + chain + " " + strings.Join(r, " ")
	}
	if slices.Equal(have, want) {
		return "", nil
	}
	if !created {
		if err := ipt.run(ctx, "-t", table, "-F", chain); err != nil {
			return "", err
		}
	}
	for _, r := range rules {
		if err := ipt.run(ctx, append([]string{"-t", table, "-A", chain}, r...)...); err != nil {
			return "", err
		}
	}
	if created {
		return fmt.Sprintf("%s chain %s created", table, chain), nil
	}
	return fmt.Sprintf("%s chain %s rewritten (it held %d rules, %d expected)", table, chain, len(have), len(want)), nil
}

// listChain returns the rules of chain as iptables -S prints them.
func (ipt ipTables) listChain(ctx context.Context, table, chain string) ([]string, error) {
	out, err := ipt.output(ctx, "-t", table, "-S", chain)
	if err != nil {
		return nil, err
	}
	var rules []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "-A ") {
			rules = append(rules, strings.TrimSpace(line))
		}
	}
	return rules, nil
}

// ensureJump makes from jump to chain: as its first rule when first, else
// appended; a jump already present elsewhere is left where it is.
func (ipt ipTables) ensureJump(ctx context.Context, table, from string, first bool, chain string) (string, error) {
	err := ipt.run(ctx, "-t", table, "-C", from, "-j", chain)
	if err == nil {
		return "", nil
	}
	if !notFound(err) {
		return "", err
	}
	if first {
		err = ipt.run(ctx, "-t", table, "-I", from, "1", "-j", chain)
	} else {
		err = ipt.run(ctx, "-t", table, "-A", from, "-j", chain)
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s jump %s → %s added", table, from, chain), nil
}

// deleteChain flushes and deletes chain; a missing one is fine.
func (ipt ipTables) deleteChain(ctx context.Context, table, chain string) error {
	if _, err := ipt.listChain(ctx, table, chain); err != nil {
		if notFound(err) {
			return nil
		}
		return err
	}
	if err := ipt.run(ctx, "-t", table, "-F", chain); err != nil {
		return err
	}
	return ipt.run(ctx, "-t", table, "-X", chain)
}
