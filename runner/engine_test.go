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
	"github.com/runner-dev/runner/runner/restart"
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
	// downWork counts the calls made while down other than lists (the
	// probes of whether the engine answers): the work attempted.
	downWork atomic.Int32
	// listsServed: lists succeed even while down, as a stopping dockerd
	// still serves the connections it has (a probe passes, work fails).
	listsServed atomic.Bool
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

// work is check for a call that is not a list.
func (e *flakyEngine) work() error {
	err := e.check()
	if err != nil {
		e.downWork.Add(1)
	}
	return err
}

func (e *flakyEngine) ListContainers(ctx context.Context, m map[string]string) ([]runtime.Container, error) {
	if e.listsServed.Load() {
		return e.Runtime.ListContainers(ctx, m)
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return e.Runtime.ListContainers(ctx, m)
}

func (e *flakyEngine) InspectContainer(ctx context.Context, id string) (runtime.Container, error) {
	if err := e.work(); err != nil {
		return runtime.Container{}, err
	}
	return e.Runtime.InspectContainer(ctx, id)
}

func (e *flakyEngine) CreateContainer(ctx context.Context, s runtime.ContainerSpec) (string, error) {
	if err := e.work(); err != nil {
		return "", err
	}
	return e.Runtime.CreateContainer(ctx, s)
}

func (e *flakyEngine) StartContainer(ctx context.Context, id string) error {
	if err := e.work(); err != nil {
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

func (e *flakyEngine) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	if err := e.work(); err != nil {
		return err
	}
	return e.Runtime.StopContainer(ctx, id, grace)
}

func (e *flakyEngine) RemoveContainer(ctx context.Context, id string) error {
	if err := e.work(); err != nil {
		return err
	}
	return e.Runtime.RemoveContainer(ctx, id)
}

func (e *flakyEngine) InspectImage(ctx context.Context, ref string) (runtime.Image, error) {
	if err := e.work(); err != nil {
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

// runPods starts a runner over e with n one-container pods and waits until
// they run; allRunning tells whether they all run.
func runPods(t *testing.T, e *flakyEngine, n int) (allRunning func() bool) {
	t.Helper()
	h := startRunner(t, e.Runtime, Config{Runtime: e})
	var pods []*v1.Pod
	for i := range n {
		pods = append(pods, loadPod(t, podYAML(fmt.Sprintf("p%d", i), "", "app")))
	}
	h.send(pods...)
	allRunning = func() bool {
		for _, p := range pods {
			if !running(t, e.Runtime, p, "app") {
				return false
			}
		}
		return true
	}
	waitFor(t, "the pods to run", allRunning)
	return allRunning
}

// shutDownEngine stops the engine as dockerd begins its shutdown: its API
// refuses new calls at once, while the event stream it already serves stays
// open and reports every container dying (sandboxes first), for as long as
// the stop takes.
func (e *flakyEngine) shutDownEngine(t *testing.T) {
	t.Helper()
	e.down.Store(true)
	list, _ := e.Runtime.ListContainers(context.Background(), nil)
	for _, sandboxes := range []bool{true, false} {
		for _, c := range list {
			if c.State == runtime.StateRunning && isSandbox(&c) == sandboxes {
				if err := e.Runtime.Exit(c.ID, 137); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestEngineRefusingCallsIsOneState: a worker that finds the engine gone
// puts the whole runner in the engine-down state even while the engine's
// event stream still reports (dockerd closes its API before it has stopped
// its containers): after the first failed steps no work is attempted until
// the engine answers, and then every pod runs again at once rather than
// after its retry backoff.
func TestEngineRefusingCallsIsOneState(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := &flakyEngine{Runtime: newFakeRuntime()}
		allRunning := runPods(t, e, 5)
		e.shutDownEngine(t)
		// The first steps that meet the refusing engine fail; then nothing.
		time.Sleep(5 * time.Second)
		synctest.Wait()
		first := e.downWork.Load()
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if n := e.downWork.Load() - first; n != 0 {
			t.Errorf("%d calls of work in 30 s while the engine refused every call (after %d in the first 5 s), want none until it answers", n, first)
		}
		t.Logf("%d calls of work, %d calls in all while down", e.downWork.Load(), e.downCalls.Load())
		e.down.Store(false)
		// The stream never broke: the runner learns that the engine is back
		// from its own probe, within its reconnect period.
		deadline := time.Now().Add(reconnectMax + 2*time.Second)
		waitFor(t, "every pod running again", allRunning)
		if time.Now().After(deadline) {
			t.Errorf("the pods ran again %v after the engine answered, want within the reconnect period", time.Since(deadline.Add(-reconnectMax-2*time.Second)))
		}
	})
}

// TestEngineServingOldConnectionsBacksOff: a stopping dockerd refuses new
// connections but serves the ones it has, so the runner's probe passes while
// its work fails. The runner then checks again less and less often rather
// than sending every pod at the engine every 2 s.
func TestEngineServingOldConnectionsBacksOff(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := &flakyEngine{Runtime: newFakeRuntime()}
		allRunning := runPods(t, e, 5)
		e.listsServed.Store(true)
		e.shutDownEngine(t)
		time.Sleep(62 * time.Second)
		synctest.Wait()
		// The first round, then checks at 2, 6, 14, 30 and 60 s, each
		// followed by a round of one failed step per pod, of one or two
		// calls (with a check every 2 s it would be 30 rounds).
		if n, most := e.downWork.Load(), int32(6*2*5); n > most {
			t.Errorf("%d calls of work in 60 s while the engine served only old connections, want at most %d (a round per check, checks backing off)", n, most)
		}
		t.Logf("%d calls of work in 60 s", e.downWork.Load())
		e.down.Store(false)
		e.listsServed.Store(false)
		e.Runtime.CloseEvents(fmt.Errorf("engine restarted: %w", runtime.ErrUnavailable))
		waitFor(t, "every pod running again", allRunning)
	})
}

// TestEngineGoneIsNoStartFailure: a container whose image check or creation
// fails because the engine stopped answering has no start failure (no
// ErrImagePull, no start backoff): it starts as soon as the engine answers.
func TestEngineGoneIsNoStartFailure(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := &flakyEngine{Runtime: newFakeRuntime()}
		h := startRunner(t, e.Runtime, Config{Runtime: e, Backoff: restart.DefaultPolicy})
		pod := loadPod(t, podYAML("p", "", "app"))
		// The sandbox starts; the engine goes away before the app's image
		// is checked.
		e.mu.Lock()
		e.onStart = func(string) error {
			e.down.Store(true)
			return nil
		}
		e.mu.Unlock()
		h.send(pod)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if st := h.status(pod); st != nil {
			for _, cs := range st.Status.ContainerStatuses {
				if w := cs.State.Waiting; w != nil && w.Reason != reasonContainerCreating {
					t.Errorf("while the engine is gone the app waits with %s, want %s", w.Reason, reasonContainerCreating)
				}
			}
		}
		e.mu.Lock()
		e.onStart = nil
		e.mu.Unlock()
		e.down.Store(false)
		up := time.Now()
		waitFor(t, "the pod running", func() bool { return running(t, e.Runtime, pod, "app") })
		if took := time.Since(up); took > reconnectMax+time.Second {
			t.Errorf("the pod ran %v after the engine answered, want at once (no start backoff)", took)
		}
	})
}

// TestEngineRestartsDoNotBackOff: containers that died with their sandbox
// because the engine stopped did not crash: after each engine restart they
// run again at once, also after the second one within the crash-loop
// backoff's reset time (with the default 10 s backoff they would wait 10 s,
// then 20 s, ...).
func TestEngineRestartsDoNotBackOff(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := &flakyEngine{Runtime: newFakeRuntime()}
		h := startRunner(t, e.Runtime, Config{Runtime: e, Backoff: restart.DefaultPolicy})
		var pods []*v1.Pod
		for i := range 3 {
			pods = append(pods, loadPod(t, podYAML(fmt.Sprintf("p%d", i), "", "app")))
		}
		h.send(pods...)
		allRunning := func() bool {
			for _, p := range pods {
				if !running(t, e.Runtime, p, "app") {
					return false
				}
			}
			return true
		}
		waitFor(t, "the pods to run", allRunning)
		for i := range 3 {
			time.Sleep(30 * time.Second)
			e.stopEngine(t)
			time.Sleep(5 * time.Second)
			e.down.Store(false)
			up := time.Now()
			waitFor(t, "every pod running again", allRunning)
			// The reconnect's period, and a moment for the work.
			if took := time.Since(up); took > reconnectMax+time.Second {
				t.Errorf("engine restart %d: the pods ran again %v after the engine answered, want at once (no crash-loop backoff)", i+1, took)
			}
		}
	})
}
