package runner

import (
	"context"
	"fmt"
	"net/netip"
	"os"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/internal/fsutil"
	"github.com/runner-dev/runner/net/dns"
	"github.com/runner-dev/runner/runner/runtime"
)

// dnsHook writes a pod's resolv.conf (from its dnsPolicy and dnsConfig) and
// its managed hosts file (its address, hostname, subdomain and hostAliases)
// once its sandbox runs, as the kubelet does, and bind-mounts both into
// each of its containers. Host-network pods get them too: the host's hosts
// file with their hostAliases, and for dnsPolicy ClusterFirstWithHostNet
// the cluster's DNS (ClusterFirst means the host's resolv.conf for them, as
// for the kubelet).
type dnsHook struct{ r *Runner }

func (dnsHook) Name() string { return "dns" }

func (h dnsHook) poststartSandbox(_ context.Context, s *sandboxRun) error {
	return h.r.writeDNSFiles(s)
}

func (h dnsHook) prestartContainer(_ context.Context, c *containerRun) error {
	resolv, err := h.r.volumes.ResolvConfPath(c.ref.uid)
	if err != nil {
		return err
	}
	hosts, err := h.r.volumes.HostsPath(c.ref.uid)
	if err != nil {
		return err
	}
	if !c.setupPending { // else they are being written, before the start
		for _, p := range []string{resolv, hosts} {
			if _, err := os.Stat(p); err != nil {
				return fmt.Errorf("DNS file of the pod's sandbox: %w", err)
			}
		}
	}
	c.create.Mounts = append(c.create.Mounts,
		runtime.Mount{Source: resolv, Target: "/etc/resolv.conf"},
		runtime.Mount{Source: hosts, Target: "/etc/hosts"})
	return nil
}

// writeDNSFiles writes the pod's resolv.conf and hosts into its directory.
func (r *Runner) writeDNSFiles(s *sandboxRun) error {
	pod := s.pod
	hostResolv, err := os.ReadFile(r.cfg.DNS.ResolvConf)
	if err != nil && r.cfg.DNS.ResolvConf != "" {
		s.log.Warn("cannot read the host's resolv.conf; the pod gets no inherited DNS", "path", r.cfg.DNS.ResolvConf, "error", err)
	}
	policy := pod.Spec.DNSPolicy
	if pod.Spec.HostNetwork && (policy == "" || policy == v1.DNSClusterFirst) {
		policy = v1.DNSDefault
	}
	resolv, notes, err := dns.ResolvConf(dns.ResolvConfig{
		Policy: policy, Config: pod.Spec.DNSConfig, Namespace: pod.Namespace,
		ClusterDNS: r.cfg.DNS.ClusterDNS, ClusterDomain: r.cfg.DNS.ClusterDomain, HostResolvConf: hostResolv,
	})
	if err != nil {
		return fmt.Errorf("resolv.conf of pod %s: %w", s.ref.key, err)
	}
	for _, n := range notes {
		s.log.Info("dns: " + n)
	}
	var hosts []byte
	if pod.Spec.HostNetwork {
		hostHosts, err := os.ReadFile(r.cfg.DNS.HostsFile)
		if err != nil {
			return fmt.Errorf("hosts of host-network pod %s: %w", s.ref.key, err)
		}
		hosts = dns.HostNetworkHosts(hostHosts, pod.Spec.HostAliases)
	} else {
		var ips []netip.Addr
		if s.ip.IsValid() {
			ips = append(ips, s.ip)
		}
		hosts = dns.Hosts(dns.HostsConfig{
			PodIPs: ips, Hostname: dns.PodHostname(pod.Name, pod.Spec.Hostname), Subdomain: pod.Spec.Subdomain,
			Namespace: pod.Namespace, ClusterDomain: r.cfg.DNS.ClusterDomain, HostAliases: pod.Spec.HostAliases,
		})
	}
	resolvPath, err := r.volumes.ResolvConfPath(pod.UID)
	if err != nil {
		return err
	}
	hostsPath, err := r.volumes.HostsPath(pod.UID)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(resolvPath, resolv, 0o644); err != nil {
		return fmt.Errorf("write resolv.conf of pod %s: %w", s.ref.key, err)
	}
	if err := fsutil.WriteFileAtomic(hostsPath, hosts, 0o644); err != nil {
		return fmt.Errorf("write hosts of pod %s: %w", s.ref.key, err)
	}
	return nil
}
