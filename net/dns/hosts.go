package dns

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// HostsConfig is what Hosts needs of a pod.
type HostsConfig struct {
	// PodIPs are the pod's addresses; each gets a line naming the pod.
	PodIPs []netip.Addr
	// Hostname is the pod's host name (see PodHostname).
	Hostname string
	// Subdomain, Namespace and ClusterDomain make the pod's FQDN
	// <hostname>.<subdomain>.<namespace>.svc.<clusterDomain> when Subdomain
	// and ClusterDomain are set.
	Subdomain, Namespace, ClusterDomain string
	// HostAliases are the pod's spec.hostAliases.
	HostAliases []v1.HostAlias
}

// Hosts returns the kubelet's managed /etc/hosts for a pod that is not on the
// host network.
func Hosts(cfg HostsConfig) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	for _, ip := range cfg.PodIPs {
		if cfg.Subdomain != "" && cfg.ClusterDomain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", ip, cfg.Hostname, cfg.Subdomain, cfg.Namespace, cfg.ClusterDomain, cfg.Hostname)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, cfg.Hostname)
		}
	}
	if len(cfg.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range cfg.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.Bytes()
}

// maxHostnameLen is the longest host name the kernel accepts.
const maxHostnameLen = 63

// PodHostname returns a pod's host name as the kubelet sets it: spec.hostname
// when given, else the pod's name, cut to 63 characters without a trailing
// '-' or '.'.
func PodHostname(podName, specHostname string) string {
	h := podName
	if specHostname != "" {
		h = specHostname
	}
	if len(h) <= maxHostnameLen {
		return h
	}
	return strings.TrimRight(h[:maxHostnameLen], "-.")
}
