package cni

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAttachDetach(t *testing.T) {
	tn := newTestNet(t)
	ns, nsPath := tn.newNetNS(t, "a")
	ip := tn.addr(5)
	id := "sbx-" + tn.runID

	start := time.Now()
	res, err := tn.attach(t, AttachRequest{ID: id, NetNS: nsPath, IP: ip})
	addTook := time.Since(start)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	t.Logf("ADD took %v: %+v", addTook, res)
	if res.IP != ip || res.Gateway != tn.addr(1) || res.Interface != "eth0" || res.HostInterface == "" {
		t.Errorf("Result = %+v, want IP %s gateway %s eth0 and a host veth", res, ip, tn.addr(1))
	}
	if out := run(t, "ip", "-n", ns, "-4", "addr", "show", "dev", "eth0"); !strings.Contains(out, ip.String()+"/24") {
		t.Errorf("eth0 in %s lacks %s/24:\n%s", ns, ip, out)
	}
	if out := run(t, "ip", "-n", ns, "route", "show", "default"); !strings.Contains(out, "via "+tn.addr(1).String()) {
		t.Errorf("default route in %s is not via the gateway:\n%s", ns, out)
	}
	if out := run(t, "ip", "-n", ns, "link", "show", "lo"); !strings.Contains(out, "UP") {
		t.Errorf("lo in %s is not up:\n%s", ns, out)
	}
	if out := run(t, "ip", "link", "show", "dev", res.HostInterface); !strings.Contains(out, "master "+tn.bridge) {
		t.Errorf("host veth is not on bridge %s:\n%s", tn.bridge, out)
	}

	// The host reaches the pod (and only the pod, inside our namespace).
	if !succeeds("/bin/busybox", "ping", "-c", "1", "-W", "2", ip.String()) {
		t.Errorf("host cannot ping %s", ip)
	}
	serveHTTP(t, ns, "hello from a")
	var body string
	eventually(t, 5*time.Second, "httpd in the namespace to answer the host", func() bool {
		body, err = httpGet(fmt.Sprintf("http://%s:8080/", ip))
		return err == nil
	})
	if body != "hello from a" {
		t.Errorf("body = %q", body)
	}
	// Nothing per pod in iptables: masquerading and forwarding are the
	// node's.
	tn.assertNoHostState(t, id, ip, "")

	start = time.Now()
	if err := tn.plugin.Detach(ctxTimeout(t), DetachRequest{ID: id, NetNS: nsPath, IP: ip}); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	t.Logf("DEL took %v", time.Since(start))
	if succeeds("ip", "-n", ns, "link", "show", "eth0") {
		t.Error("eth0 still exists in the namespace")
	}
	tn.assertNoHostState(t, id, ip, res.HostInterface)
	for _, sub := range []string{"results", "runner-netns"} {
		if entries, _ := os.ReadDir(filepath.Join(tn.plugin.cfg.CacheDir, sub)); len(entries) != 0 {
			t.Errorf("cache dir %s still holds %d files after DEL", sub, len(entries))
		}
	}

	// Idempotent: a second and a third DEL succeed, also without netns.
	for _, netns := range []string{nsPath, ""} {
		if err := tn.plugin.Detach(ctxTimeout(t), DetachRequest{ID: id, NetNS: netns, IP: ip}); err != nil {
			t.Errorf("repeated Detach (netns %q): %v", netns, err)
		}
	}
}

