package cni

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
)

// masqChain is the nat chain the bridge plugin creates for a sandbox's
// ipMasq rules: "CNI-" and the first 24 hex digits of sha512(network+id).
func masqChain(network, id string) string {
	sum := sha512.Sum512([]byte(network + id))
	return "CNI-" + hex.EncodeToString(sum[:])[:24]
}

// dnatChain is the nat chain the portmap plugin creates for a sandbox's
// hostPorts: "CNI-DN-" and the first 21 hex digits of sha512(network+id).
func dnatChain(network, id string) string {
	sum := sha512.Sum512([]byte(network + id))
	return "CNI-DN-" + hex.EncodeToString(sum[:])[:21]
}

// scrubRules removes the iptables state the generated network's plugins keep
// for one sandbox, in case their DEL left it: the bridge plugin's ipMasq
// chain and its POSTROUTING jump (left when DEL runs without a namespace),
// and the firewall plugin's two CNI-FORWARD rules for ip (left when libcni's
// cached result is lost). Each rule is checked before it is deleted, so
// scrubbing clean state changes nothing.
func scrubRules(ctx context.Context, network, id string, ip netip.Addr) error {
	src := netip.PrefixFrom(ip, 32).String()
	chain := masqChain(network, id)
	comment := fmt.Sprintf("name: %q id: %q", network, id)
	var errs []error
	errs = append(errs, deleteRule(ctx, "nat", "POSTROUTING", "-s", src, "-m", "comment", "--comment", comment, "-j", chain))
	if iptables(ctx, "-t", "nat", "-S", chain) == nil {
		errs = append(errs, iptables(ctx, "-t", "nat", "-F", chain), iptables(ctx, "-t", "nat", "-X", chain))
	}
	errs = append(errs,
		deleteRule(ctx, "filter", "CNI-FORWARD", "-d", src, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
		deleteRule(ctx, "filter", "CNI-FORWARD", "-s", src, "-j", "ACCEPT"))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove iptables rules of %s (%s): %w", id, ip, err)
	}
	return nil
}

// ensureChain creates an empty chain unless it exists.
func ensureChain(ctx context.Context, table, chain string) error {
	if iptables(ctx, "-t", table, "-S", chain) == nil {
		return nil
	}
	if err := iptables(ctx, "-t", table, "-N", chain); err != nil {
		return fmt.Errorf("create chain %s/%s: %w", table, chain, err)
	}
	return nil
}

// deleteRule deletes every copy of a rule; a missing rule or chain is fine.
func deleteRule(ctx context.Context, table, chain string, spec ...string) error {
	for range 16 { // a rule is never added that often; bounds a misbehaving iptables
		check := append([]string{"-t", table, "-C", chain}, spec...)
		if err := iptables(ctx, check...); err != nil {
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return nil // absent (or chain absent)
			}
			return err
		}
		del := append([]string{"-t", table, "-D", chain}, spec...)
		if err := iptables(ctx, del...); err != nil {
			return err
		}
	}
	return fmt.Errorf("rule in %s/%s still present after 16 deletes", table, chain)
}

// iptables runs iptables (the binary the plugins use, found in PATH) waiting
// for the xtables lock.
func iptables(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "iptables", append([]string{"-w"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &iptablesError{args: args, out: strings.TrimSpace(string(out)), err: err}
	}
	return nil
}

// iptablesError keeps the output of a failed iptables run and unwraps to
// the *exec.ExitError (or the exec failure).
type iptablesError struct {
	args []string
	out  string
	err  error
}

func (e *iptablesError) Error() string {
	return fmt.Sprintf("iptables %s: %v: %s", strings.Join(e.args, " "), e.err, e.out)
}

func (e *iptablesError) Unwrap() error { return e.err }
