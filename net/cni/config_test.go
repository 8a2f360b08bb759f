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
		ConfDir:  filepath.Join(t.TempDir(), "missing"),
		CacheDir: t.TempDir(),
		CIDR:     netip.MustParsePrefix("10.218.0.0/24"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.UserConfig() != "" || p.NetworkName() != "runner" {
		t.Errorf("UserConfig %q NetworkName %q", p.UserConfig(), p.NetworkName())
	}
	if d := p.Description(); !strings.Contains(d, "generated") || !strings.Contains(d, "runner0") || !strings.Contains(d, "10.218.0.1") {
		t.Errorf("Description = %q", d)
	}
	var got struct {
		CNIVersion string `json:"cniVersion"`
		Plugins    []map[string]any
	}
	if err := json.Unmarshal(p.list.Bytes, &got); err != nil {
		t.Fatal(err)
	}
	if got.CNIVersion != "1.0.0" || len(got.Plugins) != 3 {
		t.Fatalf("list = %s", p.list.Bytes)
	}
	br, fw, pm := got.Plugins[0], got.Plugins[1], got.Plugins[2]
	want := `{"bridge":"runner0","capabilities":{"ips":true},"hairpinMode":true,"ipMasq":true,` +
		`"ipam":{"routes":[{"dst":"0.0.0.0/0","gw":"10.218.0.1"}],"type":"static"},"isGateway":true,"type":"bridge"}`
	if b, _ := json.Marshal(br); string(b) != want {
		t.Errorf("bridge = %s\nwant     %s", b, want)
	}
	if fw["type"] != "firewall" || fw["backend"] != "iptables" {
		t.Errorf("firewall = %v", fw)
	}
	if b, _ := json.Marshal(pm); string(b) != `{"capabilities":{"portMappings":true},"snat":true,"type":"portmap"}` {
		t.Errorf("portmap = %s", b)
	}
}

func TestRuntimeConfCarriesAddressAndPorts(t *testing.T) {
	p, err := New(Config{BinDirs: []string{fakeBinDir(t, allPlugins...)}, ConfDir: t.TempDir(), CacheDir: t.TempDir(),
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

func TestUserConfigFirstInLexicalOrder(t *testing.T) {
	confDir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(confDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("20-later.conflist", `{"cniVersion":"1.0.0","name":"later","plugins":[{"type":"bridge"}]}`)
	write("10-first.conflist", `{"cniVersion":"1.0.0","name":"mynet","plugins":[{"type":"ptp","ipam":{"type":"host-local"}},{"type":"portmap"}]}`)
	write("05-ignored.txt", `not a config`)
	p, err := New(Config{BinDirs: []string{fakeBinDir(t, "ptp", "portmap", "loopback")}, ConfDir: confDir, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(confDir, "10-first.conflist"); p.UserConfig() != want {
		t.Errorf("UserConfig = %q, want %q", p.UserConfig(), want)
	}
	if d := p.Description(); !strings.Contains(d, "10-first.conflist") || !strings.Contains(d, "mynet") {
		t.Errorf("Description = %q", d)
	}
	// With a user config the allocator's address is not passed.
	rt := p.runtimeConf("sbx", "/x", "eth0", netip.MustParseAddr("10.218.0.7"), nil, "", "", "")
	if _, ok := rt.CapabilityArgs["ips"]; ok || rt.Args != nil {
		t.Errorf("runtime conf for a user config = %+v", rt)
	}
}

func TestUserSingleConfIsWrapped(t *testing.T) {
	confDir := t.TempDir()
	conf := `{"cniVersion":"0.4.0","name":"single","type":"bridge","bridge":"cni0","ipam":{"type":"host-local","subnet":"10.22.0.0/16"}}`
	if err := os.WriteFile(filepath.Join(confDir, "99-single.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{BinDirs: []string{fakeBinDir(t, "bridge", "loopback")}, ConfDir: confDir, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if p.list.Name != "single" || p.list.CNIVersion != "0.4.0" || len(p.list.Plugins) != 1 || p.list.Plugins[0].Network.Type != "bridge" {
		t.Errorf("list = %+v", p.list)
	}
}

func TestNewErrors(t *testing.T) {
	cidr := netip.MustParsePrefix("10.218.0.0/24")
	bins := []string{fakeBinDir(t, allPlugins...)}
	badConfDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(badConfDir, "10-bad.conflist"), []byte(`{"name":`), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		cfg  Config
		want string
	}{
		"no cache dir":    {Config{BinDirs: bins, ConfDir: t.TempDir(), CIDR: cidr}, "CacheDir"},
		"no cidr":         {Config{BinDirs: bins, ConfDir: t.TempDir(), CacheDir: t.TempDir()}, "CIDR"},
		"ipv6":            {Config{BinDirs: bins, ConfDir: t.TempDir(), CacheDir: t.TempDir(), CIDR: netip.MustParsePrefix("fd00::/64")}, "IPv4"},
		"other gateway":   {Config{BinDirs: bins, ConfDir: t.TempDir(), CacheDir: t.TempDir(), CIDR: cidr, Gateway: netip.MustParseAddr("10.218.0.254")}, "first address"},
		"long bridge":     {Config{BinDirs: bins, ConfDir: t.TempDir(), CacheDir: t.TempDir(), CIDR: cidr, BridgeName: "a-very-long-bridge"}, "bridge name"},
		"missing plugin":  {Config{BinDirs: []string{fakeBinDir(t, "bridge", "loopback")}, ConfDir: t.TempDir(), CacheDir: t.TempDir(), CIDR: cidr}, "firewall"},
		"broken conflist": {Config{BinDirs: bins, ConfDir: badConfDir, CacheDir: t.TempDir()}, "10-bad.conflist"},
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
	p, err := New(Config{BinDirs: []string{fakeBinDir(t, allPlugins...)}, ConfDir: t.TempDir(), CacheDir: t.TempDir(),
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
