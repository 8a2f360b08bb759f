package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/net/ipam"
	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
)

// httpPod serves its name over HTTP on port 8080 (busybox httpd), with
// optional extra spec lines for the container.
func httpPod(name, containerExtra, specExtra string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
spec:
  terminationGracePeriodSeconds: 2
%[4]s  containers:
  - name: web
    image: %[2]s
    command: ["sh", "-c", "mkdir -p /srv && echo %[1]s > /srv/index.html && exec httpd -f -p 8080 -h /srv"]
%[3]s`, name, testImage, containerExtra, specExtra)
}

// podIP reads a running pod's address from inside it (eth0).
func (h *harness) podIP(pod string) netip.Addr {
	h.t.Helper()
	out := h.exec(pod, "web", "ip", "-4", "-o", "addr", "show", "eth0")
	for _, f := range strings.Fields(out) {
		if p, err := netip.ParsePrefix(f); err == nil {
			return p.Addr()
		}
	}
	h.t.Fatalf("no IPv4 address on eth0 of %s: %q", pod, out)
	return netip.Addr{}
}

// exec runs a command in a pod's running container and returns stdout.
func (h *harness) exec(pod, container string, cmd ...string) string {
	h.t.Helper()
	for _, c := range h.podContainers(pod)[container] {
		if c.State != runtime.StateRunning {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		res, err := h.rt.Exec(ctx, c.ID, cmd)
		if err != nil {
			h.t.Fatalf("exec %v in %s/%s: %v", cmd, pod, container, err)
		}
		return string(res.Stdout) + string(res.Stderr)
	}
	h.t.Fatalf("no running container %s in pod %s", container, pod)
	return ""
}

// httpGet fetches http://addr/ with a bounded dial; addr is a pod IP of this
// test or 127.0.0.1.
func httpGet(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	return string(b), err
}

// netState reads runner's network records: attached sandboxes and IP
// allocations.
func (h *harness) netState() (records, allocations int) {
	h.t.Helper()
	var sb struct {
		Sandboxes map[string]json.RawMessage `json:"sandboxes"`
	}
	var ip struct {
		Allocations map[string]string `json:"allocations"`
	}
	if data, err := os.ReadFile(filepath.Join(h.netDir, "sandboxes.json")); err == nil {
		_ = json.Unmarshal(data, &sb)
	}
	if data, err := os.ReadFile(filepath.Join(h.netDir, "ipam.json")); err == nil {
		_ = json.Unmarshal(data, &ip)
	}
	return len(sb.Sandboxes), len(ip.Allocations)
}

// veths counts the interfaces enslaved to the test's bridge.
func (h *harness) veths() int {
	out, err := exec.Command("ip", "-o", "link", "show", "master", h.bridge).Output()
	if err != nil {
		return 0 // no bridge: no veths
	}
	return len(strings.Split(strings.TrimSpace(string(out)), "\n")) - boolInt(strings.TrimSpace(string(out)) == "")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// assertNoNetworkLeft checks that nothing of the pod network is left.
func (h *harness) assertNoNetworkLeft() {
	h.t.Helper()
	testenv.Eventually(h.t, 20*time.Second, "no veth left on the bridge", func() bool { return h.veths() == 0 })
	if rec, alloc := h.netState(); rec != 0 || alloc != 0 {
		h.t.Fatalf("leaked: %d sandbox network records, %d IP allocations", rec, alloc)
	}
}

func TestPodsTalkOverPodIPsAndHostPort(t *testing.T) {
	h := newHarness(t)
	h.writeManifest("a.yaml", httpPod("a", `    ports:
    - containerPort: 8080
      hostPort: 18080
      hostIP: 127.0.0.1
`, ""))
	h.writeManifest("b.yaml", httpPod("b", "", ""))
	h.start()
	testenv.Eventually(t, 60*time.Second, "pods running", func() bool { return h.running("a", "web") && h.running("b", "web") })

	ipA, ipB := h.podIP("a"), h.podIP("b")
	prefix := netip.MustParsePrefix(h.cidr)
	if ipA == ipB || !prefix.Contains(ipA) || !prefix.Contains(ipB) {
		t.Fatalf("pod IPs %s and %s: want two distinct addresses in %s", ipA, ipB, prefix)
	}
	// b reaches a's server by a's pod IP.
	out := h.exec("b", "web", "sh", "-c", fmt.Sprintf(`printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 %s 8080`, ipA))
	if !strings.Contains(out, "\na\n") && !strings.HasSuffix(strings.TrimSpace(out), "a") {
		t.Fatalf("b → a over the pod IP: %q", out)
	}
	// The host reaches a pod IP.
	body, err := httpGet(netip.AddrPortFrom(ipB, 8080).String())
	if err != nil || !strings.HasSuffix(strings.TrimSpace(body), "b") {
		t.Fatalf("host → b over the pod IP: %q, %v", body, err)
	}
	// The hostPort answers on 127.0.0.1.
	testenv.Eventually(t, 10*time.Second, "hostPort 18080 on 127.0.0.1", func() bool {
		body, err := httpGet("127.0.0.1:18080")
		return err == nil && strings.HasSuffix(strings.TrimSpace(body), "a")
	})
	// The pod's hosts file names it; status.podIP in env would match too.
	hosts := h.exec("a", "web", "cat", "/etc/hosts")
	if !strings.Contains(hosts, ipA.String()+"\ta-e2e") || !strings.Contains(hosts, "Kubernetes-managed hosts file") {
		t.Errorf("hosts file of a:\n%s", hosts)
	}

	// A second pod asking for the same host port gets a clear error, and
	// the first keeps serving.
	h.writeManifest("c.yaml", httpPod("c", `    ports:
    - containerPort: 8080
      hostPort: 18080
      hostIP: 127.0.0.1
`, ""))
	p := h.procs[0]
	p.awaitLog(t, "hostPort 18080/tcp of pod default/c-e2e is already used by pod default/a-e2e", 20*time.Second)
	if body, err := httpGet("127.0.0.1:18080"); err != nil || !strings.HasSuffix(strings.TrimSpace(body), "a") {
		t.Errorf("after the conflict, 127.0.0.1:18080 answers %q, %v", body, err)
	}

	for _, n := range []string{"a", "b", "c"} {
		h.removeManifest(n + ".yaml")
	}
	testenv.Eventually(t, 60*time.Second, "pods removed", func() bool { return len(h.containers()) == 0 })
	h.assertNoNetworkLeft()
	if _, err := httpGet("127.0.0.1:18080"); err == nil {
		t.Errorf("the hostPort still answers after the pod was removed")
	}
}

func TestDNSFilesPerPolicy(t *testing.T) {
	h := newHarness(t, "--cluster-domain", "cluster.test")
	hostResolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(hostResolv, []byte("nameserver 192.0.2.53\nsearch example.test\noptions ndots:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.extraFlags = append(h.extraFlags, "--resolv-conf", hostResolv)
	h.writeManifest("def.yaml", httpPod("def", "", "  dnsPolicy: Default\n"))
	h.writeManifest("none.yaml", httpPod("none", "", `  dnsPolicy: None
  dnsConfig:
    nameservers: ["192.0.2.10"]
    searches: ["svc.example.test"]
    options:
    - name: ndots
      value: "3"
  hostAliases:
  - ip: 192.0.2.7
    hostnames: ["alias.example.test"]
`))
	h.writeManifest("cf.yaml", httpPod("cf", "", "  hostname: box\n  subdomain: sub\n"))
	h.start("--cluster-dns", "192.0.2.100")
	testenv.Eventually(t, 60*time.Second, "pods running", func() bool {
		return h.running("def", "web") && h.running("none", "web") && h.running("cf", "web")
	})
	for _, tc := range []struct {
		pod, file string
		want      []string
	}{
		{"def", "/etc/resolv.conf", []string{"nameserver 192.0.2.53", "search example.test", "ndots:2"}},
		{"none", "/etc/resolv.conf", []string{"nameserver 192.0.2.10", "search svc.example.test", "ndots:3"}},
		{"none", "/etc/hosts", []string{"192.0.2.7\talias.example.test", "# Entries added by HostAliases."}},
		{"cf", "/etc/resolv.conf", []string{"nameserver 192.0.2.100", "search default.svc.cluster.test svc.cluster.test cluster.test example.test", "ndots:5"}},
		{"cf", "/etc/hosts", []string{"box.sub.default.svc.cluster.test\tbox"}},
	} {
		got := h.exec(tc.pod, "web", "cat", tc.file)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s %s lacks %q:\n%s", tc.pod, tc.file, w, got)
			}
		}
	}
	if hn := strings.TrimSpace(h.exec("cf", "web", "hostname")); hn != "box" {
		t.Errorf("hostname of cf = %q, want box", hn)
	}
}

func TestSmallPodCIDRNeverExhausts(t *testing.T) {
	h := newHarness(t)
	// A /29 has 5 addresses for pods; 40 create/delete cycles must reuse them.
	h.cidr = strings.TrimSuffix(h.cidr, "0/24") + "8/29"
	p := h.start()
	// 10 rounds of 4 pods at once (4 of the 5 addresses): 40 cycles.
	for round := 0; round < 10; round++ {
		names := []string{"cyc0", "cyc1", "cyc2", "cyc3"}
		for _, n := range names {
			h.writeManifest(n+".yaml", pod(n, "Always", sleeper))
		}
		testenv.Eventually(t, 60*time.Second, fmt.Sprintf("round %d running", round), func() bool {
			for _, n := range names {
				if !h.running(n, "main") {
					return false
				}
			}
			return true
		})
		for _, n := range names {
			h.removeManifest(n + ".yaml")
		}
		testenv.Eventually(t, 60*time.Second, fmt.Sprintf("round %d removed", round), func() bool { return len(h.containers()) == 0 })
	}
	if n := p.countLog(ipam.ErrExhausted.Error()); n != 0 {
		t.Fatalf("the /29 ran out of addresses %d times", n)
	}
	h.assertNoNetworkLeft()
}

// TestKill9DuringChurnLeaksNothing kills the runner 20 times while pods come
// and go, then lets the last runner converge and remove everything: no IP
// allocation, network record, veth or container may be left.
func TestKill9DuringChurnLeaksNothing(t *testing.T) {
	h := newHarness(t)
	for round := 0; round < 20; round++ {
		for i := 0; i < 3; i++ {
			name := fmt.Sprintf("churn%d", (round+i)%5)
			if (round+i)%2 == 0 {
				h.writeManifest(name+".yaml", pod(name, "Always", sleeper))
			} else if _, err := os.Stat(filepath.Join(h.manifests, name+".yaml")); err == nil {
				h.removeManifest(name + ".yaml")
			}
		}
		p := h.start()
		// Kill it somewhere inside its work: after it has begun a sandbox or
		// at most 1.5s in.
		deadline := time.Now().Add(1500 * time.Millisecond)
		for time.Now().Before(deadline) && !strings.Contains(p.Output(), "sandbox started") && !strings.Contains(p.Output(), "Killing") {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Duration(round%4) * 100 * time.Millisecond)
		p.kill()
	}
	// Let a runner converge on what is desired now, then remove everything.
	p := h.start()
	testenv.Eventually(t, 60*time.Second, "desired pods running", func() bool {
		entries, _ := os.ReadDir(h.manifests)
		for _, e := range entries {
			if !h.running(strings.TrimSuffix(e.Name(), ".yaml"), "main") {
				return false
			}
		}
		return true
	})
	// Pods left over from the churn are torn down by then.
	p.awaitLog(t, "in sync", 60*time.Second)
	// One sandbox per desired pod, and as many network records.
	entries, _ := os.ReadDir(h.manifests)
	running := 0
	for _, c := range h.containers() {
		if c.Labels[runner.LabelDockerType] == runner.TypeSandbox && c.State == runtime.StateRunning {
			running++
		}
	}
	if running != len(entries) {
		t.Errorf("%d running sandboxes for %d desired pods", running, len(entries))
	}
	if rec, alloc := h.netState(); rec != len(entries) || alloc != len(entries) {
		t.Errorf("%d network records and %d allocations for %d pods", rec, alloc, len(entries))
	}
	if v := h.veths(); v != len(entries) {
		t.Errorf("%d veths on the bridge for %d pods", v, len(entries))
	}
	for _, e := range entries {
		h.removeManifest(e.Name())
	}
	testenv.Eventually(t, 60*time.Second, "all pods removed", func() bool { return len(h.containers()) == 0 })
	h.assertNoNetworkLeft()
	_ = p
}
