package source

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runner-dev/runner/manifest"
)

// These tests run the source with the real loader, manifest.Load.

const etcdYAML = `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  hostNetwork: true
  containers:
  - name: etcd
    image: runner.local/busybox:test
    command: ["sleep", "3600"]
`

const apiJSON = `{
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {"name": "api", "namespace": "kube-system"},
  "spec": {"containers": [{"name": "api", "image": "runner.local/busybox:test"}]}
}
`

// tickingClock returns a later time at every call, so a pod that was
// loaded again shows it in kubernetes.io/config.seen.
func tickingClock() func() time.Time {
	var n atomic.Int64
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Second) }
}

func realConfig(dir string) FileConfig {
	return FileConfig{
		Path:    dir,
		Load:    manifest.Load,
		Options: manifest.Options{NodeName: "node1"},
		Now:     tickingClock(),
	}
}

func TestFileRealManifests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	etcd := filepath.Join(dir, "etcd.yaml")
	write(t, etcd, etcdYAML)
	write(t, etcd+".bak", etcdYAML)
	write(t, filepath.Join(dir, "api.json"), apiJSON)
	h := start(t, realConfig(dir))

	s := h.awaitPods("kube-system/api-node1", "kube-system/etcd-node1")
	if len(s.Problems) != 0 {
		t.Fatalf("problems: %v", s.Problems)
	}
	first := s.Pods[1]
	if first.Origin != etcd || first.Pod.UID == "" ||
		first.Pod.Annotations[manifest.AnnotationConfigSource] != manifest.SourceFile ||
		first.Pod.Annotations[manifest.AnnotationConfigSeen] == "" {
		t.Fatalf("etcd pod not identified: origin %s uid %q annotations %v", first.Origin, first.Pod.UID, first.Pod.Annotations)
	}
	seen := first.Pod.Annotations[manifest.AnnotationConfigSeen]

	// The same bytes again: read again, nothing changes, config.seen stays.
	n := len(h.snapshots())
	write(t, etcd, etcdYAML)
	h.awaitCond("etcd.yaml read again", func() bool { return h.logs.count("why=events") >= 1 })
	write(t, filepath.Join(dir, "marker.txt"), "")
	h.awaitCond("marker scanned", func() bool { return h.logs.count("why=events") >= 2 })
	if got := len(h.snapshots()); got != n {
		t.Fatalf("rewriting the same manifest made %d snapshots:\n%s", got-n, h.dump())
	}

	// Cut mid-YAML: a problem with a line, and the pod stays.
	cut := etcdYAML[:strings.Index(etcdYAML, "  - name: etcd")+len("  - name: et")] + "\n    image: [\n"
	write(t, etcd, cut)
	s = h.await("a problem in etcd.yaml", func(s manifest.Snapshot) bool { return len(s.Problems) > 0 })
	if p := s.Problems[0]; p.File != etcd || p.Line == 0 {
		t.Fatalf("problem %v: want one in %s with a line", p, etcd)
	}
	if got := s.Pods[1].Pod; got != first.Pod {
		t.Fatalf("the cut-off file lost its last good pod: %s", describe(&s))
	}

	// Empty: still the last good pod.
	must(t, os.Truncate(etcd, 0))
	s = h.await("empty problem", func(s manifest.Snapshot) bool { return hasProblem(s, etcd, "file is empty") })
	if got := s.Pods[1].Pod; got != first.Pod {
		t.Fatalf("the empty file lost its last good pod: %s", describe(&s))
	}

	// A real change: a new UID, no problems.
	write(t, etcd, strings.Replace(etcdYAML, `"3600"`, `"7200"`, 1))
	s = h.await("a new etcd", func(s manifest.Snapshot) bool {
		return len(s.Problems) == 0 && len(s.Pods) == 2 && s.Pods[1].Pod.UID != first.Pod.UID
	})
	if s.Pods[1].Pod.Annotations[manifest.AnnotationConfigSeen] == seen {
		t.Fatalf("a changed pod kept config.seen %s", seen)
	}
	for i, s := range h.snapshots() {
		if len(s.Pods) != 2 {
			t.Fatalf("snapshot %d has %d pods, want 2 throughout:\n%s", i, len(s.Pods), h.dump())
		}
	}

	// Another file defining etcd conflicts; the running one stays.
	etcd2 := filepath.Join(dir, "etcd2.yaml")
	write(t, etcd2, etcdYAML)
	s = h.await("conflict", func(s manifest.Snapshot) bool { return hasProblem(s, etcd2, etcd) })
	if s.Pods[1].Origin != etcd {
		t.Fatalf("etcd moved to %s", s.Pods[1].Origin)
	}
}

// A pinned metadata.uid survives edits, so a changed pod is a new object
// with the same UID; the source must still send it.
func TestFileRealManifestPinnedUIDChange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "etcd.yaml")
	pinned := strings.Replace(etcdYAML, "  name: etcd\n", "  name: etcd\n  uid: 0a0b0c0d-pinned\n", 1)
	write(t, path, pinned)
	h := start(t, realConfig(dir))
	s := h.awaitPods("kube-system/etcd-node1")
	old := s.Pods[0].Pod
	if old.UID != "0a0b0c0d-pinned" {
		t.Fatalf("uid = %q, want the pinned one", old.UID)
	}

	write(t, path, strings.Replace(pinned, `"3600"`, `"7200"`, 1))
	s = h.await("the edited pod", func(s manifest.Snapshot) bool {
		return len(s.Pods) == 1 && s.Pods[0].Pod != old
	})
	if got := s.Pods[0].Pod.Spec.Containers[0].Command[1]; got != "7200" {
		t.Fatalf("command = %q, want the edited one", got)
	}
}
