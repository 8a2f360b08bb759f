package fake_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/runner-dev/runner/net/cni"
	"github.com/runner-dev/runner/net/fake"
	"github.com/runner-dev/runner/net/podnet"
	"github.com/runner-dev/runner/runner"
)

// The fake stands where the Manager stands.
var (
	_ runner.Network = (*fake.Network)(nil)
	_ runner.Network = (*podnet.Manager)(nil)
)

func TestAttachDetachReconcile(t *testing.T) {
	n := fake.New(netip.MustParsePrefix("10.9.0.0/29"))
	ctx := t.Context()
	port := cni.PortMapping{HostPort: 80, ContainerPort: 8080}
	a := podnet.Sandbox{ID: "a", Pod: "default/a", PodUID: "ua", Ports: []cni.PortMapping{port}}
	ipA, err := n.Attach(ctx, a)
	if err != nil || ipA != netip.MustParseAddr("10.9.0.2") {
		t.Fatalf("Attach(a) = %v, %v; want the first pod address 10.9.0.2", ipA, err)
	}
	if again, err := n.Attach(ctx, a); err != nil || again != ipA {
		t.Errorf("a second Attach(a) = %v, %v; want the same address", again, err)
	}
	_, err = n.Attach(ctx, podnet.Sandbox{ID: "b", Pod: "default/b", PodUID: "ub", Ports: []cni.PortMapping{port}})
	if err == nil || !strings.Contains(err.Error(), "hostPort 80/tcp of pod default/b is already used by pod default/a") {
		t.Errorf("Attach of a colliding hostPort = %v", err)
	}
	ipC, err := n.Attach(ctx, podnet.Sandbox{ID: "c", Pod: "default/c", PodUID: "uc"})
	if err != nil || ipC == ipA {
		t.Fatalf("Attach(c) = %v, %v", ipC, err)
	}
	if ip, ok := n.IP("c"); !ok || ip != ipC {
		t.Errorf("IP(c) = %v, %v", ip, ok)
	}
	if err := n.Reconcile(ctx, map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if got := n.Attached(); !slices.Equal(got, []string{"a"}) {
		t.Errorf("after Reconcile: %v attached, want [a]", got)
	}
	for range 2 {
		if err := n.Detach(ctx, "a", 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := n.IP("a"); ok || len(n.Attached()) != 0 {
		t.Error("a still attached after Detach")
	}
	want := []fake.Call{{"Attach", "a"}, {"Attach", "a"}, {"Attach", "b"}, {"Attach", "c"}, {"Reconcile", "a"}, {"Detach", "a"}, {"Detach", "a"}}
	if got := n.Calls(); !slices.Equal(got, want) {
		t.Errorf("Calls = %v\nwant    %v", got, want)
	}
}

func TestFailNextOnce(t *testing.T) {
	n := fake.New(netip.Prefix{})
	ctx := t.Context()
	boom := errors.New("boom")
	sb := podnet.Sandbox{ID: "s", Pod: "default/s", PodUID: "u"}
	n.FailNext("Attach", boom)
	if _, err := n.Attach(ctx, sb); !errors.Is(err, boom) {
		t.Fatalf("Attach = %v, want the injected error", err)
	}
	if _, ok := n.IP("s"); ok {
		t.Error("a failed Attach left an address")
	}
	if _, err := n.Attach(ctx, sb); err != nil {
		t.Fatalf("second Attach: %v", err)
	}
	n.FailNext("Detach", boom)
	if err := n.Detach(ctx, "s", 0); !errors.Is(err, boom) {
		t.Fatalf("Detach = %v", err)
	}
	if _, ok := n.IP("s"); !ok {
		t.Error("a failed Detach released the address")
	}
	n.FailNext("EnsureNode", boom)
	if err := n.EnsureNode(ctx); !errors.Is(err, boom) {
		t.Fatalf("EnsureNode = %v", err)
	}
	if err := n.EnsureNode(ctx); err != nil {
		t.Fatalf("second EnsureNode = %v", err)
	}
	n.FailNext("Reconcile", boom)
	if err := n.Reconcile(ctx, nil); !errors.Is(err, boom) || len(n.Attached()) != 1 {
		t.Fatalf("Reconcile = %v with %v attached", err, n.Attached())
	}
	if err := n.Reconcile(ctx, nil); err != nil || len(n.Attached()) != 0 {
		t.Fatalf("second Reconcile = %v with %v attached", err, n.Attached())
	}
}

// Addresses go round-robin, as the Manager's: a released one is not handed
// out again at once.
func TestAddressesRoundRobin(t *testing.T) {
	n := fake.New(netip.MustParsePrefix("10.9.0.0/29"))
	ctx := t.Context()
	first, _ := n.Attach(ctx, podnet.Sandbox{ID: "1", PodUID: "1"})
	if err := n.Detach(ctx, "1", 0); err != nil {
		t.Fatal(err)
	}
	second, _ := n.Attach(ctx, podnet.Sandbox{ID: "2", PodUID: "2"})
	if second == first {
		t.Errorf("the released %s was handed out again at once", first)
	}
}
