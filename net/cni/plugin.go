package cni

import (
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
	cfg         Config
	cni         *libcni.CNIConfig
	exec        *pluginExec
	ipt         ipTables
	list        *libcni.NetworkConfigList
	loopback    *libcni.PluginConfig
	userConfig  string // path of the user config; "" for the generated one
	description string
	// nsIdentity identifies a network namespace by path (netnsIdentity;
	// unit tests replace it to run fake plugins without namespaces).
	nsIdentity func(path string) (nsIdent, error)
}

// New returns a Plugin for cfg: with the user's configuration when ConfDir
// holds one, else with a generated one (which needs CIDR). It checks that the
// configuration parses and that every plugin binary it names exists.
func New(cfg Config) (*Plugin, error) {
	cfg = cfg.withDefaults()
	if cfg.CacheDir == "" {
		return nil, errors.New("new CNI plugin: no CacheDir")
	}
	p := &Plugin{cfg: cfg, nsIdentity: netnsIdentity}
	path, err := findUserConfig(cfg.ConfDir)
	if err != nil {
		return nil, fmt.Errorf("new CNI plugin: %w", err)
	}
	if path != "" {
		if p.list, err = loadUserConfig(path); err != nil {
			return nil, fmt.Errorf("new CNI plugin: %w", err)
		}
		p.userConfig = path
		p.description = fmt.Sprintf("user CNI config %s (network %q, plugins %s)", path, p.list.Name, pluginTypes(p.list))
	} else {
		if !p.cfg.Gateway.IsValid() && p.cfg.CIDR.IsValid() {
			p.cfg.Gateway = firstAddr(p.cfg.CIDR)
		}
		data, err := generatedConfig(p.cfg)
		if err != nil {
			return nil, fmt.Errorf("new CNI plugin: %w", err)
		}
		if p.list, err = libcni.NetworkConfFromBytes(data); err != nil {
			return nil, fmt.Errorf("new CNI plugin: parse generated config: %w", err)
		}
		p.description = fmt.Sprintf("generated CNI config (bridge %s, %s via %s, plugins %s; no config in %s)",
			p.cfg.BridgeName, p.cfg.CIDR.Masked(), p.cfg.Gateway, pluginTypes(p.list), cfg.ConfDir)
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
	if p.userConfig == "" {
		needed = append(needed, "static")
	}
	for _, typ := range needed {
		if _, err := p.exec.FindInPath(typ, cfg.BinDirs); err != nil {
			return nil, fmt.Errorf("new CNI plugin: %s: %w", p.description, err)
		}
	}
	return p, nil
}

// pluginTypes lists the plugin types of list in order.
func pluginTypes(list *libcni.NetworkConfigList) []string {
	types := make([]string, 0, len(list.Plugins))
	for _, pl := range list.Plugins {
		types = append(types, pl.Network.Type)
	}
	return types
}

// Description says which configuration the Plugin uses, for the caller to
// log at start ("using user CNI config /etc/cni/net.d/10-x.conflist ...").
func (p *Plugin) Description() string { return p.description }

// UserConfig returns the path of the user configuration in use, or "" when
// the Plugin generated its own.
func (p *Plugin) UserConfig() string { return p.userConfig }

// NetworkName returns the name of the network list in use.
func (p *Plugin) NetworkName() string { return p.list.Name }

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
	if p.userConfig == "" && ip.IsValid() {
		rt.CapabilityArgs["ips"] = []string{netip.PrefixFrom(ip, p.cfg.CIDR.Bits()).String()}
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
