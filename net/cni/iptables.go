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
	"time"
)

// iptablesTimeout bounds one iptables run; iptablesLockWait (its -w) how
// long of it may be spent waiting for the xtables lock, so that a lock held
// by a hung process gives iptables' own message rather than a kill.
const (
	iptablesTimeout  = 10 * time.Second
	iptablesLockWait = "5"
)

// ipTables runs iptables for the package, each run bounded by
// iptablesTimeout (and by the caller's ctx), each reported to trace when set.
type ipTables struct {
	trace   func(Call)
	timeout time.Duration // zero: iptablesTimeout
}

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

// scrubRules removes the iptables state that runner's lists of earlier
// runners (bridge with ipMasq, firewall) kept for one sandbox, in case their DEL left it: the bridge plugin's ipMasq
// chain and its POSTROUTING jump (left when DEL runs without a namespace),
// and the firewall plugin's two CNI-FORWARD rules for ip (left when libcni's
// cached result is lost). Each rule is checked before it is deleted, so
// scrubbing clean state changes nothing.
func (ipt ipTables) scrubRules(ctx context.Context, network, id string, ip netip.Addr) error {
	src := netip.PrefixFrom(ip, 32).String()
	chain := masqChain(network, id)
	comment := fmt.Sprintf("name: %q id: %q", network, id)
	var errs []error
	errs = append(errs, ipt.deleteRule(ctx, "nat", "POSTROUTING", "-s", src, "-m", "comment", "--comment", comment, "-j", chain))
	if ipt.run(ctx, "-t", "nat", "-S", chain) == nil {
		errs = append(errs, ipt.run(ctx, "-t", "nat", "-F", chain), ipt.run(ctx, "-t", "nat", "-X", chain))
	}
	errs = append(errs,
		ipt.deleteRule(ctx, "filter", "CNI-FORWARD", "-d", src, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
		ipt.deleteRule(ctx, "filter", "CNI-FORWARD", "-s", src, "-j", "ACCEPT"))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove iptables rules of %s (%s): %w", id, ip, err)
	}
	return nil
}

// ensureChain creates an empty chain unless it exists.
func (ipt ipTables) ensureChain(ctx context.Context, table, chain string) error {
	if ipt.run(ctx, "-t", table, "-S", chain) == nil {
		return nil
	}
	if err := ipt.run(ctx, "-t", table, "-N", chain); err != nil {
		return fmt.Errorf("create chain %s/%s: %w", table, chain, err)
	}
	return nil
}

// deleteRule deletes every copy of a rule; a missing rule or chain is fine.
func (ipt ipTables) deleteRule(ctx context.Context, table, chain string, spec ...string) error {
	for range 16 { // a rule is never added that often; bounds a misbehaving iptables
		check := append([]string{"-t", table, "-C", chain}, spec...)
		if err := ipt.run(ctx, check...); err != nil {
			if notFound(err) {
				return nil // absent (or chain absent)
			}
			return err
		}
		del := append([]string{"-t", table, "-D", chain}, spec...)
		if err := ipt.run(ctx, del...); err != nil {
			return err
		}
	}
	return fmt.Errorf("rule in %s/%s still present after 16 deletes", table, chain)
}

// run runs iptables (the binary the plugins use, found in PATH), waiting
// for the xtables lock at most iptablesLockWait seconds.
func (ipt ipTables) run(ctx context.Context, args ...string) error {
	_, err := ipt.output(ctx, args...)
	return err
}

// output is run that returns what iptables printed.
func (ipt ipTables) output(ctx context.Context, args ...string) (string, error) {
	timeout := ipt.timeout
	if timeout <= 0 {
		timeout = iptablesTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	path, err := exec.LookPath("iptables")
	if err != nil {
		return "", &iptablesError{args: args, err: err}
	}
	start := time.Now()
	stdout, stderr, err := runCommand(ctx, path, append([]string{"-w", iptablesLockWait}, args...), nil, nil)
	if ipt.trace != nil {
		ipt.trace(Call{Kind: CallIPTables, Name: "iptables", Command: strings.Join(args, " "), Took: time.Since(start), Err: err})
	}
	if err != nil {
		return "", &iptablesError{args: args, out: strings.TrimSpace(string(stderr) + string(stdout)), err: err}
	}
	return string(stdout), nil
}

// notFound reports whether iptables answered a check (-C) with "no such
// rule" (status 1) or "no such chain" (status 2 naming a missing chain or
// target: nf_tables says "does not exist", legacy "No such file or
// directory"). A run killed at its deadline, or failing for the lock
// (status 4), is not that.
func notFound(err error) bool {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return false
	}
	var ie *iptablesError
	switch exit.ExitCode() {
	case 1:
		return true
	case 2:
		return errors.As(err, &ie) && (strings.Contains(ie.out, "does not exist") || strings.Contains(ie.out, "No such file or directory"))
	}
	return false
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
