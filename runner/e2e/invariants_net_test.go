package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// networkViolations checks the pod network against the live sandboxes
// (by ID; true when the sandbox is not on the host network).
func (h *harness) networkViolations(live map[string]bool) []string {
	var v []string
	networked := map[string]bool{}
	for id, n := range live {
		if n {
			networked[id] = true
		}
	}
	allocs, records, err := h.netRecords()
	if err != nil {
		return []string{err.Error()}
	}
	liveIPs := map[netip.Addr]bool{}
	for id, ip := range allocs {
		if !networked[id] {
			v = append(v, fmt.Sprintf("IP %s is allocated to sandbox %s, which is not live", ip, shortID(id)))
			continue
		}
		liveIPs[ip] = true
	}
	for id := range records {
		if !networked[id] {
			v = append(v, fmt.Sprintf("network record of sandbox %s, which is not live", shortID(id)))
		}
	}
	for id := range networked {
		if _, ok := allocs[id]; !ok {
			v = append(v, fmt.Sprintf("live sandbox %s has no IP allocation", shortID(id)))
		}
		if _, ok := records[id]; !ok {
			v = append(v, fmt.Sprintf("live sandbox %s has no network record", shortID(id)))
		}
	}
	if n := h.veths(); n != len(networked) {
		v = append(v, fmt.Sprintf("%d veths on bridge %s for %d live sandboxes", n, h.bridge, len(networked)))
	}
	for _, dir := range []string{"results", "runner-netns"} {
		entries, _ := os.ReadDir(filepath.Join(h.netDir, "cni-cache", dir))
		for _, e := range entries {
			if id := sandboxIDIn(e.Name()); id != "" && !networked[id] {
				v = append(v, fmt.Sprintf("CNI cache %s/%s of a sandbox that is not live", dir, e.Name()))
			}
		}
	}
	return append(v, h.iptablesViolations(networked, liveIPs)...)
}

// netRecords reads runner's IP allocations (sandbox ID → IP) and network
// records (by sandbox ID). Files that do not exist yet are empty.
func (h *harness) netRecords() (allocs map[string]netip.Addr, records map[string]json.RawMessage, err error) {
	var ipam struct {
		Allocations map[string]netip.Addr `json:"allocations"`
	}
	var sb struct {
		Sandboxes map[string]json.RawMessage `json:"sandboxes"`
	}
	for _, f := range []struct {
		name string
		into any
	}{{"ipam.json", &ipam}, {"sandboxes.json", &sb}} {
		data, err := os.ReadFile(filepath.Join(h.netDir, f.name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", f.name, err)
		}
		// Written atomically: a file that does not parse is a violation.
		if err := json.Unmarshal(data, f.into); err != nil {
			return nil, nil, fmt.Errorf("%s does not parse (half-written?): %w", f.name, err)
		}
	}
	return ipam.Allocations, sb.Sandboxes, nil
}

var sandboxIDPattern = regexp.MustCompile(`[0-9a-f]{64}`)

// sandboxIDIn finds a container ID in a file name or rule; "" when none.
func sandboxIDIn(s string) string { return sandboxIDPattern.FindString(s) }

// sharedChains are the CNI plugins' chains that serve every sandbox.
var sharedChains = map[string]bool{
	"CNI-FORWARD": true, "CNI-ADMIN": true,
	"CNI-HOSTPORT-DNAT": true, "CNI-HOSTPORT-MASQ": true, "CNI-HOSTPORT-SETMARK": true,
}

// iptablesViolations finds the rules of the test's pod CIDR (the bridge
// plugin's masquerade chain and its jump, the firewall plugin's forward
// rules, portmap's DNAT chains) that belong to no live sandbox: a rule
// naming a sandbox that is not live or an address that is not allocated,
// or a per-sandbox chain that no live sandbox's rule jumps to.
func (h *harness) iptablesViolations(networked map[string]bool, liveIPs map[netip.Addr]bool) []string {
	out, err := exec.Command("iptables-save").Output()
	if err != nil {
		return []string{fmt.Sprintf("iptables-save: %v", err)}
	}
	cidr := netip.MustParsePrefix(h.cidr)
	gateway := cidr.Addr().Next()
	var v []string
	type rule struct {
		chain, line string
		ips         []netip.Addr
	}
	var ours []rule
	jumped := map[string]bool{}
	for line := range strings.SplitSeq(string(out), "\n") {
		if !strings.HasPrefix(line, "-A ") {
			continue
		}
		r := rule{chain: strings.Fields(line)[1], line: line}
		mentions := false
		for _, tok := range strings.Fields(line) {
			if p, err := netip.ParsePrefix(tok); err == nil && cidr.Contains(p.Addr()) {
				mentions = true
				if p.Bits() == 32 {
					r.ips = append(r.ips, p.Addr())
				}
			} else if ap, err := netip.ParseAddrPort(tok); err == nil && cidr.Contains(ap.Addr()) {
				mentions = true
				r.ips = append(r.ips, ap.Addr())
			}
		}
		id := sandboxIDIn(line)
		if id != "" && networked[id] {
			if _, target, ok := strings.Cut(line, " -j "); ok {
				jumped[strings.Fields(target)[0]] = true
			}
		}
		if !mentions {
			continue
		}
		if id != "" && !networked[id] {
			v = append(v, "iptables rule of a sandbox that is not live: "+line)
			continue
		}
		ours = append(ours, r)
	}
	for _, r := range ours {
		for _, ip := range r.ips {
			if ip != gateway && !liveIPs[ip] {
				v = append(v, fmt.Sprintf("iptables rule of %s, which no live sandbox has: %s", ip, r.line))
			}
		}
		if strings.HasPrefix(r.chain, "CNI-") && !sharedChains[r.chain] && !jumped[r.chain] {
			v = append(v, fmt.Sprintf("iptables chain %s of no live sandbox: %s", r.chain, r.line))
		}
	}
	return v
}

// mountsBelow lists the mount points strictly below dir.
func mountsBelow(dir string) []string {
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		return !strings.HasPrefix(m.Mountpoint, dir+"/"), false
	})
	if err != nil {
		return []string{"<mountinfo: " + err.Error() + ">"}
	}
	out := make([]string, 0, len(mounts))
	for _, m := range mounts {
		out = append(out, m.Mountpoint)
	}
	return out
}

// checkpointOrigins are the origins of the checkpoints a source keeps under
// --root-dir (source "file" or "http").
func (h *harness) checkpointOrigins(source string) []string {
	dir := filepath.Join(h.root, "checkpoints", source)
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var cp struct {
			Origin string `json:"origin"`
		}
		if json.Unmarshal(data, &cp) == nil && cp.Origin != "" {
			out = append(out, cp.Origin)
		}
	}
	return out
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
