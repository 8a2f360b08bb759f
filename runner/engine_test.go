package runner

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	v1 "k8s.io/api/core/v1"

	netfake "github.com/runner-dev/runner/net/fake"
	"github.com/runner-dev/runner/net/podnet"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// flakyEngine is the fake engine that can be "down": every call then fails
// with runtime.ErrUnavailable, as Docker's client does when dockerd is
// stopped. It counts the calls made while down.
type flakyEngine struct {
	*fake.Runtime
	down      atomic.Bool
	downCalls atomic.Int32
	// onStart, when set, runs before a StartContainer and may fail it.
	mu      sync.Mutex
	onStart func(id string) error
}

func (e *flakyEngine) check() error {
	if e.down.Load() {
		e.downCalls.Add(1)
		return fmt.Errorf("dial unix /var/run/docker.sock: %w", runtime.ErrUnavailable)
	}
	return nil
}

func (e *flakyEngine) ListContainers(ctx context.Context, m map[string]string) ([]runtime.Container, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	return e.Runtime.ListContainers(ctx, m)
}

func (e *flakyEngine) InspectContainer(ctx context.Context, id string) (runtime.Container, error) {
	if err := e.check(); err != nil {
		return runtime.Container{}, err
	}
	return e.Runtime.InspectContainer(ctx, id)
}

func (e *flakyEngine) CreateContainer(ctx context.Context, s runtime.ContainerSpec) (string, error) {
	if err := e.check(); err != nil {
		return "", err
	}
	return e.Runtime.CreateContainer(ctx, s)
}

func (e *flakyEngine) StartContainer(ctx context.Context, id string) error {
	if err := e.check(); err != nil {
		return err
	}
	e.mu.Lock()
	f := e.onStart
	e.mu.Unlock()
	if f != nil {
		if err := f(id); err != nil {
			return err
		}
	}
	return e.Runtime.StartContainer(ctx, id)
}

func (e *flakyEngine) InspectImage(ctx context.Context, ref string) (runtime.Image, error) {
	if err := e.check(); err != nil {
		return runtime.Image{}, err
	}
	return e.Runtime.InspectImage(ctx, ref)
}

func (e *flakyEngine) Events(ctx context.Context, m map[string]string) (<-chan runtime.Event, <-chan error) {
	if err := e.check(); err != nil {
		out, errc := make(chan runtime.Event), make(chan error, 1)
		errc <- err
		close(out)
		close(errc)
		return out, errc
	}
	return e.Runtime.Events(ctx, m)
}

// restartEngine stops the engine as dockerd stops without live-restore:
// every container exits, the event streams end, nothing answers; up brings
// it back.
func (e *flakyEngine) stopEngine(t *testing.T) {
	t.Helper()
	list, _ := e.Runtime.ListContainers(context.Background(), nil)
	for _, c := range list {
		if c.State == runtime.StateRunning {
			if err := e.Runtime.Exit(c.ID, 137); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.down.Store(true)
	e.Runtime.CloseEvents(fmt.Errorf("engine stopping: %w", runtime.ErrUnavailable))
}

// TestEngineRestart: while the engine is down runner waits (a handful of
// calls, no storm); once it answers, every pod runs again, each container
// restarted at most once.
func TestEngineRestart(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := &flakyEngine{Runtime: newFakeRuntime()}
		h := startRunner(t, e.Runtime, Config{Runtime: e})
		var pods []*v1.Pod
		for i := range 5 {
			pods = append(pods, loadPod(t, podYAML(fmt.Sprintf("p%d", i), "", "app")))
		}
		h.send(pods...)
		waitFor(t, "the pods to run", func() bool {
			for _, p := range pods {
				if !running(t, e.Runtime, p, "app") {
					return false
				}
			}
			return true
		})
		e.stopEngine(t)
		time.Sleep(30 * time.Second)
		waitFor(t, "", func() bool { return true })
		t.Logf("%d engine calls in 30 s while the engine was down", e.downCalls.Load())
		// About one call every 2 s (the reconnect), plus the steps in flight
		// when the engine went away.
		if n := e.downCalls.Load(); n > 40 {
			t.Errorf("%d engine calls in 30 s while the engine was down, want a calm retry", n)
		}
		e.down.Store(false)
		waitFor(t, "every pod running again", func() bool {
			for _, p := range pods {
				if !h.phaseIs(p, v1.PodRunning) || !running(t, e.Runtime, p, "app") {
					return false
				}
			}
			return true
		})
		for _, p := range pods {
			c, _ := latestOf(t, e.Runtime, p, "app")
			if a := attemptOf(&c); a > 1 {
				t.Errorf("pod %s: container attempt %d after one engine restart, want at most 1", p.Name, a)
			}
		}
	})
}

