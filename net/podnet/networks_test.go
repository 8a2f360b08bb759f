package podnet

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runner-dev/runner/net/cni"
)

func TestDecideCIDRs(t *testing.T) {
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name     string
		current  string
		held     []string
		wantKept []string
		wantErr  string
	}{
		{name: "nothing held", current: "10.218.0.0/24"},
		{name: "same range", current: "10.218.0.0/24", held: []string{"10.218.0.0/24"}},
		{name: "disjoint: kept", current: "10.218.5.0/24", held: []string{"10.218.0.0/24", "10.218.5.0/24"}, wantKept: []string{"10.218.0.0/24"}},
		{name: "two earlier disjoint ranges", current: "10.218.9.0/24", held: []string{"10.218.3.0/24", "10.218.1.0/24"}, wantKept: []string{"10.218.1.0/24", "10.218.3.0/24"}},
		{name: "widened from the same start", current: "10.218.0.0/23", held: []string{"10.218.0.0/24"}},
		{name: "narrowed", current: "10.218.0.0/25", held: []string{"10.218.0.0/24"}, wantErr: "--pod-cidr 10.218.0.0/25 overlaps 10.218.0.0/24"},
		{name: "widened but another start", current: "10.218.0.0/23", held: []string{"10.218.1.0/24"}, wantErr: "contains 10.218.1.0/24 and starts at 10.218.1.0"},
		{name: "shifted inside", current: "10.218.0.128/25", held: []string{"10.218.0.0/24"}, wantErr: "overlaps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held := map[netip.Prefix][]string{}
			for _, h := range tc.held {
				held[p(h)] = []string{"default/a", "default/b"}
			}
			kept, err := decideCIDRs(p(tc.current), held)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "default/a, default/b") {
					t.Fatalf("err = %v, want one mentioning %q and the pods", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range kept {
				got = append(got, k.String())
			}
			if !slices.Equal(got, tc.wantKept) {
				t.Errorf("kept = %v, want %v", got, tc.wantKept)
			}
		})
	}
}

