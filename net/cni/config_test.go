package cni

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBinDir holds empty executables named like the plugins, enough for New
// to find them.
func fakeBinDir(t *testing.T, plugins ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range plugins {
		if err := os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var allPlugins = []string{"bridge", "static", "firewall", "portmap", "loopback"}

func TestGeneratedConfig(t *testing.T) {
	p, err := New(Config{
		BinDirs:  []string{fakeBinDir(t, allPlugins...)},
		CacheDir: t.TempDir(),
		CIDR:     netip.MustParsePrefix("10.218.0.0/24"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Network(); !p.OwnIPAM() || n.Plugin != Kubenet || n.Name != "runner" || n.Bridge != "runner0" || n.CIDR.String() != "10.218.0.0/24" {
		t.Errorf("Network = %+v, OwnIPAM %v", n, p.OwnIPAM())
	}
	if d := p.Network().Describe(); !strings.Contains(d, "runner's own bridge runner0") || !strings.Contains(d, "10.218.0.1") {
		t.Errorf("Describe = %q", d)
	}
	// Per pod only the bridge plugin (and portmap for hostPorts): the
	// bridge's address, masquerading and FORWARD rules are the Node's.
	wantBridge := `{"bridge":"runner0","capabilities":{"ips":true},"hairpinMode":true,"ipMasq":false,` +
		`"ipam":{"routes":[{"dst":"0.0.0.0/0","gw":"10.218.0.1"}],"type":"static"},"isGateway":false,"type":"bridge"}`
	for _, tc := range []struct {
		list  []byte
		types []string
	}{
		{p.listFor(false).Bytes, []string{"bridge"}},
		{p.listFor(true).Bytes, []string{"bridge", "portmap"}},
		{p.Network().ForPod(true).Config, []string{"bridge", "portmap"}},
		{p.Network().ForPod(false).Config, []string{"bridge"}},
	} {
		var got struct {
			CNIVersion string           `json:"cniVersion"`
			Plugins    []map[string]any `json:"plugins"`
		}
		if err := json.Unmarshal(tc.list, &got); err != nil {
			t.Fatal(err)
		}
		if got.CNIVersion != "1.0.0" || len(got.Plugins) != len(tc.types) {
			t.Fatalf("list = %s, want plugins %v", tc.list, tc.types)
		}
		if b, _ := json.Marshal(got.Plugins[0]); string(b) != wantBridge {
			t.Errorf("bridge = %s\nwant     %s", b, wantBridge)
		}
		if len(tc.types) == 2 {
			if b, _ := json.Marshal(got.Plugins[1]); string(b) != `{"capabilities":{"portMappings":true},"snat":true,"type":"portmap"}` {
				t.Errorf("portmap = %s", b)
			}
		}
	}
	if p.perPodRules(p.list) || p.perPodRules(p.portList) {
		t.Error("today's own lists taken for ones with per-pod rules")
	}
}

func TestRuntimeConfCarriesAddressAndPorts(t *testing.T) {
	p, err := New(Config{BinDirs: []string{fakeBinDir(t, allPlugins...)}, CacheDir: t.TempDir(),
		CIDR: netip.MustParsePrefix("10.218.0.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	rt := p.runtimeConf("sbx", "/proc/1/ns/net", "eth0", netip.MustParseAddr("10.218.0.7"),
		[]PortMapping{{HostPort: 8080, ContainerPort: 80}}, "default", "web", "uid-1")
	b, _ := json.Marshal(rt.CapabilityArgs)
	if want := `{"ips":["10.218.0.7/24"],"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}]}`; string(b) != want {
		t.Errorf("capability args = %s\nwant %s", b, want)
	}
	if len(rt.Args) != 5 || rt.Args[0] != [2]string{"IgnoreUnknown", "1"} || rt.Args[2] != [2]string{"K8S_POD_NAME", "web"} {
		t.Errorf("args = %v", rt.Args)
	}
}

func TestNewErrors(t *testing.T) {
	cidr := netip.MustParsePrefix("10.218.0.0/24")
	bins := []string{fakeBinDir(t, allPlugins...)}
	for name, c := range map[string]struct {
		cfg  Config
		want string
	}{
		"no cache dir":   {Config{BinDirs: bins, CIDR: cidr}, "CacheDir"},
		"no cidr":        {Config{BinDirs: bins, CacheDir: t.TempDir()}, "CIDR"},
		"ipv6":           {Config{BinDirs: bins, CacheDir: t.TempDir(), CIDR: netip.MustParsePrefix("fd00::/64")}, "IPv4"},
		"long bridge":    {Config{BinDirs: bins, CacheDir: t.TempDir(), CIDR: cidr, BridgeName: "a-very-long-bridge"}, "bridge name"},
		"missing plugin": {Config{BinDirs: []string{fakeBinDir(t, "bridge", "loopback")}, CacheDir: t.TempDir(), CIDR: cidr}, `"static"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New = %v, want an error mentioning %q", err, c.want)
			}
		})
	}
}

func TestAttachValidates(t *testing.T) {
	p, err := New(Config{BinDirs: []string{fakeBinDir(t, allPlugins...)}, CacheDir: t.TempDir(),
		CIDR: netip.MustParsePrefix("10.218.0.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]AttachRequest{
		"bad id":        {ID: "a/b", NetNS: "/proc/1/ns/net", IP: netip.MustParseAddr("10.218.0.5")},
		"no netns":      {ID: "x", IP: netip.MustParseAddr("10.218.0.5")},
		"outside cidr":  {ID: "x", NetNS: "/proc/1/ns/net", IP: netip.MustParseAddr("10.1.0.5")},
		"gateway":       {ID: "x", NetNS: "/proc/1/ns/net", IP: netip.MustParseAddr("10.218.0.1")},
		"no ip":         {ID: "x", NetNS: "/proc/1/ns/net"},
		"missing netns": {ID: "x", NetNS: "/nonexistent/ns", IP: netip.MustParseAddr("10.218.0.5")},
		"own netns":     {ID: "x", NetNS: "/proc/self/ns/net", IP: netip.MustParseAddr("10.218.0.5")},
		"bad interface": {ID: "x", NetNS: "/proc/1/ns/net", IfName: "way-too-long-interface", IP: netip.MustParseAddr("10.218.0.5")},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := p.Attach(t.Context(), req); err == nil {
				t.Fatal("Attach succeeded")
			}
		})
	}
}
