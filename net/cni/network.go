package cni

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

// The network plugins of --network-plugin, as the dockershim kubelet named
// them.
const (
	// Kubenet is runner's own network: its bridge, its PodCIDR, addresses
	// from runner's allocator. Nothing in the CNI configuration directory is
	// read.
	Kubenet = "kubenet"
	// CNI is a network list from the CNI configuration directory, with its
	// own IPAM.
	CNI = "cni"
)

// Network is one network configuration, complete enough to run ADD and, much
// later, DEL with it: attachment records keep the Network of each ADD, so
// that a DEL after a restart of runner, or after the user changed
// --network-plugin or edited the file, uses the configuration of the ADD.
type Network struct {
	// Plugin is Kubenet or CNI.
	Plugin string `json:"plugin"`
	// Name is the network list's name.
	Name string `json:"name"`
	// File is the configuration file it was read from (CNI only).
	File string `json:"file,omitempty"`
	// Bridge and CIDR are runner's own network's bridge and PodCIDR
	// (Kubenet only).
	Bridge string       `json:"bridge,omitempty"`
	CIDR   netip.Prefix `json:"cidr,omitzero"`
	// Config is the network list, as CNI reads it (a single plugin's *.conf
	// is wrapped into a list).
	Config json.RawMessage `json:"config"`
}

// ID identifies the network by its content: the first 16 hex digits of the
// SHA-256 of its JSON form. Records refer to networks by it.
func (n Network) ID() string {
	data, _ := json.Marshal(n) // a Network always marshals
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// Own returns runner's own network (Kubenet) on bridge with addresses of
// cidr; the bridge has cidr's first address. See the package doc for its
// plugins.
func Own(bridge string, cidr netip.Prefix) (Network, error) {
	if bridge == "" {
		bridge = DefaultBridgeName
	}
	cidr = cidr.Masked()
	data, err := generatedConfig(bridge, cidr, false)
	if err != nil {
		return Network{}, err
	}
	return Network{Plugin: Kubenet, Name: networkName, Bridge: bridge, CIDR: cidr, Config: data}, nil
}

// ForPod returns the network a pod is attached with: for runner's own, the
// list with portmap when the pod has hostPorts (without, portmap would only
// cost time); a user's list unchanged, whatever it holds.
func (n Network) ForPod(hostPorts bool) Network {
	if n.Plugin != Kubenet || !hostPorts {
		return n
	}
	data, err := generatedConfig(n.Bridge, n.CIDR, true)
	if err != nil {
		return n // Own validated bridge and CIDR already
	}
	n.Config = data
	return n
}

// Node is the once-per-node part of runner's own network n (Kubenet only).
func (n Network) Node() Node { return Node{Bridge: n.Bridge, CIDRs: []netip.Prefix{n.CIDR}} }

// Load chooses a network list from dir, as the kubelet's --network-plugin=cni
// did: the files *.conflist, *.conf and *.json in lexical order, the first
// that parses and names at least one plugin; with name set, the first whose
// network is called name. Files it passes over are explained in the error
// when none is usable; the error names dir.
func Load(dir, name string) (Network, error) {
	files, err := libcni.ConfFiles(dir, []string{".conflist", ".conf", ".json"})
	if err != nil {
		return Network{}, fmt.Errorf("--network-plugin=cni: read CNI config dir %s: %w", dir, err)
	}
	slices.Sort(files)
	var skipped []string
	for _, path := range files {
		list, err := loadFile(path)
		if err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		if name != "" && list.Name != name {
			skipped = append(skipped, fmt.Sprintf("%s: network %q is not %q", filepath.Base(path), list.Name, name))
			continue
		}
		return Network{Plugin: CNI, Name: list.Name, File: path, Config: list.Bytes}, nil
	}
	want := "usable network configuration"
	if name != "" {
		want = fmt.Sprintf("network named %q (--cni-network)", name)
	}
	msg := fmt.Sprintf("--network-plugin=cni: no %s in %s (*.conflist, *.conf, *.json)", want, dir)
	if len(skipped) > 0 {
		msg += ": " + strings.Join(skipped, "; ")
	}
	return Network{}, errors.New(msg)
}

// loadFile parses a configuration file: a *.conflist as a list, anything
// else as a single plugin's configuration wrapped into a list. A list
// without plugins is an error.
func loadFile(path string) (*libcni.NetworkConfigList, error) {
	base := filepath.Base(path)
	if filepath.Ext(path) == ".conflist" {
		list, err := libcni.NetworkConfFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", base, err)
		}
		if len(list.Plugins) == 0 {
			return nil, fmt.Errorf("%s: no plugins", base)
		}
		return list, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", base, err)
	}
	var single struct {
		Name       string `json:"name"`
		CNIVersion string `json:"cniVersion"`
		Type       string `json:"type"`
	}
	if err := json.Unmarshal(data, &single); err != nil {
		return nil, fmt.Errorf("%s: %w", base, err)
	}
	if single.Type == "" {
		return nil, fmt.Errorf("%s: no plugin type", base)
	}
	wrapped, err := json.Marshal(map[string]any{
		"name":       single.Name,
		"cniVersion": single.CNIVersion,
		"plugins":    []json.RawMessage{data},
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", base, err)
	}
	list, err := libcni.NetworkConfFromBytes(wrapped)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", base, err)
	}
	return list, nil
}

// Describe says in a few words which network n is and where it comes from,
// for runner's start log.
func (n Network) Describe() string {
	switch n.Plugin {
	case Kubenet:
		return fmt.Sprintf("runner's own bridge %s, pod CIDR %s, gateway %s", n.Bridge, n.CIDR, firstAddr(n.CIDR))
	default:
		list, err := libcni.NetworkConfFromBytes(n.Config)
		plugins := "?"
		if err == nil {
			plugins = strings.Join(pluginTypes(list), ",")
		}
		return fmt.Sprintf("network %q from %s (plugins %s, addresses from its own IPAM)", n.Name, n.File, plugins)
	}
}

// Cached returns the network of the ADD that libcni's cache in cacheDir
// holds for sandbox id on ifName, for attachments recorded before records
// kept their network. A network named as runner's own is taken for it, its
// bridge and CIDR read back from the configuration and the "ips" argument.
func Cached(cacheDir, id, ifName string) (Network, bool) {
	atts, err := libcni.NewCNIConfigWithCacheDir(nil, cacheDir, nil).GetCachedAttachments(id)
	if err != nil {
		return Network{}, false
	}
	for _, a := range atts {
		if a.IfName != ifName || a.Network == loopbackName {
			continue
		}
		n := Network{Plugin: CNI, Name: a.Network, Config: a.Config}
		if a.Network != networkName {
			return n, true
		}
		n.Plugin = Kubenet
		var list struct {
			Plugins []struct {
				Bridge string `json:"bridge"`
			} `json:"plugins"`
		}
		if json.Unmarshal(a.Config, &list) != nil || len(list.Plugins) == 0 {
			return Network{}, false
		}
		n.Bridge = list.Plugins[0].Bridge
		ips, _ := a.CapabilityArgs["ips"].([]any)
		if len(ips) == 0 {
			return Network{}, false
		}
		s, _ := ips[0].(string)
		prefix, err := netip.ParsePrefix(s)
		if err != nil {
			return Network{}, false
		}
		n.CIDR = prefix.Masked()
		return n, true
	}
	return Network{}, false
}
