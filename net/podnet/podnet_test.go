package podnet

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/runner-dev/runner/net/cni"
)

func newTestManager(t *testing.T, dir string) *Manager {
	t.Helper()
	m, err := New(Config{Dir: dir, CIDR: netip.MustParsePrefix("10.219.250.0/24"), ConfDir: t.TempDir(), BridgeName: "rpodnettest"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPortsCollide(t *testing.T) {
	tcp := func(port int, ip string) cni.PortMapping {
		return cni.PortMapping{HostPort: port, ContainerPort: 80, Protocol: "TCP", HostIP: ip}
	}
	for _, tc := range []struct {
		a, b cni.PortMapping
		want bool
	}{
		{tcp(80, ""), tcp(80, ""), true},
		{tcp(80, "127.0.0.1"), tcp(80, ""), true},
		{tcp(80, "0.0.0.0"), tcp(80, "127.0.0.1"), true},
		{tcp(80, "127.0.0.1"), tcp(80, "127.0.0.2"), false},
		{tcp(80, ""), tcp(81, ""), false},
		{tcp(80, ""), cni.PortMapping{HostPort: 80, Protocol: "udp"}, false},
		{cni.PortMapping{HostPort: 53}, cni.PortMapping{HostPort: 53, Protocol: "tcp"}, true},
	} {
		if got := portsCollide(tc.a, tc.b); got != tc.want {
			t.Errorf("portsCollide(%+v, %+v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// A second pod claiming a host port already held is refused with both pods
// named; the same pod's next sandbox may take it over; records survive a
// restart of the manager.
func TestClaimHostPortsAndPersistence(t *testing.T) {
	dir := t.TempDir()
	m := newTestManager(t, dir)
	port := []cni.PortMapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}
	if err := m.claim(Sandbox{ID: "sb-a", Pod: "default/a", PodUID: "uid-a", Ports: port}, "/proc/1/ns/net"); err != nil {
		t.Fatal(err)
	}
	err := m.claim(Sandbox{ID: "sb-b", Pod: "default/b", PodUID: "uid-b", Ports: port}, "/proc/2/ns/net")
	if err == nil || !strings.Contains(err.Error(), "hostPort 8080/tcp of pod default/b is already used by pod default/a") {
		t.Fatalf("second claim: %v", err)
	}
	if err := m.claim(Sandbox{ID: "sb-a2", Pod: "default/a", PodUID: "uid-a", Ports: port}, "/proc/3/ns/net"); err != nil {
		t.Fatalf("the same pod's new sandbox: %v", err)
	}
	again := newTestManager(t, dir)
	if got := again.Attached(); len(got) != 2 || got[0] != "sb-a" || got[1] != "sb-a2" {
		t.Fatalf("records after a restart: %v", got)
	}
	if _, ok := again.IP("sb-a"); ok {
		t.Errorf("a sandbox whose attach never finished reports an IP")
	}
}