func TestTwoNamespacesReachEachOther(t *testing.T) {
	tn := newTestNet(t)
	nsA, pathA := tn.newNetNS(t, "a")
	nsB, pathB := tn.newNetNS(t, "b")
	ipA, ipB := tn.addr(10), tn.addr(11)
	for _, s := range []struct {
		id, path string
		ip       netip.Addr
	}{{"a-" + tn.runID, pathA, ipA}, {"b-" + tn.runID, pathB, ipB}} {
		if _, err := tn.attach(t, AttachRequest{ID: s.id, NetNS: s.path, IP: s.ip}); err != nil {
			t.Fatal(err)
		}
	}
	serveHTTP(t, nsA, "I am a")
	serveHTTP(t, nsB, "I am b")
	// Bridged traffic passes the host's FORWARD chain (br_netfilter), whose
	// policy Docker sets to DROP: the firewall plugin must let it through.
	for _, c := range []struct {
		from string
		to   netip.Addr
		want string
	}{{nsA, ipB, "I am b"}, {nsB, ipA, "I am a"}} {
		var out []byte
		eventually(t, 5*time.Second, fmt.Sprintf("%s to fetch from %s", c.from, c.to), func() bool {
			// busybox 1.35's static wget segfaults on this machine; nc works.
			cmd := exec.Command("ip", "netns", "exec", c.from, "/bin/busybox", "nc", "-w", "2", c.to.String(), "8080")
			cmd.Stdin = strings.NewReader("GET / HTTP/1.0\r\n\r\n")
			var err error
			out, err = cmd.Output()
			return err == nil && len(out) > 0
		})
		if _, body, _ := strings.Cut(string(out), "\r\n\r\n"); body != c.want {
			t.Errorf("%s got %q from %s, want %q", c.from, out, c.to, c.want)
		}
	}
}

func TestDetachAfterNetNSIsGone(t *testing.T) {
	tn := newTestNet(t)
	ns, nsPath := tn.newNetNS(t, "gone")
	ip := tn.addr(20)
	id := "gone-" + tn.runID
	res, err := tn.attach(t, AttachRequest{ID: id, NetNS: nsPath, IP: ip,
		PortMappings: []PortMapping{{HostPort: freePort(t), ContainerPort: 8080}}})
	if err != nil {
		t.Fatal(err)
	}
	run(t, "ip", "netns", "del", ns)
	// The kernel destroys the namespace, and with it the veth pair,
	// asynchronously.
	eventually(t, 10*time.Second, "the host veth to vanish with the namespace", func() bool {
		return !linkExists(res.HostInterface)
	})
	if !iptablesHas(t, "nat", dnatChain(networkName, id)) {
		t.Fatal("hostPort chain gone before DEL; the test would prove nothing")
	}
	start := time.Now()
	// The caller still passes the old path (e.g. /proc/<pid>/ns/net of a dead
	// pause process) and no port mappings: they come from libcni's cache.
	if err := tn.plugin.Detach(ctxTimeout(t), DetachRequest{ID: id, NetNS: nsPath, IP: ip}); err != nil {
		t.Fatalf("Detach without netns: %v", err)
	}
	t.Logf("DEL without netns took %v", time.Since(start))
	tn.assertNoHostState(t, id, ip, res.HostInterface)
	if err := tn.plugin.Detach(ctxTimeout(t), DetachRequest{ID: id, IP: ip}); err != nil {
		t.Errorf("repeated Detach: %v", err)
	}
}

func TestDetachScrubsWithoutCache(t *testing.T) {
	tn := newTestNet(t)
	ns, nsPath := tn.newNetNS(t, "nocache")
	ip := tn.addr(21)
	id := "nocache-" + tn.runID
	res, err := tn.attach(t, AttachRequest{ID: id, NetNS: nsPath, IP: ip,
		PortMappings: []PortMapping{{HostPort: freePort(t), ContainerPort: 8080}}})
	if err != nil {
		t.Fatal(err)
	}
	// The root dir was wiped (or the cache lost) and the pause died.
	if err := os.RemoveAll(tn.plugin.cfg.CacheDir); err != nil {
		t.Fatal(err)
	}
	run(t, "ip", "netns", "del", ns)
	// Neither the cache nor the caller knows the port mappings any more.
	if err := tn.plugin.Detach(ctxTimeout(t), DetachRequest{ID: id, NetNS: nsPath, IP: ip}); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	eventually(t, 10*time.Second, "the host veth to vanish", func() bool { return !linkExists(res.HostInterface) })
	tn.assertNoHostState(t, id, ip, res.HostInterface)
}

