package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/utils"
)

// PortMapping is a hostPort of a pod, in the form of the portmap plugin's
// portMappings capability.
type PortMapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"` // "tcp", "udp" or "sctp"; default "tcp"
	HostIP        string `json:"hostIP,omitempty"`
}

// CollidesWith reports whether p and q claim the same host port: the same
// port and protocol on the same host address, or on all of them ("" or
// 0.0.0.0).
func (p PortMapping) CollidesWith(q PortMapping) bool {
	if p.HostPort != q.HostPort || p.Proto() != q.Proto() {
		return false
	}
	return p.HostIP == "" || q.HostIP == "" || p.HostIP == "0.0.0.0" || q.HostIP == "0.0.0.0" || p.HostIP == q.HostIP
}

// Proto is the mapping's protocol in lower case; "tcp" when unset.
func (p PortMapping) Proto() string {
	if p.Protocol == "" {
		return "tcp"
	}
	return strings.ToLower(p.Protocol)
}

// AttachRequest asks to attach one sandbox to the network.
type AttachRequest struct {
	// ID identifies the sandbox (its pause container's id); libcni's cache and
	// the plugins' iptables rules are keyed by it.
	ID string
	// NetNS is the path of the sandbox's network namespace, e.g.
	// /proc/<pid>/ns/net of the pause container.
	NetNS string
	// IfName is the interface inside the namespace. Default "eth0".
	IfName string
	// IP is the address the allocator chose; ignored with a user config.
	IP netip.Addr
	// PortMappings are the pod's hostPorts.
	PortMappings []PortMapping
	// PodNamespace, PodName and PodUID are passed to the plugins as the
	// kubelet does (K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID,
	// K8S_POD_INFRA_CONTAINER_ID in CNI_ARGS), for user configs whose plugins
	// want them. Optional.
	PodNamespace, PodName, PodUID string
}

// DetachRequest asks to detach one sandbox from the network. It carries what
// the AttachRequest had, so that DEL can clean up even without libcni's
// cached result.
type DetachRequest struct {
	ID string
	// NetNS may name a namespace that no longer exists (the pause process
	// died), or be empty; DEL still runs so that the plugins remove their
	// host-side state.
	NetNS                         string
	IfName                        string
	IP                            netip.Addr
	PortMappings                  []PortMapping
	PodNamespace, PodName, PodUID string
}

// Result is what Attach configured.
type Result struct {
	IP            netip.Addr // the sandbox's IPv4 address
	Gateway       netip.Addr
	Interface     string // inside the namespace, e.g. "eth0"
	HostInterface string // host side of the pair, e.g. "veth1a2b3c4d"; "" when the plugin names none
}

// Plugin attaches and detaches sandboxes with one network configuration. It
// is safe for concurrent use by the per-pod workers; calls for one sandbox
// must not overlap (the loop runs one worker per pod).
type Plugin struct {
	cfg     Config
	network Network
	own     bool // runner's own network: the caller's address, CIDR checks
	gateway netip.Addr
	cni     *libcni.CNIConfig
	exec    *pluginExec
	ipt     ipTables
	list    *libcni.NetworkConfigList
	// portList is runner's own list with portmap, for a pod with hostPorts
	// when list has none (nil otherwise).
	portList *libcni.NetworkConfigList
	loopback *libcni.PluginConfig
	// nsIdentity identifies a network namespace by path (netnsIdentity;
	// unit tests replace it to run fake plugins without namespaces).
	nsIdentity func(path string) (nsIdent, error)
}

// New returns a Plugin for runner's own network (Own) on cfg.BridgeName
// with addresses of cfg.CIDR.
func New(cfg Config) (*Plugin, error) {
	cfg = cfg.withDefaults()
	n, err := Own(cfg.BridgeName, cfg.CIDR)
	if err != nil {
		return nil, fmt.Errorf("new CNI plugin: %w", err)
	}
	return Open(cfg, n)
}

// Open returns a Plugin for the network n (from Own, Load, or a record of
// an earlier ADD). It checks that the configuration parses and that every
// plugin binary it names exists; it runs none.
func Open(cfg Config, n Network) (*Plugin, error) {
	cfg = cfg.withDefaults()
	if cfg.CacheDir == "" {
		return nil, errors.New("new CNI plugin: no CacheDir")
	}
	p := &Plugin{cfg: cfg, network: n, own: n.Plugin == Kubenet, nsIdentity: netnsIdentity}
	switch n.Plugin {
	case Kubenet:
		if !n.CIDR.IsValid() || !n.CIDR.Addr().Is4() {
			return nil, fmt.Errorf("new CNI plugin: runner's own network needs an IPv4 CIDR, not %q", n.CIDR)
		}
		p.gateway = firstAddr(n.CIDR)
	case CNI:
	default:
		return nil, fmt.Errorf("new CNI plugin: unknown network plugin %q (want %s or %s)", n.Plugin, Kubenet, CNI)
	}
	var err error
	if p.list, err = libcni.NetworkConfFromBytes(n.Config); err != nil {
		return nil, fmt.Errorf("new CNI plugin: network %q: %w", n.Name, err)
	}
	if p.own && !hasPlugin(p.list, "portmap") {
		data, err := generatedConfig(n.Bridge, n.CIDR, true)
		if err != nil {
			return nil, fmt.Errorf("new CNI plugin: %w", err)
		}
		if p.portList, err = libcni.NetworkConfFromBytes(data); err != nil {
			return nil, fmt.Errorf("new CNI plugin: %w", err)
		}
	}
	if p.loopback, err = loopbackConfig(); err != nil {
		return nil, fmt.Errorf("new CNI plugin: %w", err)
	}
	// An explicit Exec: libcni would otherwise create one lazily on first
	// use, which races when workers call concurrently; and libcni's own
	// leaves a plugin's children running past the deadline.
	p.exec = &pluginExec{trace: cfg.Trace}
	p.ipt = ipTables{trace: cfg.Trace}
	p.cni = libcni.NewCNIConfigWithCacheDir(cfg.BinDirs, cfg.CacheDir, p.exec)
	needed := append(pluginTypes(p.list), "loopback")
	if p.own {
		needed = append(needed, "static", "portmap")
	}
	for _, typ := range needed {
		if _, err := p.exec.FindInPath(typ, cfg.BinDirs); err != nil {
			return nil, fmt.Errorf("new CNI plugin: %s: %w", n.Describe(), err)
		}
	}
	return p, nil
}

