package dns

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// The kubelet's limits on what a pod's resolv.conf may hold (glibc reads 3
// nameservers; the search limits are those of the apiserver's validation).
const (
	MaxNameservers    = 3
	MaxSearchDomains  = 32
	MaxSearchChars    = 2048
	maxSearchNameLen  = 253 // longer domains make some glibc versions abort()
	clusterFirstNdots = "ndots:5"
)

// ResolvConfig is what ResolvConf needs of a pod and of the node.
type ResolvConfig struct {
	// Policy is the pod's spec.dnsPolicy; "" means ClusterFirst, the
	// apiserver's default.
	Policy v1.DNSPolicy
	// Config is the pod's spec.dnsConfig, or nil.
	Config *v1.PodDNSConfig
	// Namespace is the pod's namespace (for the cluster search domains).
	Namespace string
	// ClusterDNS are the cluster DNS servers (kubelet --cluster-dns); none
	// makes ClusterFirst fall back to Default.
	ClusterDNS []netip.Addr
	// ClusterDomain is the cluster's domain (kubelet --cluster-domain), e.g.
	// "cluster.local"; empty means no cluster search domains.
	ClusterDomain string
	// HostResolvConf is the content of the host's resolv.conf (kubelet
	// --resolv-conf, usually /etc/resolv.conf; on systemd-resolved hosts
	// /run/systemd/resolve/resolv.conf, since 127.0.0.53 is not reachable
	// from a pod).
	HostResolvConf []byte
}

// option is one resolv.conf option, "name" or "name:value".
type option struct{ name, value string }

func (o option) String() string {
	if o.value == "" {
		return o.name
	}
	return o.name + ":" + o.value
}

// resolv is the parsed or composed content of a resolv.conf.
type resolv struct {
	nameservers []string
	searches    []string
	options     []option
}

// ResolvConf returns the content of the pod's resolv.conf and notes about
// anything that was dropped or fallen back on (each note is one sentence for
// a log line or event). It fails for an unknown policy, a dnsConfig the
// apiserver would reject (a nameserver that is no IP address, an option
// without name) and for policy None without nameservers.
func ResolvConf(cfg ResolvConfig) ([]byte, []string, error) {
	var notes []string
	var base resolv
	fromHost := false
	switch cfg.Policy {
	case v1.DNSDefault:
		base, notes = parseResolvConf(cfg.HostResolvConf)
		fromHost = true
	case "", v1.DNSClusterFirst, v1.DNSClusterFirstWithHostNet:
		host, hostNotes := parseResolvConf(cfg.HostResolvConf)
		notes = hostNotes
		if len(cfg.ClusterDNS) == 0 {
			notes = append(notes, fmt.Sprintf("no cluster DNS server is configured: a pod with dnsPolicy %q falls back to %q (the host's resolv.conf)",
				policyName(cfg.Policy), v1.DNSDefault))
			base, fromHost = host, true
			break
		}
		for _, s := range cfg.ClusterDNS {
			base.nameservers = append(base.nameservers, s.String())
		}
		base.searches = clusterSearches(cfg.Namespace, cfg.ClusterDomain, host.searches)
		base.options = []option{parseOption(clusterFirstNdots)}
	case v1.DNSNone:
	default:
		return nil, nil, fmt.Errorf("build resolv.conf: unknown dnsPolicy %q", cfg.Policy)
	}
	if fromHost {
		for _, ns := range base.nameservers {
			if addr, err := netip.ParseAddr(ns); err == nil && addr.IsLoopback() {
				notes = append(notes, fmt.Sprintf("the host's resolv.conf names the loopback nameserver %s, which is not reachable from the pod's network namespace", ns))
			}
		}
	}
	merged, err := merge(base, cfg.Config)
	if err != nil {
		return nil, nil, fmt.Errorf("build resolv.conf: %w", err)
	}
	if cfg.Policy == v1.DNSNone && len(merged.nameservers) == 0 {
		return nil, nil, fmt.Errorf("build resolv.conf: dnsPolicy None needs at least one nameserver in dnsConfig")
	}
	merged, limitNotes := applyLimits(merged)
	notes = append(notes, limitNotes...)
	return merged.render(), notes, nil
}

func policyName(p v1.DNSPolicy) v1.DNSPolicy {
	if p == "" {
		return v1.DNSClusterFirst
	}
	return p
}