func TestPortMappingOnLocalhost(t *testing.T) {
	tn := newTestNet(t)
	ns, nsPath := tn.newNetNS(t, "pm")
	ip := tn.addr(30)
	id := "pm-" + tn.runID
	hostPort := freePort(t)
	req := AttachRequest{ID: id, NetNS: nsPath, IP: ip,
		PortMappings: []PortMapping{{HostPort: hostPort, ContainerPort: 8080, Protocol: "tcp"}}}
	res, err := tn.attach(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if !iptablesHas(t, "nat", dnatChain(networkName, id)) {
		t.Fatalf("no portmap chain %s after ADD", dnatChain(networkName, id))
	}
	serveHTTP(t, ns, "via hostPort")
	url := fmt.Sprintf("http://127.0.0.1:%d/", hostPort)
	var body string
	eventually(t, 5*time.Second, "127.0.0.1:hostPort to reach the pod", func() bool {
		body, err = httpGet(url)
		return err == nil
	})
	if body != "via hostPort" {
		t.Errorf("body = %q", body)
	}
	if err := tn.plugin.Detach(ctxTimeout(t), DetachRequest{ID: id, NetNS: nsPath, IP: ip, PortMappings: req.PortMappings}); err != nil {
		t.Fatal(err)
	}
	tn.assertNoHostState(t, id, ip, res.HostInterface)
	if _, err := httpGet(url); err == nil {
		t.Error("hostPort still answers after Detach")
	}
}

func TestFailedAttachRollsBack(t *testing.T) {
	tn := newTestNet(t)
	ns, nsPath := tn.newNetNS(t, "fail")
	ip := tn.addr(40)
	id := "fail-" + tn.runID
	// bridge and firewall succeed, portmap rejects the protocol.
	_, err := tn.attach(t, AttachRequest{ID: id, NetNS: nsPath, IP: ip,
		PortMappings: []PortMapping{{HostPort: freePort(t), ContainerPort: 80, Protocol: "bogus"}}})
	if err == nil {
		t.Fatal("Attach with a bogus protocol succeeded")
	}
	t.Logf("Attach error: %v", err)
	if !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "portmap") {
		t.Errorf("error %q names neither the sandbox nor the plugin", err)
	}
	if succeeds("ip", "-n", ns, "link", "show", "eth0") {
		t.Error("eth0 left in the namespace after a failed ADD")
	}
	if out := run(t, "ip", "-o", "link", "show", "master", tn.bridge); strings.TrimSpace(out) != "" {
		t.Errorf("veths left on the bridge after a failed ADD:\n%s", out)
	}
	tn.assertNoHostState(t, id, ip, "")
	for _, sub := range []string{"results", "runner-netns"} {
		if entries, _ := os.ReadDir(filepath.Join(tn.plugin.cfg.CacheDir, sub)); len(entries) != 0 {
			t.Errorf("cache dir %s still holds %d files after rollback", sub, len(entries))
		}
	}
}

func TestAttachRetryReplacesLeftovers(t *testing.T) {
	tn := newTestNet(t)
	ns, nsPath := tn.newNetNS(t, "retry")
	ip := tn.addr(50)
	id := "retry-" + tn.runID
	req := AttachRequest{ID: id, NetNS: nsPath, IP: ip}
	first, err := tn.attach(t, req)
	if err != nil {
		t.Fatal(err)
	}
	second, err := tn.attach(t, req)
	if err != nil {
		t.Fatalf("second Attach: %v", err)
	}
	if linkExists(first.HostInterface) && first.HostInterface != second.HostInterface {
		t.Errorf("first veth %s left behind", first.HostInterface)
	}
	if out := run(t, "ip", "-n", ns, "-4", "addr", "show", "dev", "eth0"); !strings.Contains(out, ip.String()+"/24") {
		t.Errorf("eth0 lacks %s after retry:\n%s", ip, out)
	}
	if err := tn.plugin.Detach(ctxTimeout(t), DetachRequest{ID: id, NetNS: nsPath, IP: ip}); err != nil {
		t.Fatal(err)
	}
	tn.assertNoHostState(t, id, ip, second.HostInterface)
}

