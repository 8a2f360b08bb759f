package runner

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// stuckRemovals is the fake engine where the containers in stuck cannot be
// removed, as Docker 20.10 at times answers for a container whose root file
// system is still mounted somewhere: "driver overlay2 failed to remove root
// filesystem: device or resource busy".
type stuckRemovals struct {
	*fake.Runtime
	mu    sync.Mutex
	stuck map[string]int // ID → removals refused
}

func (e *stuckRemovals) RemoveContainer(ctx context.Context, id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.stuck[id]; ok {
		e.stuck[id]++
		return errors.New("driver \"overlay2\" failed to remove root filesystem: device or resource busy")
	}
	return e.Runtime.RemoveContainer(ctx, id)
}

func (e *stuckRemovals) refused(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stuck[id]
}

// TestUnremovableDeadContainersDoNotBlockThePod: a pod whose sandbox died
// runs again in a new sandbox although the engine refuses to remove the dead
// one and its dead container; the removals are tried again later.
func TestUnremovableDeadContainersDoNotBlockThePod(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := &stuckRemovals{Runtime: newFakeRuntime(), stuck: map[string]int{}}
		h := startRunner(t, e.Runtime, Config{Runtime: e})
		pod := loadPod(t, podYAML("p", "", "app"))
		h.send(pod)
		waitFor(t, "pod running", func() bool { return running(t, e.Runtime, pod, "app") })
		sb, _ := latestOf(t, e.Runtime, pod, SandboxContainerName)
		app, _ := latestOf(t, e.Runtime, pod, "app")
		e.mu.Lock()
		e.stuck[sb.ID], e.stuck[app.ID] = 0, 0
		e.mu.Unlock()
		if err := e.Runtime.Exit(app.ID, 137); err != nil {
			t.Fatal(err)
		}
		if err := e.Runtime.Exit(sb.ID, 0); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the pod running in a new sandbox", func() bool {
			now, _ := latestOf(t, e.Runtime, pod, SandboxContainerName)
			return now.ID != sb.ID && running(t, e.Runtime, pod, "app")
		})
		// The new sandbox dies too: the next plan removes the old one
		// (refused again) and makes a third.
		second, _ := latestOf(t, e.Runtime, pod, SandboxContainerName)
		if err := e.Runtime.Exit(second.ID, 0); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the pod running in a third sandbox", func() bool {
			now, _ := latestOf(t, e.Runtime, pod, SandboxContainerName)
			return now.ID != sb.ID && now.ID != second.ID && running(t, e.Runtime, pod, "app")
		})
		if e.refused(sb.ID) == 0 {
			t.Error("runner never tried to remove the dead sandbox")
		}
		for _, c := range podContainers(t, e.Runtime, pod) {
			if c.ID == sb.ID && c.State == runtime.StateRunning {
				t.Error("the dead sandbox runs again")
			}
		}
	})
}