// clusterSearches returns <ns>.svc.<domain> svc.<domain> <domain> followed by
// the host's searches, without duplicates; just the host's without a domain.
func clusterSearches(namespace, domain string, host []string) []string {
	if domain == "" {
		return slices.Clone(host)
	}
	s := []string{namespace + ".svc." + domain, "svc." + domain, domain}
	return dedup(append(s, host...))
}

// parseResolvConf reads the nameserver, search, domain and options lines of
// a resolv.conf. As in resolv.conf(5) the last search or domain line wins;
// trailing dots of search domains are dropped ("." alone is no domain), and
// later options override earlier ones of the same name. Nameservers that are
// no IP address are dropped with a note.
func parseResolvConf(data []byte) (resolv, []string) {
	var r resolv
	var notes []string
	for line := range strings.Lines(string(data)) {
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) < 2 {
				continue
			}
			if _, err := netip.ParseAddr(f[1]); err != nil {
				notes = append(notes, fmt.Sprintf("the host's resolv.conf names nameserver %q, which is no IP address; dropped", f[1]))
				continue
			}
			r.nameservers = append(r.nameservers, f[1])
		case "search", "domain":
			r.searches = nil
			for _, s := range f[1:] {
				if s = strings.TrimSuffix(s, "."); s != "" {
					r.searches = append(r.searches, s)
				}
			}
			r.searches = dedup(r.searches)
		case "options":
			for _, o := range f[1:] {
				r.options = setOption(r.options, parseOption(o))
			}
		}
	}
	return r, notes
}

func parseOption(s string) option {
	name, value, _ := strings.Cut(s, ":")
	return option{name: name, value: value}
}

// setOption sets o in opts, in place when an option of that name exists,
// else at the end.
func setOption(opts []option, o option) []option {
	for i := range opts {
		if opts[i].name == o.name {
			opts[i] = o
			return opts
		}
	}
	return append(opts, o)
}

// merge appends the pod's dnsConfig to base as the kubelet does.
func merge(base resolv, c *v1.PodDNSConfig) (resolv, error) {
	if c == nil {
		return base, nil
	}
	for _, ns := range c.Nameservers {
		if _, err := netip.ParseAddr(ns); err != nil {
			return resolv{}, fmt.Errorf("dnsConfig nameserver %q is no IP address", ns)
		}
	}
	base.nameservers = dedup(append(slices.Clone(base.nameservers), c.Nameservers...))
	base.searches = dedup(append(slices.Clone(base.searches), c.Searches...))
	base.options = slices.Clone(base.options)
	for _, o := range c.Options {
		if o.Name == "" {
			return resolv{}, fmt.Errorf("dnsConfig option without name")
		}
		val := ""
		if o.Value != nil {
			val = *o.Value
		}
		base.options = setOption(base.options, option{name: o.Name, value: val})
	}
	return base, nil
}

// applyLimits cuts nameservers and searches to the kubelet's limits and says
// what it cut.
func applyLimits(r resolv) (resolv, []string) {
	var notes []string
	if len(r.nameservers) > MaxNameservers {
		r.nameservers = r.nameservers[:MaxNameservers]
		notes = append(notes, fmt.Sprintf("Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: %s",
			strings.Join(r.nameservers, " ")))
	}
	cut := false
	if len(r.searches) > MaxSearchDomains {
		r.searches, cut = r.searches[:MaxSearchDomains], true
	}
	kept := r.searches[:0:0]
	for _, s := range r.searches {
		if len(s) > maxSearchNameLen {
			cut = true
			continue
		}
		kept = append(kept, s)
	}
	r.searches = kept
	for len(r.searches) > 0 && len(strings.Join(r.searches, " ")) > MaxSearchChars {
		r.searches, cut = r.searches[:len(r.searches)-1], true
	}
	if cut {
		notes = append(notes, fmt.Sprintf("Search Line limits were exceeded, some search paths have been omitted, the applied search line is: %s",
			strings.Join(r.searches, " ")))
	}
	return r, notes
}

// render writes r in the layout Docker (and dockershim) used: nameservers,
// then search, then options.
func (r resolv) render() []byte {
	var b bytes.Buffer
	for _, ns := range r.nameservers {
		b.WriteString("nameserver " + ns + "\n")
	}
	if len(r.searches) > 0 {
		b.WriteString("search " + strings.Join(r.searches, " ") + "\n")
	}
	if len(r.options) > 0 {
		opts := make([]string, len(r.options))
		for i, o := range r.options {
			opts[i] = o.String()
		}
		b.WriteString("options " + strings.Join(opts, " ") + "\n")
	}
	return b.Bytes()
}

// dedup drops later duplicates, keeping order.
func dedup(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
