package cni

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// Attach runs CNI ADD for one sandbox: the loopback plugin, then the network
// list, all within Config.Timeout (plugins still running then are killed).
// The per-pod worker calls it after it started the sandbox's pause
// container. A failed, timed-out or cancelled ADD is rolled back (DEL, within
// Config.RollbackTimeout) before Attach returns the error, which names the
// sandbox and wraps the plugin's message. Attach may
// be retried for the same sandbox: leftovers of an earlier attempt that
// libcni's cache knows of are deleted first.
func (p *Plugin) Attach(ctx context.Context, req AttachRequest) (Result, error) {
	ifName, err := validate(req.ID, req.IfName)
	if err != nil {
		return Result{}, fmt.Errorf("attach sandbox: %w", err)
	}
	if req.NetNS == "" {
		return Result{}, fmt.Errorf("attach sandbox %s: no network namespace", req.ID)
	}
	if p.own && (!req.IP.Is4() || !p.network.CIDR.Contains(req.IP) || req.IP == p.gateway) {
		return Result{}, fmt.Errorf("attach sandbox %s: address %q is not a pod address of %s", req.ID, req.IP, p.network.CIDR)
	}
	ident, err := p.nsIdentity(req.NetNS)
	if err != nil {
		return Result{}, fmt.Errorf("attach sandbox %s: %w", req.ID, err)
	}
	if own, err := p.nsIdentity(ownNetNSPath); err == nil && own == ident {
		return Result{}, fmt.Errorf("attach sandbox %s: %s is runner's own network namespace", req.ID, req.NetNS)
	}
	rt := p.runtimeConf(req.ID, req.NetNS, ifName, req.IP, req.PortMappings, req.PodNamespace, req.PodName, req.PodUID)
	loRT := &libcni.RuntimeConf{ContainerID: req.ID, NetNS: req.NetNS, IfName: "lo"}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	list := p.listFor(len(req.PortMappings) > 0)

	if cached, err := p.cni.GetNetworkListCachedResult(list, rt); err == nil && cached != nil {
		if err := p.del(ctx, req.ID, p.delList(rt), rt, loRT, req.IP); err != nil {
			return Result{}, fmt.Errorf("attach sandbox %s: delete leftovers of an earlier attach: %w", req.ID, err)
		}
	}
	if err := p.recordNetNS(req.ID, ifName, ident); err != nil {
		return Result{}, fmt.Errorf("attach sandbox %s: %w", req.ID, err)
	}
	if _, err := p.cni.AddNetwork(ctx, p.loopback, loRT); err != nil {
		return Result{}, p.rollback(ctx, req.ID, list, rt, loRT, req.IP, fmt.Errorf("attach sandbox %s: loopback: %w", req.ID, err))
	}
	raw, err := p.cni.AddNetworkList(ctx, list, rt)
	if err != nil {
		return Result{}, p.rollback(ctx, req.ID, list, rt, loRT, req.IP, fmt.Errorf("attach sandbox %s to network %s: %w", req.ID, list.Name, err))
	}
	res, err := convertResult(raw, ifName)
	if err != nil {
		return Result{}, p.rollback(ctx, req.ID, list, rt, loRT, req.IP, fmt.Errorf("attach sandbox %s to network %s: %w", req.ID, list.Name, err))
	}
	if p.own && !res.Gateway.IsValid() {
		res.Gateway = p.gateway
	}
	if p.own && res.IP != req.IP {
		return Result{}, p.rollback(ctx, req.ID, list, rt, loRT, req.IP,
			fmt.Errorf("attach sandbox %s to network %s: plugins configured %s, asked for %s", req.ID, list.Name, res.IP, req.IP))
	}
	return res, nil
}

// rollback undoes a failed Attach on a context detached from the caller's
// (whose cancellation or deadline may be what failed), bounded by
// RollbackTimeout, and returns cause joined with any rollback error.
func (p *Plugin) rollback(ctx context.Context, id string, list *libcni.NetworkConfigList, rt, loRT *libcni.RuntimeConf, ip netip.Addr, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.RollbackTimeout)
	defer cancel()
	if err := p.del(ctx, id, list, rt, loRT, ip); err != nil {
		return errors.Join(cause, fmt.Errorf("roll back: %w", err))
	}
	if err := p.forgetNetNS(id, rt.IfName); err != nil {
		return errors.Join(cause, fmt.Errorf("roll back: %w", err))
	}
	return cause
}

// convertResult turns the list's result into a Result: the first IPv4
// address, its gateway, the interface inside the namespace and the last
// host-side interface (the veth of bridge and ptp).
func convertResult(raw types.Result, ifName string) (Result, error) {
	cur, err := types100.NewResultFromResult(raw)
	if err != nil {
		return Result{}, fmt.Errorf("convert result: %w", err)
	}
	res := Result{Interface: ifName}
	for _, ipc := range cur.IPs {
		addr, ok := netip.AddrFromSlice(ipc.Address.IP)
		if !ok || !addr.Unmap().Is4() {
			continue
		}
		res.IP = addr.Unmap()
		if gw, ok := netip.AddrFromSlice(ipc.Gateway); ok {
			res.Gateway = gw.Unmap()
		}
		if ipc.Interface != nil && *ipc.Interface >= 0 && *ipc.Interface < len(cur.Interfaces) {
			res.Interface = cur.Interfaces[*ipc.Interface].Name
		}
		break
	}
	if !res.IP.IsValid() {
		return Result{}, errors.New("result has no IPv4 address")
	}
	for _, iface := range cur.Interfaces {
		if iface.Sandbox == "" {
			res.HostInterface = iface.Name
		}
	}
	return res, nil
}