// TestStartIntoDeadSandbox: a container that cannot start because its
// sandbox died meanwhile is not an attempt of it: it is removed, its
// attempt number is used again in the new sandbox.
func TestStartIntoDeadSandbox(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := &flakyEngine{Runtime: newFakeRuntime()}
		h := startRunner(t, e.Runtime, Config{Runtime: e})
		pod := loadPod(t, podYAML("p", "", "app"))
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, e.Runtime, pod, "app") })
		sb := sandboxOf(t, e.Runtime, pod)
		var failed atomic.Bool
		e.mu.Lock()
		e.onStart = func(id string) error {
			c, _ := e.Runtime.InspectContainer(context.Background(), id)
			if isSandbox(&c) || !failed.CompareAndSwap(false, true) {
				return nil
			}
			_ = e.Runtime.Exit(sb.ID, 137) // the sandbox dies as the container starts
			return errors.New("cannot join network of a non running container: " + sb.ID)
		}
		e.mu.Unlock()
		c, _ := latestOf(t, e.Runtime, pod, "app")
		_ = e.Runtime.Exit(c.ID, 1)
		waitFor(t, "the pod to run again in a new sandbox", func() bool {
			return running(t, e.Runtime, pod, "app") && sandboxOf(t, e.Runtime, pod).ID != sb.ID
		})
		if !failed.Load() {
			t.Fatal("no start went into the dead sandbox")
		}
		c, _ = latestOf(t, e.Runtime, pod, "app")
		if a := attemptOf(&c); a != 1 {
			t.Errorf("the container runs as attempt %d, want 1: the start into the dead sandbox is no attempt", a)
		}
	})
}

// TestTeardownReleasesNetworkWhenARemovalFails: a container the engine
// cannot remove does not keep the sandbox's address: the network is
// released, the removal retried, and the pod's status says what is stuck.
func TestTeardownReleasesNetworkWhenARemovalFails(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		nw := netfake.New(netip.MustParsePrefix("10.99.0.0/24"))
		h := startRunner(t, rt, Config{Network: nw})
		pod := loadPod(t, podYAML("p", "", "app"))
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		sb := sandboxOf(t, rt, pod)
		rt.FailNext("RemoveContainer", errors.New("driver overlay2 failed to remove root filesystem: device or resource busy"))
		h.send()
		waitFor(t, "the sandbox's network released", func() bool {
			_, attached := nw.IP(sb.ID)
			return !attached
		})
		waitFor(t, "the pod removed after a retry", func() bool { return len(podContainers(t, rt, pod)) == 0 })
	})
}

// gatedNetwork is the fake network whose Attach waits for the test.
type gatedNetwork struct {
	*netfake.Network
	gate chan struct{}
}

func (g *gatedNetwork) Attach(ctx context.Context, sb podnet.Sandbox) (netip.Addr, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return netip.Addr{}, ctx.Err()
	}
	return g.Network.Attach(ctx, sb)
}

// TestNetworkSetUpBesideTheFirstContainer: the pod's first container is
// created while its sandbox's network is being set up, and started only
// once it is ready; a failed set-up removes the created container and the
// sandbox, and the pod converges on the retry.
func TestNetworkSetUpBesideTheFirstContainer(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		nw := &gatedNetwork{Network: netfake.New(netip.MustParsePrefix("10.99.0.0/24")), gate: make(chan struct{})}
		h := startRunner(t, rt, Config{Network: nw})
		pod := loadPod(t, podYAML("p", "", "app"))
		h.send(pod)
		synctest.Wait()
		c, ok := latestOf(t, rt, pod, "app")
		if !ok || c.State != runtime.StateCreated {
			t.Fatalf("while the network is set up the app container is %v (found %v), want created", c.State, ok)
		}
		nw.FailNext("Attach", errors.New("plugin bridge failed"))
		close(nw.gate)
		waitFor(t, "the pod to run after the failed set-up", func() bool { return running(t, rt, pod, "app") })
		n := 0
		for _, c := range podContainers(t, rt, pod) {
			if isSandbox(&c) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d sandboxes, want the one of the retry", n)
		}
		if c, _ := latestOf(t, rt, pod, "app"); attemptOf(&c) != 0 {
			t.Errorf("the container runs as attempt %d, want 0: the one created beside the failed set-up never ran", attemptOf(&c))
		}
	})
}
