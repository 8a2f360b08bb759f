package cni

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/containernetworking/cni/libcni"
)

// Detach runs CNI DEL for one sandbox: the network list, then loopback. The
// per-pod worker calls it before it removes the sandbox, also when the pause
// process is gone. It is idempotent and safe to retry: with nothing left to
// delete it succeeds. It ends within Config.Timeout: plugins still running
// then are killed and Detach fails (the caller retries). When req.NetNS no
// longer exists (or is not the namespace Attach saw) DEL runs with an empty
// namespace so the plugins still remove their host-side state. For runner's
// own network the list is the ADD's (from libcni's cache), and for its lists
// of earlier runners Detach also removes the per-pod iptables rules their
// bridge plugin leaves behind. req.PortMappings default to those of the
// cached ADD (and for runner's own network to a placeholder that still
// makes portmap remove its chain).
func (p *Plugin) Detach(ctx context.Context, req DetachRequest) error {
	ifName, err := validate(req.ID, req.IfName)
	if err != nil {
		return fmt.Errorf("detach sandbox: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	netns := p.usableNetNS(req.ID, ifName, req.NetNS)
	rt := p.runtimeConf(req.ID, netns, ifName, req.IP, req.PortMappings, req.PodNamespace, req.PodName, req.PodUID)
	list := p.delList(rt)
	if len(req.PortMappings) == 0 {
		if _, cachedRT, err := p.cni.GetNetworkListCachedConfig(list, rt); err == nil && cachedRT != nil {
			if pm, ok := cachedRT.CapabilityArgs["portMappings"]; ok {
				rt.CapabilityArgs["portMappings"] = pm
			}
		}
		if _, known := rt.CapabilityArgs["portMappings"]; !known && p.own && hasPlugin(list, "portmap") {
			// The portmap plugin's DEL does nothing without mappings, but
			// with any it tears down the sandbox's whole DNAT chain: a
			// placeholder cleans up after an ADD whose cache was lost.
			rt.CapabilityArgs["portMappings"] = []PortMapping{{HostPort: 1, ContainerPort: 1, Protocol: "tcp"}}
		}
	}
	loRT := &libcni.RuntimeConf{ContainerID: req.ID, NetNS: netns, IfName: "lo"}
	if err := p.del(ctx, req.ID, list, rt, loRT, req.IP); err != nil {
		return fmt.Errorf("detach sandbox %s from network %s: %w", req.ID, list.Name, err)
	}
	if err := p.forgetNetNS(req.ID, ifName); err != nil {
		return fmt.Errorf("detach sandbox %s: %w", req.ID, err)
	}
	return nil
}

// del runs DEL of list and of loopback, and for runner's lists of earlier
// runners removes the rules their plugins may have left for ip. It tries every step and
// joins their errors.
func (p *Plugin) del(ctx context.Context, id string, list *libcni.NetworkConfigList, rt, loRT *libcni.RuntimeConf, ip netip.Addr) error {
	var errs []error
	perPodRules := p.perPodRules(list)
	if perPodRules && ip.IsValid() && rt.NetNS != "" {
		// The bridge plugin's DEL, finding the interface still in the
		// namespace, deletes the pod's masquerade chain and fails (with
		// iptables-nft) when an earlier DEL without namespace already
		// removed it. An empty chain makes that DEL succeed; scrubRules
		// removes it again below.
		if err := p.ipt.ensureChain(ctx, "nat", masqChain(networkName, id)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := p.cni.DelNetworkList(ctx, list, rt); err != nil {
		errs = append(errs, err)
	}
	if err := p.cni.DelNetwork(ctx, p.loopback, loRT); err != nil {
		errs = append(errs, fmt.Errorf("loopback: %w", err))
	}
	if perPodRules && ip.IsValid() {
		if err := p.ipt.scrubRules(ctx, networkName, id, ip); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
