package e2e

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/dockerd"
	"github.com/runner-dev/runner/internal/testenv"
)

// privateHarness is a harness on a private dockerd that the test may stop
// and start (internal/dockerd), with the test image imported into it. The
// daemon, its containers and its directory are removed in cleanup, after
// the harness's own cleanup has torn the pods down through runner (the
// daemon is started again for that if the test left it down).
func privateHarness(t *testing.T, liveRestore bool, flags ...string) (*harness, *dockerd.Daemon) {
	t.Helper()
	testenv.Integration(t, "dockerd, containerd, root and the CNI plugins")
	testenv.Root(t)
	_, err := exec.LookPath("dockerd")
	testenv.Need(t, "dockerd", err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := dockerd.Start(ctx, dockerd.Config{LiveRestore: liveRestore})
	if err != nil {
		t.Fatalf("private dockerd: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("private dockerd: %v", err)
		}
	})
	if err := d.ImportBusybox(ctx, testImage); err != nil {
		t.Fatal(err)
	}
	h := newHarnessOn(t, d.Endpoint(), flags...)
	// Cleanups run last-in first-out: this one, before the harness's.
	t.Cleanup(func() {
		if !d.Running() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := d.Up(ctx); err != nil {
				t.Logf("private dockerd for cleanup: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("private dockerd's log: %s", d.LogPath())
		}
	})
	return h, d
}

// stopEngine stops the private engine and returns how long that took.
func stopEngine(t *testing.T, d *dockerd.Daemon) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	took, err := d.Stop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return took
}

// startEngine starts the private engine; it answers when this returns.
func startEngine(t *testing.T, d *dockerd.Daemon) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := d.Up(ctx); err != nil {
		t.Fatal(err)
	}
	return time.Now()
}
