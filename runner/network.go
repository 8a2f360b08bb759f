package runner

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/internal/fsutil"
	"github.com/runner-dev/runner/net/cni"
	"github.com/runner-dev/runner/net/dns"
	"github.com/runner-dev/runner/net/podnet"
	"github.com/runner-dev/runner/runner/runtime"
)

// Network gives sandboxes of pods that are not on the host network their
// address (net/podnet implements it). nil in Config: such pods get a
// loopback interface only.
type Network interface {
	Attach(ctx context.Context, sb podnet.Sandbox) (netip.Addr, error)
	Detach(ctx context.Context, sandboxID string, pid int) error
	IP(sandboxID string) (netip.Addr, bool)
	Reconcile(ctx context.Context, live map[string]int) error
}

// DNSConfig is what the pods' resolv.conf is made from.
type DNSConfig struct {
	// ResolvConf is the host's resolv.conf (--resolv-conf).
	ResolvConf string
	// ClusterDNS and ClusterDomain serve dnsPolicy ClusterFirst.
	ClusterDNS    []netip.Addr
	ClusterDomain string
}

// podNetworked reports whether a pod's sandbox gets an address from Network.
func (r *Runner) podNetworked(pod *v1.Pod) bool {
	return r.cfg.Network != nil && !pod.Spec.HostNetwork
}

// reconcileNetwork releases the network of every sandbox that is gone.
// Called by the loop once at start.
func (r *Runner) reconcileNetwork(ctx context.Context, observed *observedState) {
	if r.cfg.Network == nil {
		return
	}
	live := map[string]int{}
	for id, c := range observed.byID {
		if isSandbox(c) {
			pid := 0
			if c.State == runtime.StateRunning {
				pid = c.Pid
			}
			live[id] = pid
		}
	}
	if err := r.cfg.Network.Reconcile(ctx, live); err != nil {
		r.log.Warn("releasing the network of gone sandboxes failed; retried at next start", "error", err)
	}
}

// attachNetwork gives a started sandbox its address and writes the pod's
// resolv.conf and hosts files. Called by a worker from createSandbox.
func (r *Runner) attachNetwork(ctx context.Context, log *slog.Logger, pod *v1.Pod, sb runtime.Container) (netip.Addr, error) {
	ip, err := r.cfg.Network.Attach(ctx, podnet.Sandbox{
		ID: sb.ID, Pid: sb.Pid, Pod: podKey(pod), PodUID: string(pod.UID), Ports: hostPorts(pod),
	})
	if err != nil {
		return ip, err
	}
	if err := r.writeNetworkFiles(log, pod, ip); err != nil {
		_ = r.cfg.Network.Detach(context.WithoutCancel(ctx), sb.ID, sb.Pid)
		return netip.Addr{}, err
	}
	log.Info("sandbox network ready", "sandbox_id", shortID(sb.ID), "pod_ip", ip.String())
	return ip, nil
}

// detachNetwork undoes attachNetwork for a sandbox about to be stopped or
// removed; a sandbox of a host-network pod, or one never attached, is a
// no-op. Called by workers.
func (r *Runner) detachNetwork(ctx context.Context, sb *runtime.Container) error {
	if r.cfg.Network == nil || !isSandbox(sb) {
		return nil
	}
	pid := 0
	if sb.State == runtime.StateRunning {
		pid = sb.Pid
	}
	return r.cfg.Network.Detach(ctx, sb.ID, pid)
}

// sandboxIP is the address of a pod's sandbox, if it has one.
func (r *Runner) sandboxIP(pod *v1.Pod, sandboxID string) (netip.Addr, bool) {
	if !r.podNetworked(pod) || sandboxID == "" {
		return netip.Addr{}, false
	}
	return r.cfg.Network.IP(sandboxID)
}

// hostPorts are the pod's hostPort mappings for portmap.
func hostPorts(pod *v1.Pod) []cni.PortMapping {
	var out []cni.PortMapping
	for _, list := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			for _, p := range c.Ports {
				if p.HostPort == 0 {
					continue
				}
				out = append(out, cni.PortMapping{
					HostPort: int(p.HostPort), ContainerPort: int(p.ContainerPort),
					Protocol: strings.ToLower(string(p.Protocol)), HostIP: p.HostIP,
				})
			}
		}
	}
	return out
}

// resolvConfPath and hostsPath are the pod's network files, bind-mounted
// into each of its containers.
func (r *Runner) resolvConfPath(pod *v1.Pod) string {
	return filepath.Join(r.podDir(pod.UID), "resolv.conf")
}

func (r *Runner) hostsPath(pod *v1.Pod) string {
	return filepath.Join(r.podDir(pod.UID), "hosts")
}

// writeNetworkFiles writes the pod's resolv.conf (from its dnsPolicy) and
// its managed hosts file, as the kubelet does.
func (r *Runner) writeNetworkFiles(log *slog.Logger, pod *v1.Pod, ip netip.Addr) error {
	host, err := os.ReadFile(r.cfg.DNS.ResolvConf)
	if err != nil && r.cfg.DNS.ResolvConf != "" {
		log.Warn("cannot read the host's resolv.conf; pods get no inherited DNS", "path", r.cfg.DNS.ResolvConf, "error", err)
	}
	resolv, notes, err := dns.ResolvConf(dns.ResolvConfig{
		Policy: pod.Spec.DNSPolicy, Config: pod.Spec.DNSConfig, Namespace: pod.Namespace,
		ClusterDNS: r.cfg.DNS.ClusterDNS, ClusterDomain: r.cfg.DNS.ClusterDomain, HostResolvConf: host,
	})
	if err != nil {
		return fmt.Errorf("resolv.conf of pod %s: %w", podKey(pod), err)
	}
	for _, n := range notes {
		log.Info("dns: " + n)
	}
	hosts := dns.Hosts(dns.HostsConfig{
		PodIPs: []netip.Addr{ip}, Hostname: dns.PodHostname(pod.Name, pod.Spec.Hostname), Subdomain: pod.Spec.Subdomain,
		Namespace: pod.Namespace, ClusterDomain: r.cfg.DNS.ClusterDomain, HostAliases: pod.Spec.HostAliases,
	})
	if err := fsutil.WriteFileAtomic(r.resolvConfPath(pod), resolv, 0o644); err != nil {
		return fmt.Errorf("write resolv.conf of pod %s: %w", podKey(pod), err)
	}
	if err := fsutil.WriteFileAtomic(r.hostsPath(pod), hosts, 0o644); err != nil {
		return fmt.Errorf("write hosts of pod %s: %w", podKey(pod), err)
	}
	return nil
}
