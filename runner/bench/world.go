package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/runner-dev/runner/net/cni"
)

// nodeName is runner's --node-name: pods are named <name>-bench.
const nodeName = "bench"

// world is one run of runner under test: its directories, flags, the
// counting proxy in front of the engine and the event recorder.
type world struct {
	bin       string
	dir       string // everything below is under it
	manifests string
	empty     string // an empty manifest dir, for the janitor
	root      string
	cniConf   string
	instance  string
	bridge    string
	cidr      string

	cli   *client.Client
	proxy *proxy
	rec   *recorder // runner's containers
	// boundRec records the bound's containers (the bound's kill phase).
	boundRec *recorder
	proc     *runnerProc
	logs     int // runner processes started, for log file names
}

// args are the flags of every runner of this world; manifestDir and
// endpoint vary between the measured runner and the janitor.
func (w *world) args(manifestDir, endpoint string) []string {
	a := []string{
		"--manifest-dir", manifestDir,
		"--root-dir", w.root,
		"--instance-id", w.instance,
		"--node-name", nodeName,
		"--pod-cidr", w.cidr,
		"--cni-bridge-name", w.bridge,
		"--cni-conf-dir", w.cniConf,
		"--sync-frequency", "1m",
		"--max-parallel-pods", "16",
		"--log-level", "info",
		"--read-only-port", "0", "--healthz-port", "0", // no API (phase_api.go measures it)
	}
	if endpoint != "" {
		a = append(a, "--docker-endpoint", endpoint)
	}
	return a
}

// startRunner starts the measured runner, talking to the engine through
// the proxy.
func (w *world) startRunner() error {
	w.logs++
	p, err := startRunner(w.bin, w.args(w.manifests, "unix://"+w.proxy.path), filepath.Join(w.dir, fmt.Sprintf("runner-%d.log", w.logs)))
	if err != nil {
		return err
	}
	w.proc = p
	return nil
}

// podName is the full name of pod name.
func podName(name string) string { return name + "-" + nodeName }

// podManifest is a one-container pod whose app runs script.
func podManifest(name, script string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: app
    image: %s
    command: ["sh", "-c", %q]
`, name, appImage, script)
}

// writePod writes a pod's manifest atomically (a hidden temp file, then a
// rename) and returns when the file appeared.
func (w *world) writePod(name, script string) (time.Time, error) {
	tmp := filepath.Join(w.manifests, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(podManifest(name, script)), 0o644); err != nil {
		return time.Time{}, err
	}
	if err := os.Rename(tmp, filepath.Join(w.manifests, name+".yaml")); err != nil {
		return time.Time{}, err
	}
	return time.Now(), nil
}

func (w *world) removePod(name string) error {
	return os.Remove(filepath.Join(w.manifests, name+".yaml"))
}

// containers lists the ids of every container of this instance.
func (w *world) containers(ctx context.Context) ([]string, error) {
	list, err := w.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", labelInstance+"="+w.instance))})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(list))
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// awaitNoContainers polls until the instance has no container left.
func (w *world) awaitNoContainers(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ids, err := w.containers(ctx)
		if err == nil && len(ids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d containers of instance %s still there after %v (list error: %v)", len(ids), w.instance, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// cleanup removes everything the world made, on a fresh context: the
// measured runner is killed; when pods are left, a janitor runner with the
// same root dir and no manifests tears them down the proper way (CNI DEL,
// IP release); whatever still remains is force-removed; then the proxy,
// the bridge and the directories go.
func (w *world) cleanup(ctx context.Context) error {
	var errs []error
	if w.proc != nil && !w.proc.exited() {
		w.proc.kill()
	}
	if ids, err := w.containers(ctx); err == nil && len(ids) > 0 {
		fmt.Fprintf(os.Stderr, "bench: cleanup: %d containers left; a janitor runner tears them down\n", len(ids))
		w.logs++
		j, err := startRunner(w.bin, w.args(w.empty, ""), filepath.Join(w.dir, fmt.Sprintf("runner-%d-janitor.log", w.logs)))
		if err == nil {
			if err := w.awaitNoContainers(ctx, 60*time.Second); err != nil {
				errs = append(errs, fmt.Errorf("janitor: %w", err))
			}
			if err := j.stop(15 * time.Second); err != nil {
				errs = append(errs, err)
			}
		} else {
			errs = append(errs, err)
		}
	}
	if ids, err := w.containers(ctx); err == nil {
		for _, id := range ids {
			if err := w.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	} else {
		errs = append(errs, err)
	}
	if w.proxy != nil {
		w.proxy.close()
	}
	// runner's network's node set-up: bridge, veths, rules.
	if err := cni.RemoveNode(ctx, cni.Node{Bridge: w.bridge, CIDRs: []netip.Prefix{netip.MustParsePrefix(w.cidr)}}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