func TestDetachNeverEntersAnotherNamespace(t *testing.T) {
	tn := newTestNet(t)
	ns, nsPath := tn.newNetNS(t, "own")
	_, otherPath := tn.newNetNS(t, "other")
	ip := tn.addr(60)
	id := "own-" + tn.runID
	// A distinctive interface name, present on the host too: a DEL that
	// wrongly entered the host's namespace would delete the host's one.
	ifName := "rd" + tn.runID
	run(t, "ip", "link", "add", ifName, "type", "bridge") // no dummy module here
	t.Cleanup(func() { _ = succeeds("ip", "link", "del", ifName) })
	if _, err := tn.attach(t, AttachRequest{ID: id, NetNS: nsPath, IfName: ifName, IP: ip}); err != nil {
		t.Fatal(err)
	}
	// The pause died and its pid now belongs to a host process, or to a
	// process in another namespace.
	// First another namespace than the recorded one, then (record gone after
	// the successful Detach) runner's own namespace.
	for _, wrong := range []string{otherPath, "/proc/self/ns/net"} {
		if err := tn.plugin.Detach(ctxTimeout(t), DetachRequest{ID: id, NetNS: wrong, IfName: ifName, IP: ip}); err != nil {
			t.Fatalf("Detach with netns %s: %v", wrong, err)
		}
		if !linkExists(ifName) {
			t.Fatalf("Detach with netns %s deleted the host's %s", wrong, ifName)
		}
		if !succeeds("ip", "-n", ns, "link", "show", ifName) {
			t.Fatalf("Detach with netns %s deleted the interface in the sandbox's namespace", wrong)
		}
	}
	// The right path still works (the first Detach counted the namespace as
	// gone, so this DEL removes the interface it left).
	if err := tn.plugin.Detach(ctxTimeout(t), DetachRequest{ID: id, NetNS: nsPath, IfName: ifName, IP: ip}); err != nil {
		t.Fatal(err)
	}
	if succeeds("ip", "-n", ns, "link", "show", ifName) {
		t.Error("interface left in the sandbox's namespace")
	}
	tn.assertNoHostState(t, id, ip, "")
}

func TestConcurrentAttachDetach(t *testing.T) {
	tn := newTestNet(t)
	const n = 4
	type sandbox struct {
		id, ns, path string
		ip           netip.Addr
		port         int
		res          Result
	}
	sbs := make([]*sandbox, n)
	for i := range sbs {
		ns, path := tn.newNetNS(t, fmt.Sprintf("c%d", i))
		sbs[i] = &sandbox{id: fmt.Sprintf("c%d-%s", i, tn.runID), ns: ns, path: path, ip: tn.addr(byte(100 + i)), port: freePort(t)}
	}
	// The first ADDs race to create the bridge and the shared chains.
	errs := make(chan error, n)
	start := time.Now()
	for _, sb := range sbs {
		go func() {
			var err error
			sb.res, err = tn.attach(t, AttachRequest{ID: sb.id, NetNS: sb.path, IP: sb.ip,
				PortMappings: []PortMapping{{HostPort: sb.port, ContainerPort: 8080}}})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d concurrent ADDs took %v", n, time.Since(start))
	if t.Failed() {
		return
	}
	for _, sb := range sbs {
		if out := run(t, "ip", "-n", sb.ns, "-4", "addr", "show", "dev", "eth0"); !strings.Contains(out, sb.ip.String()+"/24") {
			t.Errorf("%s lacks %s", sb.ns, sb.ip)
		}
	}
	start = time.Now()
	for _, sb := range sbs {
		go func() { errs <- tn.plugin.Detach(ctxTimeout(t), DetachRequest{ID: sb.id, NetNS: sb.path, IP: sb.ip}) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d concurrent DELs took %v", n, time.Since(start))
	for _, sb := range sbs {
		tn.assertNoHostState(t, sb.id, sb.ip, sb.res.HostInterface)
	}
}
