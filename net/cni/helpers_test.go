package cni

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/net/internal/nettest"
)

// needNetAdmin skips (under -short, or outside CI when something is missing)
// or fails (in CI) tests that create namespaces, bridges and iptables
// rules, and returns the directory of the plugins.
func needNetAdmin(t *testing.T) string {
	t.Helper()
	return nettest.NeedNetAdmin(t, "bridge", "static", "firewall", "portmap", "loopback")
}

// testNet is one test's network: a generated config on a test-only bridge
// and /24 of 10.219.0.0/16, with a run id that names everything it creates.
type testNet struct {
	runID  string
	bridge string
	cidr   netip.Prefix
	plugin *Plugin
}

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	pluginDir := needNetAdmin(t)
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	runID := hex.EncodeToString(b[:4])
	tn := &testNet{
		runID:  runID,
		bridge: "rt" + runID,
		cidr:   netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 219, 1 + b[4]%254, 0}), 24),
	}
	p, err := New(Config{
		BinDirs:    []string{pluginDir},
		CacheDir:   t.TempDir(),
		BridgeName: tn.bridge,
		CIDR:       tn.cidr,
	})
	if err != nil {
		t.Fatal(err)
	}
	tn.plugin = p
	t.Cleanup(func() {
		if err := RemoveNode(context.Background(), p.Network().Node()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	// Once per node, as runner does at start.
	if _, err := EnsureNode(ctxTimeout(t), p.Network().Node()); err != nil {
		t.Fatal(err)
	}
	return tn
}

// addr returns the address with last byte n in the test's /24.
func (tn *testNet) addr(n byte) netip.Addr {
	b := tn.cidr.Addr().As4()
	b[3] = n
	return netip.AddrFrom4(b)
}

// newNetNS creates the named namespace runnertest-<runid>-<suffix> and
// removes it in cleanup. It returns its name and path.
func (tn *testNet) newNetNS(t *testing.T, suffix string) (name, path string) {
	t.Helper()
	name = "runnertest-" + tn.runID + "-" + suffix
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	return name, "/var/run/netns/" + name
}

// The host helpers of net/internal/nettest, by their short names here.
var (
	freePort   = nettest.FreePort
	run        = nettest.Run
	succeeds   = nettest.Succeeds
	eventually = nettest.Eventually
	linkExists = nettest.LinkExists
)

// serveHTTP starts busybox httpd on port 8080 inside the namespace, serving
// body at /, and stops it in cleanup.
func serveHTTP(t *testing.T, ns, body string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "/bin/busybox", "httpd", "-f", "-p", "8080", "-h", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

// httpGet fetches url with a short timeout and returns the body.
func httpGet(url string) (string, error) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// iptablesHas reports whether iptables -S output of table mentions s.
func iptablesHas(t *testing.T, table, s string) bool {
	t.Helper()
	return strings.Contains(run(t, "iptables", "-w", "-t", table, "-S"), s)
}

// assertNoHostState checks that nothing of sandbox id with address ip is left
// on the host: its veth, its masquerade chain, its firewall and portmap rules.
func (tn *testNet) assertNoHostState(t *testing.T, id string, ip netip.Addr, veth string) {
	t.Helper()
	if veth != "" && linkExists(veth) {
		t.Errorf("host veth %s of %s still exists", veth, id)
	}
	if chain := masqChain(networkName, id); iptablesHas(t, "nat", chain) {
		t.Errorf("nat chain %s of %s still exists", chain, id)
	}
	if chain := dnatChain(networkName, id); iptablesHas(t, "nat", chain) {
		t.Errorf("portmap chain %s of %s still exists", chain, id)
	}
	if iptablesHas(t, "nat", fmt.Sprintf("id: \\\"%s\\\"", id)) {
		t.Errorf("nat rules mentioning id %s remain", id)
	}
	if iptablesHas(t, "filter", " "+ip.String()+"/32 ") {
		t.Errorf("filter rules for %s remain", ip)
	}
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// attach calls Attach and makes sure, whatever the test does later, that
// cleanup leaves none of the sandbox's host state behind: a Detach without
// namespace, then the rules scrub.
func (tn *testNet) attach(t *testing.T, req AttachRequest) (Result, error) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := tn.plugin.Detach(ctx, DetachRequest{ID: req.ID, IfName: req.IfName, IP: req.IP, PortMappings: req.PortMappings}); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if err := tn.plugin.ipt.scrubRules(ctx, networkName, req.ID, req.IP); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return tn.plugin.Attach(ctxTimeout(t), req)
}
