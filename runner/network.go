package runner

import (
	"context"
	"net/netip"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/net/cni"
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
	// EnsureNode checks what the network sets up once per node (runner's
	// bridge, its address, its firewall rules) and puts back what is
	// missing. Called by the watcher at each relist, off the loop.
	EnsureNode(ctx context.Context) error
}

// DNSConfig is what the pods' resolv.conf and hosts files are made from.
type DNSConfig struct {
	// ResolvConf is the host's resolv.conf (--resolv-conf).
	ResolvConf string
	// HostsFile is the host's hosts file, the base of host-network pods'
	// (default /etc/hosts).
	HostsFile string
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
