package podnet

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/runner-dev/runner/net/cni"
)

func TestPortMappingCollidesWith(t *testing.T) {
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
		if got := tc.a.CollidesWith(tc.b); got != tc.want {
			t.Errorf("%+v.CollidesWith(%+v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
		if got := tc.b.CollidesWith(tc.a); got != tc.want {
			t.Errorf("%+v.CollidesWith(%+v) = %v, want %v (not symmetric)", tc.b, tc.a, got, tc.want)
		}
	}
}

// A second pod claiming a host port already held is refused with both pods
// named; the same pod's next sandbox may take it over; records survive a
// restart of the manager.
func TestClaimHostPortsAndPersistence(t *testing.T) {
	e := newEnv(t)
	port := cni.PortMapping{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}
	a := sandbox(1, port)
	if _, err := e.m.Attach(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	b := sandbox(2, port)
	_, err := e.m.Attach(t.Context(), b)
	if err == nil || !strings.Contains(err.Error(), "hostPort 8080/tcp of pod default/p2 is already used by pod default/p1") {
		t.Fatalf("second claim: %v", err)
	}
	a2 := a
	a2.ID = "sb-1b"
	if _, err := e.m.Attach(t.Context(), a2); err != nil {
		t.Fatalf("the same pod's new sandbox: %v", err)
	}
	e.restart()
	e.assertHolds("sb-1", "sb-1b")
	if ip, ok := e.m.IP("sb-1"); !ok || !e.cfg.CIDR.Contains(ip) {
		t.Errorf("IP(sb-1) after a restart = %v, %v", ip, ok)
	}
}

// Attach with a failure injected at each step: the error names the pod, and
// nothing is left — no record (in memory or on disk), no address, no CNI
// attachment. A second failure in the undo leaves what Reconcile undoes.
func TestAttachFailureAtEachStepLeaksNothing(t *testing.T) {
	boom := errors.New("injected failure")
	for _, tc := range []struct {
		name   string
		inject func(e *env)
		// left is what stays after Attach returned (double failures);
		// Reconcile must remove it.
		left []string
		// dels is how many CNI DELs the undo ran.
		dels int
	}{
		{name: "claim: record write", inject: func(e *env) { e.store.failSave(1, boom) }},
		{name: "IPAM allocate", inject: func(e *env) { e.ipStore.FailNextSave(boom) }},
		{name: "CNI ADD", inject: func(e *env) { e.cni.fail("Attach", boom) }},
		{name: "record update", inject: func(e *env) { e.store.failSave(2, boom) }, dels: 1},
		{name: "record update, then the undo's DEL", left: []string{"sb-1"}, dels: 1, inject: func(e *env) {
			e.store.failSave(2, boom)
			e.cni.fail("Detach", boom)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			// As at start: the node is set up before the first Attach (its
			// record of served ranges is a save of its own).
			if err := e.m.Reconcile(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
			tc.inject(e)
			ip, err := e.m.Attach(t.Context(), sandbox(1))
			if err == nil {
				t.Fatalf("Attach succeeded with %s failing (ip %s)", tc.name, ip)
			}
			if !strings.Contains(err.Error(), "default/p1") {
				t.Errorf("error %q does not name the pod", err)
			}
			if _, ok := e.m.IP("sb-1"); ok {
				t.Error("a failed Attach reports an IP")
			}
			if e.cni.dels != tc.dels {
				t.Errorf("%d CNI DELs, want %d", e.cni.dels, tc.dels)
			}
			if tc.left == nil {
				e.assertHolds()
			}
			e.assertReconcileLeavesNothing()
		})
	}
}

// An IPAM failure on release during the undo of a failed ADD: the address
// and the record stay, and Reconcile frees them.
func TestAttachUndoReleaseFailureIsReconciled(t *testing.T) {
	e := newEnv(t)
	boom := errors.New("disk full")
	e.cni.fail("Attach", boom)
	sb := sandbox(1)
	// Allocate's save succeeds; fail the next one (Release) from inside
	// the ADD, when the allocation is done.
	e.m.opened[e.current.ID()] = &hookedCNI{fakeCNI: e.cni, beforeAttach: func() { e.ipStore.FailNextSave(boom) }}
	if _, err := e.m.Attach(t.Context(), sb); err == nil {
		t.Fatal("Attach succeeded")
	}
	st := e.state()
	if len(st.allocated) != 1 || len(st.records) != 1 || len(st.attached) != 0 {
		t.Errorf("after a failed release: %+v, want the address and record kept, nothing attached", st)
	}
	if len(e.log.warnings("disk full")) == 0 {
		t.Error("the failed release was not logged")
	}
	e.assertReconcileLeavesNothing()
}

// hookedCNI runs a function before each ADD.
type hookedCNI struct {
	*fakeCNI
	beforeAttach func()
}

func (h *hookedCNI) Attach(ctx context.Context, req cni.AttachRequest) (cni.Result, error) {
	h.beforeAttach()
	return h.fakeCNI.Attach(ctx, req)
}

// Detach with a failure injected at each step: the error is returned and
// logged, what a retry needs stays, and the retry (or, for a lost record
// save, a restart's Reconcile) leaves nothing.
func TestDetachFailureAtEachStepLeaksNothing(t *testing.T) {
	boom := errors.New("injected failure")
	for _, tc := range []struct {
		name    string
		inject  func(e *env)
		wantErr bool
		left    []string // after the failed Detach
	}{
		{name: "CNI DEL", inject: func(e *env) { e.cni.fail("Detach", boom) }, wantErr: true, left: []string{"sb-1"}},
		{name: "IPAM release", inject: func(e *env) { e.ipStore.FailNextSave(boom) }, wantErr: true},
		{name: "record removal", inject: func(e *env) { e.store.failSave(1, boom) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			sb := sandbox(1, cni.PortMapping{HostPort: 8080, ContainerPort: 80})
			if _, err := e.m.Attach(t.Context(), sb); err != nil {
				t.Fatal(err)
			}
			tc.inject(e)
			err := e.m.Detach(t.Context(), sb.ID, sb.Pid)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Detach = %v, want error %v", err, tc.wantErr)
			}
			if len(e.log.warnings(boom.Error())) == 0 {
				t.Errorf("the failure was not logged: %v", e.log.recs)
			}
			if tc.left != nil {
				e.assertHolds(tc.left...)
			}
			if tc.wantErr {
				// The worker retries.
				if err := e.m.Detach(t.Context(), sb.ID, sb.Pid); err != nil {
					t.Fatalf("retried Detach: %v", err)
				}
				e.assertHolds()
				return
			}
			// The record's removal was not saved: a restart finds it.
			e.assertReconcileLeavesNothing()
		})
	}
}

// Reconcile detaches every sandbox that is gone, keeps the live ones, goes
// on past a failure and reports it; the next Reconcile finishes.
func TestReconcileFailureAtEachStep(t *testing.T) {
	boom := errors.New("injected failure")
	for _, tc := range []struct {
		name   string
		inject func(e *env)
	}{
		{"CNI DEL", func(e *env) { e.cni.fail("Detach", boom) }},
		{"IPAM release", func(e *env) { e.ipStore.FailNextSave(boom) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			for n := 1; n <= 4; n++ {
				if _, err := e.m.Attach(t.Context(), sandbox(n)); err != nil {
					t.Fatal(err)
				}
			}
			// An address without a record (a crash between Allocate and the
			// record's save cannot make one; an old state file can).
			if _, err := e.alloc.Allocate("sb-orphan"); err != nil {
				t.Fatal(err)
			}
			e.restart()
			tc.inject(e)
			live := map[string]int{"sb-4": 1004}
			err := e.m.Reconcile(t.Context(), live)
			if err == nil || !strings.Contains(err.Error(), boom.Error()) {
				t.Fatalf("Reconcile = %v, want the injected failure", err)
			}
			if st := e.state(); len(st.allocated) != 2 {
				t.Errorf("after one failure, allocations %v: want sb-4's and the failed one's", st.allocated)
			}
			if err := e.m.Reconcile(t.Context(), live); err != nil {
				t.Fatalf("second Reconcile: %v", err)
			}
			e.assertHolds("sb-4")
			if ip, ok := e.m.IP("sb-4"); !ok || !ip.IsValid() {
				t.Error("the live sandbox lost its address")
			}
		})
	}
}

// Detach of a sandbox never attached, and a second Detach, do nothing.
func TestDetachIdempotent(t *testing.T) {
	e := newEnv(t)
	if err := e.m.Detach(t.Context(), "never", 0); err != nil || e.cni.dels != 0 {
		t.Fatalf("Detach of an unknown sandbox = %v with %d DELs", err, e.cni.dels)
	}
	sb := sandbox(1)
	if _, err := e.m.Attach(t.Context(), sb); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := e.m.Detach(t.Context(), sb.ID, 0); err != nil {
			t.Fatal(err)
		}
	}
	if e.cni.dels != 1 {
		t.Errorf("%d DELs for one attachment detached twice", e.cni.dels)
	}
	e.assertHolds()
}
