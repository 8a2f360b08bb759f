package cni

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/containernetworking/cni/libcni"
)

// Defaults of Config.
var (
	DefaultBinDirs    = []string{"/opt/cni/bin", "/usr/lib/cni"}
	DefaultConfDir    = "/etc/cni/net.d"
	DefaultBridgeName = "runner0"
)

// networkName is the name of the generated network; it appears in libcni's
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
	// ConfDir is searched for a user network configuration. Default
	// DefaultConfDir. A missing directory means: generate one.
	ConfDir string
	// CacheDir is libcni's cache directory; required, and it should lie under
	// runner's root directory so that it lives and dies with the IP
	// allocations.
	CacheDir string
	// BridgeName is the bridge of the generated network. Default
	// DefaultBridgeName.
	BridgeName string
	// CIDR is the PodCIDR of the generated network (IPv4). Required unless a
	// user configuration is found.
	CIDR netip.Prefix
	// Gateway is the bridge's address. Default and only accepted value: the
	// first address of CIDR, which the bridge plugin assigns to the bridge
	// when the static IPAM plugin names no gateway.
	Gateway netip.Addr
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
	if cfg.ConfDir == "" {
		cfg.ConfDir = DefaultConfDir
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

// findUserConfig returns the first *.conf, *.conflist or *.json file of dir
// in lexical order, or "" when there is none (or no dir).
func findUserConfig(dir string) (string, error) {
	files, err := libcni.ConfFiles(dir, []string{".conf", ".conflist", ".json"})
	if err != nil {
		return "", fmt.Errorf("read CNI config dir %s: %w", dir, err)
	}
	if len(files) == 0 {
		return "", nil
	}
	slices.Sort(files)
	return files[0], nil
}

// loadUserConfig parses a user configuration file: a *.conflist as a list,
// anything else as a single plugin configuration wrapped into a list.
func loadUserConfig(path string) (*libcni.NetworkConfigList, error) {
	if filepath.Ext(path) == ".conflist" {
		list, err := libcni.NetworkConfFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("load CNI config %s: %w", path, err)
		}
		return list, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load CNI config: %w", err)
	}
	var single struct {
		Name       string `json:"name"`
		CNIVersion string `json:"cniVersion"`
		Type       string `json:"type"`
	}
	if err := json.Unmarshal(data, &single); err != nil {
		return nil, fmt.Errorf("load CNI config %s: %w", path, err)
	}
	if single.Type == "" {
		return nil, fmt.Errorf("load CNI config %s: no plugin type", path)
	}
	wrapped, err := json.Marshal(map[string]any{
		"name":       single.Name,
		"cniVersion": single.CNIVersion,
		"plugins":    []json.RawMessage{data},
	})
	if err != nil {
		return nil, fmt.Errorf("load CNI config %s: %w", path, err)
	}
	list, err := libcni.NetworkConfFromBytes(wrapped)
	if err != nil {
		return nil, fmt.Errorf("load CNI config %s: %w", path, err)
	}
	return list, nil
}

// generatedConfig returns runner's own network list for cfg (see the package
// doc). The pod's address is not part of it: Attach passes it as the "ips"
// capability, which libcni injects as runtimeConfig.ips into the bridge
// plugin's configuration and the bridge plugin hands on to "static".
func generatedConfig(cfg Config) ([]byte, error) {
	if !cfg.CIDR.IsValid() || !cfg.CIDR.Addr().Is4() || cfg.CIDR.Bits() > 30 {
		return nil, fmt.Errorf("generate CNI config: CIDR %q is not an IPv4 prefix of /30 or larger", cfg.CIDR)
	}
	if cfg.Gateway != firstAddr(cfg.CIDR) {
		return nil, fmt.Errorf("generate CNI config: gateway %s must be the first address of %s", cfg.Gateway, cfg.CIDR)
	}
	if cfg.BridgeName == "" || len(cfg.BridgeName) > 15 {
		return nil, fmt.Errorf("generate CNI config: bridge name %q must have 1 to 15 characters", cfg.BridgeName)
	}
	type obj = map[string]any
	list := obj{
		"cniVersion": cniVersion,
		"name":       networkName,
		"plugins": []obj{
			{
				"type":         "bridge",
				"bridge":       cfg.BridgeName,
				"isGateway":    true,
				"ipMasq":       true,
				"hairpinMode":  true,
				"capabilities": obj{"ips": true},
				"ipam": obj{
					"type":   "static",
					"routes": []obj{{"dst": "0.0.0.0/0", "gw": cfg.Gateway.String()}},
				},
			},
			{"type": "firewall", "backend": "iptables"},
			{"type": "portmap", "snat": true, "capabilities": obj{"portMappings": true}},
		},
	}
	return json.MarshalIndent(list, "", "  ")
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
