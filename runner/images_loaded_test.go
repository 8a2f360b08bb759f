package runner

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/restart"
	"github.com/runner-dev/runner/runner/runtime"
)

// TestImagesLoadedRetriesAtOnce: a container waiting an hour of backoff for
// an image that cannot be pulled starts as soon as the image arrives and
// the loop is told; before it is told, the image alone starts nothing.
func TestImagesLoadedRetriesAtOnce(t *testing.T) {
	for _, policy := range []string{"IfNotPresent", "Never"} {
		t.Run(policy, func(t *testing.T) {
			bubble(t, func(t *testing.T) {
				rt := newFakeRuntime()
				h := startRunner(t, rt, Config{Backoff: restart.Policy{Initial: time.Hour, Max: time.Hour, Reset: 2 * time.Hour}})
				pod := loadPod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec:\n  containers:\n  - {name: app, image: runner.local/airgap:v1, imagePullPolicy: "+policy+"}\n")
				h.send(pod)
				want := map[string]string{"IfNotPresent": reasonImagePullBackOff, "Never": reasonErrImageNeverPull}[policy]
				waitFor(t, want, func() bool {
					st := h.status(pod)
					return st != nil && len(st.Status.ContainerStatuses) == 1 && waitingReasonOf(st.Status.ContainerStatuses[0]) == want
				})
				rt.AddImage(runtime.Image{RepoTags: []string{"runner.local/airgap:v1"}})
				time.Sleep(time.Minute)
				synctest.Wait()
				if running(t, rt, pod, "app") {
					t.Fatal("the container started before the loop was told, within its backoff")
				}
				if !h.r.ImagesLoaded(context.Background()) {
					t.Fatal("ImagesLoaded: the loop did not take it")
				}
				// waitFor gives up after 10 s of virtual time, an hour before the backoff ends.
				waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
				waitFor(t, "status Running", func() bool { return h.phaseIs(pod, v1.PodRunning) })
			})
		})
	}
}
