package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
)

// The invariant checker (issue 17): what must hold of a test's world once
// runner has converged, whatever happened before — crashes of runner or of
// the engine, bad input, a full disk. violations lists what does not hold;
// awaitInvariants waits until nothing is listed.
//
//   - every desired pod has exactly one live sandbox, one UID (its current
//     version's when known), and exactly one live container per container
//     name of its spec (the pods of these tests run until removed);
//   - no container of this test's instance belongs to an undesired pod;
//   - every IP allocation and network record under <root-dir>/net belongs to
//     a live sandbox that is not on the host network, and every such sandbox
//     has one; as many veths on the test's bridge as such sandboxes; no CNI
//     cache entry and no iptables rule of the test's pod CIDR for a sandbox
//     that is gone;
//   - no pod directory, and no mount, under --root-dir for a pod that has no
//     live sandbox; no checkpoint of a manifest file that is gone.

// wantPod is a pod the checker expects to run.
type wantPod struct {
	name       string    // as in the manifest, without the node suffix
	uid        types.UID // "": any one UID (the last good version is unknown)
	containers []string
}

// wantOf is what pods loaded from manifests ask for.
func wantOf(pods []*v1.Pod) []wantPod {
	out := make([]wantPod, 0, len(pods))
	for _, p := range pods {
		w := wantPod{name: strings.TrimSuffix(p.Name, "-e2e"), uid: p.UID}
		for _, c := range p.Spec.Containers {
			w.containers = append(w.containers, c.Name)
		}
		out = append(out, w)
	}
	return out
}

// loadManifest loads data as runner's file source loads the file name of
// the test's manifest directory; ok is false when it is not valid.
func (h *harness) loadManifest(name string, data []byte) (pods []*v1.Pod, ok bool) {
	pods, problems := manifest.Load(filepath.Join(h.manifests, name), data, manifest.Options{NodeName: "e2e", Source: manifest.SourceFile})
	return pods, len(problems) == 0
}

// wantFromManifests is what the valid files of the manifest directory ask
// for, with their exact UIDs, and the names of the files that are not valid
// (whose last good version, if any, the caller must know).
func (h *harness) wantFromManifests() (want []wantPod, invalid []string) {
	entries, err := os.ReadDir(h.manifests)
	if err != nil {
		h.t.Fatalf("read manifests: %v", err)
	}
	for _, e := range entries {
		if ok, _ := manifest.ManifestName(e.Name()); !ok {
			continue
		}
		data, err := os.ReadFile(filepath.Join(h.manifests, e.Name()))
		if err != nil {
			continue // removed meanwhile
		}
		pods, ok := h.loadManifest(e.Name(), data)
		if !ok {
			invalid = append(invalid, e.Name())
			continue
		}
		want = append(want, wantOf(pods)...)
	}
	return want, invalid
}

// awaitInvariants waits until the invariants hold for want and returns how
// long that took; it fails the test with what still does not hold after
// timeout.
func (h *harness) awaitInvariants(want []wantPod, timeout time.Duration) time.Duration {
	h.t.Helper()
	start := time.Now()
	var last []string
	for {
		if last = h.violations(want); len(last) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			h.t.Fatalf("invariants do not hold %v after convergence began:\n  %s", timeout, strings.Join(last, "\n  "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// violations lists every invariant that does not hold now, sorted; none
// when all hold. A failing engine call is a violation, not a test failure:
// callers poll.
func (h *harness) violations(want []wantPod) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	list, err := h.rt.ListContainers(ctx, map[string]string{runner.LabelInstance: h.instance})
	if err != nil {
		return []string{fmt.Sprintf("list containers: %v", err)}
	}
	var v []string
	byPod := map[string][]runtime.Container{}
	for _, c := range list {
		name := c.Labels[runner.LabelPodName]
		byPod[name] = append(byPod[name], c)
	}
	// live: sandboxes that run, by ID, and whether they are networked;
	// liveUIDs: the pods that have one.
	live, liveUIDs := map[string]bool{}, map[string]bool{}
	for _, c := range list {
		if c.Labels[runner.LabelDockerType] == runner.TypeSandbox && c.State == runtime.StateRunning {
			live[c.ID] = c.Labels[runner.LabelHostNetwork] != "true"
			liveUIDs[c.Labels[runner.LabelPodUID]] = true
		}
	}
	desired := map[string]bool{}
	for _, w := range want {
		full := w.name + "-e2e"
		desired[full] = true
		v = append(v, podViolations(w, byPod[full])...)
	}
	for name, cs := range byPod {
		if !desired[name] {
			v = append(v, fmt.Sprintf("pod %s is not desired but has %d containers: %s", name, len(cs), strings.Join(names(cs), " ")))
		}
	}
	v = append(v, h.networkViolations(live)...)
	v = append(v, h.rootDirViolations(liveUIDs)...)
	slices.Sort(v)
	return v
}

// podViolations checks one desired pod's containers.
func podViolations(w wantPod, cs []runtime.Container) []string {
	var v []string
	full := w.name + "-e2e"
	running := map[string]int{}
	uids := map[string]bool{}
	for _, c := range cs {
		uids[c.Labels[runner.LabelPodUID]] = true
		if c.State == runtime.StateRunning {
			running[c.Labels[runner.LabelContainerName]]++
		}
	}
	if n := running[runner.SandboxContainerName]; n != 1 {
		v = append(v, fmt.Sprintf("pod %s has %d live sandboxes, want 1", full, n))
	}
	if len(uids) > 1 {
		v = append(v, fmt.Sprintf("pod %s has containers of %d UIDs (an old version left?): %s", full, len(uids), strings.Join(names(cs), " ")))
	}
	if w.uid != "" && len(uids) == 1 && !uids[string(w.uid)] {
		v = append(v, fmt.Sprintf("pod %s runs another version than the manifest's (UID %s)", full, w.uid))
	}
	for _, name := range w.containers {
		if n := running[name]; n != 1 {
			v = append(v, fmt.Sprintf("pod %s has %d live containers %s, want 1", full, n, name))
		}
	}
	return v
}

// rootDirViolations checks --root-dir: pod directories and mounts belong to
// pods with a live sandbox, file checkpoints to manifests that exist.
func (h *harness) rootDirViolations(liveUIDs map[string]bool) []string {
	var v []string
	pods := filepath.Join(h.root, "pods")
	entries, _ := os.ReadDir(pods)
	for _, e := range entries {
		if !liveUIDs[e.Name()] {
			v = append(v, fmt.Sprintf("pod directory %s has no live pod", e.Name()))
		}
	}
	for _, m := range mountsBelow(h.root) {
		rel, _ := filepath.Rel(pods, m)
		uid, _, _ := strings.Cut(rel, "/")
		if strings.HasPrefix(rel, "..") || !liveUIDs[uid] {
			v = append(v, fmt.Sprintf("mount %s has no live pod", m))
		}
	}
	for _, origin := range h.checkpointOrigins("file") {
		if _, err := os.Stat(origin); err != nil {
			v = append(v, fmt.Sprintf("checkpoint of %s, which is gone", origin))
		}
	}
	return v
}
