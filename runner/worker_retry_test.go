package runner

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	netfake "github.com/runner-dev/runner/net/fake"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// cappedCreates is the fake engine that counts container creations and,
// past limit, holds every further one until its context ends: a runner that
// retries without pause then blocks (so that virtual time still advances)
// instead of spinning forever.
type cappedCreates struct {
	*fake.Runtime
	creates   atomic.Int32
	sandboxes atomic.Int32 // of the creations, those of sandboxes
	limit     int32
}

func (e *cappedCreates) CreateContainer(ctx context.Context, s runtime.ContainerSpec) (string, error) {
	if e.creates.Add(1) > e.limit {
		<-ctx.Done()
		return "", ctx.Err()
	}
	if s.Labels[LabelDockerType] == TypeSandbox {
		e.sandboxes.Add(1)
	}
	return e.Runtime.CreateContainer(ctx, s)
}

// TestFailedSandboxWaitsForItsRetry: a sandbox that starts but cannot be
// completed (here: no address left) is taken down again, and the pod waits
// its retry backoff before the next attempt. The engine's events of the
// sandbox the failed step made and removed are echoes of that step, not
// news that would plan the pod again at once.
func TestFailedSandboxWaitsForItsRetry(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := &cappedCreates{Runtime: newFakeRuntime(), limit: 50}
		// A /30 has one address for pods (beside the gateway's): the second
		// pod gets none.
		nw := netfake.New(netip.MustParsePrefix("10.99.0.0/30"))
		h := startRunner(t, e.Runtime, Config{Runtime: e, Network: nw})
		var pods []*v1.Pod
		for i := range 2 {
			pods = append(pods, loadPod(t, podYAML(fmt.Sprintf("p%d", i), "", "app")))
		}
		h.send(pods...)
		waitFor(t, "one pod running", func() bool {
			n := 0
			for _, p := range pods {
				if running(t, e.Runtime, p, "app") {
					n++
				}
			}
			return n == 1
		})
		time.Sleep(60 * time.Second)
		waitFor(t, "", func() bool { return true })
		// p0's sandbox, then p1's at once and after each retry: 1, 2, 4, 8,
		// 16 and 30 s (±20 %), about 7 in a minute.
		if n := e.sandboxes.Load(); n > 1+8 {
			t.Errorf("%d sandboxes created in 60 s; a pod whose sandbox cannot get an address must wait its retry backoff between attempts (about 6)", n)
		}
	})
}