// hasPlugin reports whether list runs a plugin of type typ.
func hasPlugin(list *libcni.NetworkConfigList, typ string) bool {
	for _, pl := range list.Plugins {
		if pl.Network.Type == typ {
			return true
		}
	}
	return false
}

// perPodRules reports whether list is runner's own list of an earlier
// runner, whose bridge (ipMasq) and firewall plugins kept iptables rules per
// pod that their DEL may leave: Detach scrubs them.
func (p *Plugin) perPodRules(list *libcni.NetworkConfigList) bool {
	if !p.own {
		return false
	}
	for _, pl := range list.Plugins {
		var br struct {
			IPMasq bool `json:"ipMasq"`
		}
		if pl.Network.Type == "firewall" || (pl.Network.Type == "bridge" && json.Unmarshal(pl.Bytes, &br) == nil && br.IPMasq) {
			return true
		}
	}
	return false
}

// listFor is the list an ADD runs: for runner's own network, with portmap
// only when the pod has hostPorts.
func (p *Plugin) listFor(hostPorts bool) *libcni.NetworkConfigList {
	if hostPorts && p.portList != nil {
		return p.portList
	}
	return p.list
}

// delList is the list a DEL runs: for runner's own network the one of the
// ADD, from libcni's cache, else (cache lost) the one with portmap, whose
// DEL removes a hostPort chain the ADD may have left.
func (p *Plugin) delList(rt *libcni.RuntimeConf) *libcni.NetworkConfigList {
	if !p.own {
		return p.list
	}
	if data, _, err := p.cni.GetNetworkListCachedConfig(p.list, rt); err == nil && len(data) > 0 {
		if list, err := libcni.NetworkConfFromBytes(data); err == nil {
			return list
		}
	}
	return p.listFor(true)
}

// pluginTypes lists the plugin types of list in order.
func pluginTypes(list *libcni.NetworkConfigList) []string {
	types := make([]string, 0, len(list.Plugins))
	for _, pl := range list.Plugins {
		types = append(types, pl.Network.Type)
	}
	return types
}

// Network returns the network the Plugin uses.
func (p *Plugin) Network() Network { return p.network }

// OwnIPAM reports whether the network takes its addresses from the caller
// (runner's own network) rather than from its own IPAM plugin.
func (p *Plugin) OwnIPAM() bool { return p.own }

// runtimeConf builds libcni's per-call arguments.
func (p *Plugin) runtimeConf(id, netns, ifName string, ip netip.Addr, ports []PortMapping, podNS, podName, podUID string) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{
		ContainerID:    id,
		NetNS:          netns,
		IfName:         ifName,
		CapabilityArgs: map[string]any{},
	}
	if len(ports) > 0 {
		maps := make([]PortMapping, len(ports))
		for i, pm := range ports {
			if pm.Protocol == "" {
				pm.Protocol = "tcp"
			}
			maps[i] = pm
		}
		rt.CapabilityArgs["portMappings"] = maps
	}
	if p.own && ip.IsValid() {
		rt.CapabilityArgs["ips"] = []string{netip.PrefixFrom(ip, p.network.CIDR.Bits()).String()}
	}
	if podNS != "" || podName != "" || podUID != "" {
		rt.Args = [][2]string{
			{"IgnoreUnknown", "1"},
			{"K8S_POD_NAMESPACE", podNS},
			{"K8S_POD_NAME", podName},
			{"K8S_POD_INFRA_CONTAINER_ID", id},
			{"K8S_POD_UID", podUID},
		}
	}
	return rt
}

// validate checks the fields common to Attach and Detach and fills in the
// interface name.
func validate(id, ifName string) (string, error) {
	if err := utils.ValidateContainerID(id); err != nil {
		return "", fmt.Errorf("invalid sandbox id %q: %w", id, err)
	}
	if ifName == "" {
		ifName = "eth0"
	}
	if err := utils.ValidateInterfaceName(ifName); err != nil {
		return "", fmt.Errorf("invalid interface name %q: %w", ifName, err)
	}
	return ifName, nil
}
