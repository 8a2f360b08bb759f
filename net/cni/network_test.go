package cni

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// podmanConflist is a network list of the shape podman drops in
// /etc/cni/net.d (87-podman-bridge.conflist), with a test bridge and range.
func podmanConflist(name, bridge, subnet, dataDir string) string {
	return `{
  "cniVersion": "0.4.0",
  "name": "` + name + `",
  "plugins": [
    {"type": "bridge", "bridge": "` + bridge + `", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "` + dataDir + `", "routes": [{"dst": "0.0.0.0/0"}],
              "ranges": [[{"subnet": "` + subnet + `"}]]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "firewall"},
    {"type": "tuning"}
  ]
}`
}

func writeConf(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Load picks the first usable file by name, or the one of the named
// network, and passes over broken files.
func TestLoadChoosesAsTheKubelet(t *testing.T) {
	dir := t.TempDir()
	writeConf(t, dir, "05-broken.conflist", `{"name":`)
	writeConf(t, dir, "06-empty.conflist", `{"cniVersion":"1.0.0","name":"empty","plugins":[]}`)
	writeConf(t, dir, "07-notes.txt", `not a config`)
	podman := writeConf(t, dir, "87-podman-bridge.conflist", podmanConflist("podman", "cni-podman0", "10.88.0.0/16", "/var/lib/cni/networks"))
	other := writeConf(t, dir, "90-other.conf", `{"cniVersion":"0.4.0","name":"other","type":"ptp","ipam":{"type":"host-local","subnet":"10.22.0.0/16"}}`)

	n, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if n.Plugin != CNI || n.Name != "podman" || n.File != podman {
		t.Errorf("Load(first) = %s %q from %s, want podman from %s", n.Plugin, n.Name, n.File, podman)
	}
	if d := n.Describe(); !strings.Contains(d, podman) || !strings.Contains(d, "bridge,portmap,firewall,tuning") {
		t.Errorf("Describe = %q", d)
	}
	n, err = Load(dir, "other")
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != "other" || n.File != other {
		t.Errorf("Load(other) = %q from %s", n.Name, n.File)
	}
	// A single plugin's .conf is wrapped into a list.
	var list struct {
		CNIVersion string            `json:"cniVersion"`
		Plugins    []json.RawMessage `json:"plugins"`
	}
	if err := json.Unmarshal(n.Config, &list); err != nil || list.CNIVersion != "0.4.0" || len(list.Plugins) != 1 {
		t.Errorf("wrapped .conf = %s (%v)", n.Config, err)
	}
}

// No usable file: the error names the directory and why each file was
// passed over.
func TestLoadRefusesWithoutUsableConfig(t *testing.T) {
	empty := t.TempDir()
	broken := t.TempDir()
	writeConf(t, broken, "10-bad.conflist", `{"name":`)
	withPodman := t.TempDir()
	writeConf(t, withPodman, "87-podman-bridge.conflist", podmanConflist("podman", "cni-podman0", "10.88.0.0/16", "/x"))
	for _, tc := range []struct {
		dir, name string
		want      []string
	}{
		{empty, "", []string{"no usable network configuration in " + empty}},
		{filepath.Join(empty, "missing"), "", []string{filepath.Join(empty, "missing")}},
		{broken, "", []string{broken, "10-bad.conflist"}},
		{withPodman, "flannel", []string{`no network named "flannel" (--cni-network) in ` + withPodman, `network "podman" is not "flannel"`}},
	} {
		_, err := Load(tc.dir, tc.name)
		if err == nil {
			t.Errorf("Load(%s, %q) succeeded", tc.dir, tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Load(%s, %q) = %q, want it to mention %q", tc.dir, tc.name, err, w)
			}
		}
	}
}

// Open works from a Network alone, as a record keeps it: runner's own and
// a user's list; the ID changes with the content.
func TestOpenFromRecordedNetwork(t *testing.T) {
	bins := []string{fakeBinDir(t, "bridge", "static", "firewall", "portmap", "host-local", "tuning", "loopback")}
	own, err := Own("rtest0", netip.MustParsePrefix("10.218.7.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeConf(t, dir, "87-podman-bridge.conflist", podmanConflist("podman", "cni-podman0", "10.88.0.0/16", "/x"))
	user, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []Network{own, user} {
		data, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		var back Network
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if back.ID() != n.ID() {
			t.Errorf("%s: ID changed over a JSON round trip", n.Name)
		}
		p, err := Open(Config{BinDirs: bins, CacheDir: t.TempDir()}, back)
		if err != nil {
			t.Fatalf("Open(%s): %v", n.Name, err)
		}
		if p.OwnIPAM() != (n.Plugin == Kubenet) || p.list.Name != n.Name {
			t.Errorf("Open(%s): OwnIPAM %v, list %q", n.Name, p.OwnIPAM(), p.list.Name)
		}
	}
	if own.ID() == user.ID() {
		t.Error("two networks share an ID")
	}
	other, _ := Own("rtest0", netip.MustParsePrefix("10.218.8.0/24"))
	if other.ID() == own.ID() {
		t.Error("networks of two CIDRs share an ID")
	}
}

// okBinDir holds plugins that succeed: ADD prints a result with addr on
// eth0, everything else prints nothing.
func okBinDir(t *testing.T, addr string, plugins ...string) string {
	t.Helper()
	dir := t.TempDir()
	script := `#!/bin/sh
cat >/dev/null
if [ "$CNI_COMMAND" = ADD ]; then
  echo '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"'$CNI_NETNS'"}],"ips":[{"address":"` + addr + `","interface":0}]}'
fi
`
	for _, p := range plugins {
		if err := os.WriteFile(filepath.Join(dir, p), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Cached reads the network of an ADD back from libcni's cache: runner's own
// with its bridge and CIDR; nothing for a sandbox it holds nothing of.
func TestCachedNetworkOfAnAdd(t *testing.T) {
	noHostIPTables(t)
	cache := t.TempDir()
	p, err := New(Config{BinDirs: []string{okBinDir(t, "10.218.7.5/24", allPlugins...)}, CacheDir: cache,
		BridgeName: "rtest7", CIDR: netip.MustParsePrefix("10.218.7.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	fakeNetNS(p)
	res, err := p.Attach(t.Context(), AttachRequest{ID: "sb7", NetNS: "/run/netns/x", IP: netip.MustParseAddr("10.218.7.5")})
	if err != nil {
		t.Fatal(err)
	}
	if res.IP.String() != "10.218.7.5" || res.Gateway.String() != "10.218.7.1" {
		t.Errorf("Result = %+v", res)
	}
	n, ok := Cached(cache, "sb7", "eth0")
	if !ok || n.Plugin != Kubenet || n.Bridge != "rtest7" || n.CIDR.String() != "10.218.7.0/24" || n.ID() != p.Network().ID() {
		t.Errorf("Cached = %+v, %v; want the network of the ADD %+v", n, ok, p.Network())
	}
	if _, ok := Cached(cache, "other", "eth0"); ok {
		t.Error("Cached found a network for a sandbox never attached")
	}
	if err := p.Detach(t.Context(), DetachRequest{ID: "sb7", IP: res.IP}); err != nil {
		t.Fatal(err)
	}
	if _, ok := Cached(cache, "sb7", "eth0"); ok {
		t.Error("the cache still holds the ADD after DEL")
	}
}