// podmanConf writes a network list of podman's shape into a new conf dir.
func podmanConf(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	conf := `{"cniVersion":"0.4.0","name":"podman","plugins":[{"type":"bridge","bridge":"cni-podman0","isGateway":true,"ipMasq":true,` +
		`"ipam":{"type":"host-local","routes":[{"dst":"0.0.0.0/0"}],"ranges":[[{"subnet":"10.88.0.0/16","gateway":"10.88.0.1"}]]}},` +
		`{"type":"portmap","capabilities":{"portMappings":true}},{"type":"firewall"},{"type":"tuning"}]}`
	if err := os.WriteFile(filepath.Join(dir, "87-podman-bridge.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The default reads nothing of --cni-conf-dir: even one that cannot be read
// at all. --network-plugin=cni reads it, and refuses to start without a
// usable list.
func TestChooseNetwork(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cidr := netip.MustParsePrefix("10.218.0.0/24")
	for _, dir := range []string{notADir, podmanConf(t)} {
		c, err := chooseNetwork(Config{CIDR: cidr, BridgeName: "runner0", ConfDir: dir})
		if err != nil {
			t.Fatalf("kubenet with conf dir %s: %v", dir, err)
		}
		if c.Network.Plugin != cni.Kubenet || c.Network.CIDR != cidr || c.Network.Bridge != "runner0" {
			t.Errorf("kubenet with conf dir %s chose %+v", dir, c.Network)
		}
	}
	podman := podmanConf(t)
	c, err := chooseNetwork(Config{NetworkPlugin: cni.CNI, CIDR: cidr, ConfDir: podman})
	if err != nil || c.Network.Name != "podman" || c.Network.Plugin != cni.CNI {
		t.Fatalf("cni = %+v, %v", c.Network, err)
	}
	if _, err := chooseNetwork(Config{NetworkPlugin: cni.CNI, ConfDir: notADir}); err == nil || !strings.Contains(err.Error(), notADir) {
		t.Errorf("cni with an unusable conf dir = %v, want an error naming it", err)
	}
	if _, err := chooseNetwork(Config{NetworkPlugin: "flannel"}); err == nil || !strings.Contains(err.Error(), "kubenet or cni") {
		t.Errorf("unknown plugin = %v", err)
	}
}

// The start line says plugin, configuration and why.
func TestChoiceAttrs(t *testing.T) {
	own, _ := chooseNetwork(Config{CIDR: netip.MustParsePrefix("10.218.0.0/24"), BridgeName: "runner0"})
	podman := podmanConf(t)
	user, _ := chooseNetwork(Config{NetworkPlugin: cni.CNI, ConfDir: podman})
	for _, tc := range []struct {
		c    Choice
		want []string
	}{
		{own, []string{"network_plugin=kubenet", "runner's own bridge runner0", "pod_cidr=10.218.0.0/24", "--cni-conf-dir is not read"}},
		{user, []string{"network_plugin=cni", "config_file=" + filepath.Join(podman, "87-podman-bridge.conflist"), "first usable file by name in " + podman}},
	} {
		attrs := tc.c.Attrs()
		var line []string
		for i := 0; i+1 < len(attrs); i += 2 {
			line = append(line, attrs[i].(string)+"="+attrs[i+1].(string))
		}
		got := strings.Join(line, " ")
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("start line %q lacks %q", got, w)
			}
		}
	}
}

// A sandbox is detached with the network of its ADD after runner restarted
// under the other plugin, both ways; the record holds that network's
// configuration.
func TestDetachUsesTheNetworkOfTheAdd(t *testing.T) {
	e := newEnv(t)
	kubenetFake := e.cni
	if _, err := e.m.Attach(t.Context(), sandbox(1)); err != nil {
		t.Fatal(err)
	}
	e.cfg.NetworkPlugin, e.cfg.ConfDir = cni.CNI, podmanConf(t)
	e.restart()
	podmanFake := e.cni
	if podmanFake == kubenetFake {
		t.Fatal("one fake for both networks: the test would prove nothing")
	}
	if _, err := e.m.Attach(t.Context(), sandbox(2)); err != nil {
		t.Fatal(err)
	}
	var file stateFile
	data, _ := os.ReadFile(filepath.Join(e.dir, "sandboxes.json"))
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	for sb, want := range map[string]string{"sb-1": cni.Kubenet, "sb-2": cni.CNI} {
		n := file.Networks[file.Sandboxes[sb].Network]
		if n.Plugin != want || len(n.Config) == 0 {
			t.Errorf("record of %s: network %+v, want plugin %s with its config", sb, n, want)
		}
	}
	// Back to kubenet: sb-2 (attached under cni) goes with podman's list.
	e.cfg.NetworkPlugin = ""
	e.restart()
	for _, sb := range []string{"sb-1", "sb-2"} {
		if err := e.m.Detach(t.Context(), sb, 0); err != nil {
			t.Fatal(err)
		}
	}
	if kubenetFake.dels != 1 || podmanFake.dels != 1 || len(kubenetFake.attachedIDs())+len(podmanFake.attachedIDs()) != 0 {
		t.Errorf("DELs: kubenet %d (attached %v), podman %d (attached %v); want one each, nothing left",
			kubenetFake.dels, kubenetFake.attachedIDs(), podmanFake.dels, podmanFake.attachedIDs())
	}
	e.assertHolds()
	if file := readState(t, e.dir); len(file.Networks) != 0 {
		t.Errorf("networks kept with no record: %v", file.Networks)
	}
}

func readState(t *testing.T, dir string) stateFile {
	t.Helper()
	var file stateFile
	data, err := os.ReadFile(filepath.Join(dir, "sandboxes.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	return file
}

// A changed --pod-cidr: a disjoint one keeps the running pods on their
// addresses and gives new ones addresses of the new range; an overlapping
// one that is no widening refuses to start and changes nothing.
func TestChangedPodCIDR(t *testing.T) {
	e := newEnv(t)
	old := e.cfg.CIDR
	oldIP, err := e.m.Attach(t.Context(), sandbox(1))
	if err != nil {
		t.Fatal(err)
	}
	e.cfg.CIDR = netip.MustParsePrefix("10.219.250.0/25")
	err = e.tryRestart()
	if err == nil || !strings.Contains(err.Error(), "overlaps 10.219.250.0/24") || !strings.Contains(err.Error(), "default/p1") {
		t.Fatalf("narrowed --pod-cidr: %v", err)
	}
	e.cfg.CIDR = netip.MustParsePrefix("10.219.251.0/24")
	e.restart()
	if kept := e.m.Choice().Kept; len(kept) != 1 || kept[0] != old {
		t.Errorf("Kept = %v, want [%s]", kept, old)
	}
	if ip, ok := e.m.IP("sb-1"); !ok || ip != oldIP {
		t.Errorf("the running pod's address after the change: %v %v, want %s", ip, ok, oldIP)
	}
	newIP, err := e.m.Attach(t.Context(), sandbox(2))
	if err != nil || !e.cfg.CIDR.Contains(newIP) {
		t.Fatalf("a new pod after the change: %v, %v; want an address of %s", newIP, err, e.cfg.CIDR)
	}
	if err := e.m.Detach(t.Context(), "sb-1", 0); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if kept := e.m.Choice().Kept; len(kept) != 0 {
		t.Errorf("Kept = %v after the last pod of %s went", kept, old)
	}
	e.assertHolds("sb-2")
}

// Records of a version 1 file get the network of their ADD from libcni's
// cache, or the current one; the file is rewritten as version 2.
func TestVersion1RecordsMigrate(t *testing.T) {
	e := newEnv(t)
	v1 := `{"version":1,"sandboxes":{"sb-old":{"pod":"default/old","podUID":"u","netns":"/proc/1/ns/net","ip":"10.219.250.9","ready":true}}}`
	if err := os.WriteFile(filepath.Join(e.dir, "sandboxes.json"), []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	e.restart()
	file := readState(t, e.dir)
	rec := file.Sandboxes["sb-old"]
	if file.Version != 2 || rec == nil || file.Networks[rec.Network].Plugin != cni.Kubenet {
		t.Fatalf("after migration: %+v", file)
	}
	if err := e.m.Reconcile(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if e.cni.dels != 1 {
		t.Errorf("%d DELs of the migrated record with the current network", e.cni.dels)
	}
	e.assertHolds()
}

// A record that names a network the file does not hold is refused, not
// detached with a guess.
func TestCorruptNetworkReference(t *testing.T) {
	dir := t.TempDir()
	bad := `{"version":2,"networks":{},"sandboxes":{"sb":{"pod":"default/p","network":"0123456789abcdef"}}}`
	if err := os.WriteFile(filepath.Join(dir, "sandboxes.json"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := fileStore{path: filepath.Join(dir, "sandboxes.json")}.Load()
	if err == nil || !strings.Contains(err.Error(), "0123456789abcdef") {
		t.Errorf("Load = %v", err)
	}
	if errors.Is(err, os.ErrNotExist) {
		t.Error("a corrupt file taken for a missing one")
	}
}
