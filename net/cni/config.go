package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/containernetworking/cni/libcni"
)

// Defaults of Config.
var (
	DefaultBinDirs    = []string{"/opt/cni/bin", "/usr/lib/cni"}
	DefaultConfDir    = "/etc/cni/net.d" // read by Load, for --network-plugin=cni only
	DefaultBridgeName = "runner0"
)

// networkName is the name of runner's own network; it appears in libcni's
// cache file names and in the plugins' iptables comments.
const networkName = "runner"

// loopbackName is the name of the loopback network run beside the list.
const loopbackName = "runner-loopback"

// cniVersion is the version of the generated configurations;
// containernetworking-plugins v1.1 and later speak it.
const cniVersion = "1.0.0"

// Config configures a Plugin.
type Config struct {
	// BinDirs are searched in order for plugin binaries. Default
	// DefaultBinDirs.
	BinDirs []string
	// CacheDir is libcni's cache directory; required, and it should lie under
	// runner's root directory so that it lives and dies with the IP
	// allocations.
	CacheDir string
	// BridgeName and CIDR are runner's own network's, for New (Open takes
	// them from its Network). BridgeName defaults to DefaultBridgeName.
	BridgeName string
	CIDR       netip.Prefix
	// Timeout bounds one Attach (CNI ADD of loopback and the list) and one
	// Detach; a plugin still running then is killed with its children.
	// Default DefaultTimeout.
	Timeout time.Duration
	// RollbackTimeout bounds the DEL that undoes a failed or cancelled ADD.
	// It runs on a context detached from the caller's, so it is also what a
	// SIGTERM during a hung ADD waits at most. Default DefaultRollbackTimeout.
	RollbackTimeout time.Duration
	// Trace, when set, is called after every plugin run and every iptables
	// run of the package, on the caller's goroutine (for measurements).
	Trace func(Call)
}

// Defaults of the timeouts of Config.
const (
	DefaultTimeout         = time.Minute
	DefaultRollbackTimeout = 10 * time.Second
)

// withDefaults fills in the defaults of cfg.
func (cfg Config) withDefaults() Config {
	if len(cfg.BinDirs) == 0 {
		cfg.BinDirs = slices.Clone(DefaultBinDirs)
	}
	if cfg.BridgeName == "" {
		cfg.BridgeName = DefaultBridgeName
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RollbackTimeout <= 0 {
		cfg.RollbackTimeout = DefaultRollbackTimeout
	}
	return cfg
}

// generatedConfig returns runner's own network list for a pod (see the
// package doc): the bridge plugin alone, and portmap after it for a pod
// with hostPorts. The pod's address is not part of it: Attach passes it as
// the "ips" capability, which libcni injects as runtimeConfig.ips into the
// bridge plugin's configuration and the bridge plugin hands on to "static".
// What is the same for every pod (the bridge's address, masquerading, the
// FORWARD rules) is the Node's, not the list's.
func generatedConfig(bridge string, cidr netip.Prefix, hostPorts bool) ([]byte, error) {
	if !cidr.IsValid() || !cidr.Addr().Is4() || cidr.Bits() > 30 {
		return nil, fmt.Errorf("generate CNI config: CIDR %q is not an IPv4 prefix of /30 or larger", cidr)
	}
	if bridge == "" || len(bridge) > 15 {
		return nil, fmt.Errorf("generate CNI config: bridge name %q must have 1 to 15 characters", bridge)
	}
	type obj = map[string]any
	plugins := []obj{{
		"type":         "bridge",
		"bridge":       bridge,
		"isGateway":    false,
		"ipMasq":       false,
		"hairpinMode":  true,
		"capabilities": obj{"ips": true},
		"ipam": obj{
			"type":   "static",
			"routes": []obj{{"dst": "0.0.0.0/0", "gw": firstAddr(cidr).String()}},
		},
	}}
	if hostPorts {
		plugins = append(plugins, obj{"type": "portmap", "snat": true, "capabilities": obj{"portMappings": true}})
	}
	return json.MarshalIndent(obj{"cniVersion": cniVersion, "name": networkName, "plugins": plugins}, "", "  ")
}

// firstAddr returns the address after the network address of p.
func firstAddr(p netip.Prefix) netip.Addr {
	return p.Masked().Addr().Next()
}

// loopbackConfig is the loopback plugin's configuration.
func loopbackConfig() (*libcni.PluginConfig, error) {
	conf, err := libcni.NetworkPluginConfFromBytes([]byte(
		`{"cniVersion":"` + cniVersion + `","name":"` + loopbackName + `","type":"loopback"}`))
	if err != nil {
		return nil, errors.Join(errors.New("loopback config"), err)
	}
	return conf, nil
}
