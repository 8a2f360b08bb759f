package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/runner"
)

// manifestServer serves one manifest body on 127.0.0.1 until closed.
type manifestServer struct {
	mu   sync.Mutex
	body string
	srv  *httptest.Server
}

func newManifestServer(t *testing.T, body string) *manifestServer {
	m := &manifestServer{body: body}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		m.mu.Lock()
		defer m.mu.Unlock()
		_, _ = w.Write([]byte(m.body))
	}))
	t.Cleanup(m.srv.Close)
	return m
}

// TestURLPodsComeBackOfflineAfterReboot: runner runs a pod from a URL; the
// URL's server goes away, runner stops and the pod's containers are removed
// (as after a reboot); runner started again brings the pod back from the
// last good body it checkpointed.
func TestURLPodsComeBackOfflineAfterReboot(t *testing.T) {
	h := newHarness(t)
	srv := newManifestServer(t, pod("edge", "Always", sleeper))
	url := srv.srv.URL + "/pods.yaml"
	p := h.start("--manifest-url", url, "--http-check-frequency", "1s")
	testenv.Eventually(t, 60*time.Second, "the URL's pod running", func() bool { return h.running("edge", "main") })
	p.stop(t)
	srv.srv.Close()

	// The reboot: every container of the pod is gone (their network is
	// released by the next runner, which finds its records without them).
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list, err := h.rt.ListContainers(ctx, map[string]string{runner.LabelInstance: h.instance})
	if err != nil || len(list) == 0 {
		t.Fatalf("before the reboot: %d containers (%v)", len(list), err)
	}
	for _, c := range list {
		if err := h.rt.RemoveContainer(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}

	p2 := h.start("--manifest-url", url, "--http-check-frequency", "1s")
	p2.awaitLog(t, "checkpoint", 30*time.Second)
	testenv.Eventually(t, 60*time.Second, "the URL's pod back from the checkpoint", func() bool { return h.running("edge", "main") })
}
