package source

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/manifest"
)

// checkpointFiles lists the checkpoint files under root, by origin.
func checkpointFiles(t *testing.T, root string) map[string]checkpoint {
	t.Helper()
	dir := CheckpointDir(root, manifest.SourceFile)
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string]checkpoint{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var cp checkpoint
		if err := json.Unmarshal(data, &cp); err != nil {
			t.Fatalf("checkpoint %s: %v", e.Name(), err)
		}
		out[cp.Origin] = cp
	}
	return out
}

// realCheckpointConfig is a File source on dir with the real loader and
// checkpoints under root.
func realCheckpointConfig(dir, root string) FileConfig {
	cfg := realConfig(dir)
	cfg.RootDir = root
	cfg.Interval = 20 * time.Millisecond
	return cfg
}

// A restart of runner while a manifest is invalid, half-written or
// unreadable runs its last good pods, with the same UIDs, from the
// checkpoint, and says so once.
func TestCheckpointRestartWhileInvalidKeepsPods(t *testing.T) {
	t.Parallel()
	for name, spoil := range map[string]func(t *testing.T, path string){
		"invalid": func(t *testing.T, path string) {
			write(t, path, strings.Replace(etcdYAML, "containers:", "containerz:", 1))
		},
		"half-written": func(t *testing.T, path string) { write(t, path, etcdYAML[:40]) },
		"empty":        func(t *testing.T, path string) { write(t, path, "") },
		"unreadable": func(t *testing.T, path string) {
			must(t, os.Remove(path))
			must(t, os.Symlink(filepath.Join(filepath.Dir(path), "nowhere"), path))
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir, root := t.TempDir(), t.TempDir()
			etcd := filepath.Join(dir, "etcd.yaml")
			write(t, etcd, etcdYAML)
			cfg := realCheckpointConfig(dir, root)

			first := start(t, cfg)
			good := first.awaitPods("kube-system/etcd-node1").Pods[0]
			if good.Version.From != manifest.VersionCurrent || good.Version.GoodSince.IsZero() {
				t.Fatalf("version %+v, want current with a time", good.Version)
			}
			first.stop()
			cps := checkpointFiles(t, root)
			if cp, ok := cps[etcd]; !ok || string(cp.Content) != etcdYAML || !cp.GoodSince.Equal(good.Version.GoodSince) {
				t.Fatalf("checkpoints %v, want etcd.yaml's content as read", cps)
			}

			spoil(t, etcd)
			again := start(t, cfg)
			s := again.await("etcd from the checkpoint", func(s manifest.Snapshot) bool { return len(s.Pods) == 1 && len(s.Problems) > 0 })
			p := s.Pods[0]
			if p.Pod.UID != good.Pod.UID || p.Origin != etcd {
				t.Fatalf("pod %s from %s, want the same UID %s from %s", p.Pod.UID, p.Origin, good.Pod.UID, etcd)
			}
			if p.Version.From != manifest.VersionCheckpoint || !p.Version.GoodSince.Equal(good.Version.GoodSince) ||
				p.Version.Reason == "" || p.Version.StaleSince.IsZero() {
				t.Fatalf("version %+v, want checkpoint, good since %s, with a reason", p.Version, good.Version.GoodSince)
			}
			if s.Partial || s.Problems[0].File != etcd {
				t.Fatalf("snapshot %s (partial %v), want a problem on %s", describe(&s), s.Partial, etcd)
			}
			again.awaitCond("rescans", func() bool { return again.logs.count("why=interval") >= 3 })
			if n := again.logs.count("running its last good version, saved in a checkpoint"); n != 1 {
				t.Fatalf("said %d times that it runs the checkpoint, want once:\n%s", n, again.logs)
			}
			if !strings.Contains(again.logs.String(), "good_since="+good.Version.GoodSince.Format("2006-01-02T15:04:05")) {
				t.Fatalf("the log does not say since when:\n%s", again.logs)
			}

			// Fixed with new content: a new pod, the current version, a new
			// checkpoint.
			write(t, etcd, strings.Replace(etcdYAML, `"3600"`, `"7200"`, 1))
			s = again.await("the new etcd", func(s manifest.Snapshot) bool {
				return len(s.Pods) == 1 && len(s.Problems) == 0 && s.Pods[0].Pod.UID != good.Pod.UID
			})
			if v := s.Pods[0].Version; v.From != manifest.VersionCurrent || !v.GoodSince.After(good.Version.GoodSince) {
				t.Fatalf("version %+v, want current and newer", v)
			}
			if cp := checkpointFiles(t, root)[etcd]; !strings.Contains(string(cp.Content), "7200") {
				t.Fatalf("checkpoint not updated: %s", cp.Content)
			}
			assertAlwaysHas(t, again, "etcd-node1")
		})
	}
}

// The same content at a restart keeps its good-since time and rewrites no
// checkpoint.
func TestCheckpointUnchangedAcrossRestart(t *testing.T) {
	t.Parallel()
	dir, root := t.TempDir(), t.TempDir()
	write(t, filepath.Join(dir, "etcd.yaml"), etcdYAML)
	cfg := realCheckpointConfig(dir, root)
	first := start(t, cfg)
	before := first.awaitPods("kube-system/etcd-node1").Pods[0]
	first.stop()
	cpPath := filepath.Join(CheckpointDir(root, manifest.SourceFile), checkpointName(filepath.Join(dir, "etcd.yaml")))
	old, err := os.Stat(cpPath)
	must(t, err)

	again := start(t, cfg)
	after := again.awaitPods("kube-system/etcd-node1").Pods[0]
	if after.Pod.UID != before.Pod.UID || after.Version.From != manifest.VersionCurrent || !after.Version.GoodSince.Equal(before.Version.GoodSince) {
		t.Fatalf("after the restart %s %+v, before %s %+v", after.Pod.UID, after.Version, before.Pod.UID, before.Version)
	}
	now, err := os.Stat(cpPath)
	must(t, err)
	if !now.ModTime().Equal(old.ModTime()) || !os.SameFile(now, old) {
		t.Fatal("the unchanged checkpoint was written again")
	}
}

// The manifest path missing or unreadable at start: every checkpoint runs
// and the snapshot is Partial. Once the directory is back, the files that
// are not in it are gone, with their checkpoints.
func TestCheckpointPathMissingAtStart(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"missing", "unreadable"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			base, root := t.TempDir(), t.TempDir()
			parent := filepath.Join(base, "etc")
			dir := filepath.Join(parent, "manifests")
			must(t, os.MkdirAll(dir, 0o755))
			write(t, filepath.Join(dir, "etcd.yaml"), etcdYAML)
			write(t, filepath.Join(dir, "api.json"), apiJSON)
			cfg := realCheckpointConfig(dir, root)
			first := start(t, cfg)
			before := first.awaitPods("kube-system/etcd-node1", "kube-system/api-node1")
			first.stop()

			must(t, os.RemoveAll(parent))
			if how == "unreadable" {
				write(t, parent, "a file where a directory should be") // stat says ENOTDIR
			}
			again := start(t, cfg)
			s := again.awaitPods("kube-system/etcd-node1", "kube-system/api-node1")
			if !s.Partial {
				t.Fatal("the snapshot of a missing path is not Partial")
			}
			for i, p := range s.Pods {
				if p.Pod.UID != before.Pods[i].Pod.UID || p.Version.From != manifest.VersionCheckpoint {
					t.Fatalf("pod %d: %s %+v, want UID %s from the checkpoint", i, p.Pod.UID, p.Version, before.Pods[i].Pod.UID)
				}
			}
			if how == "unreadable" && (len(s.Problems) != 1 || s.Problems[0].File != dir || !strings.Contains(s.Problems[0].Message, "not a directory")) {
				t.Fatalf("problems %v, want the path's", s.Problems)
			}
			if n := again.logs.count("saved in a checkpoint"); n != 2 {
				t.Fatalf("%d files said to run from checkpoints, want 2:\n%s", n, again.logs)
			}

			// The directory is back with etcd.yaml only: api.json is gone.
			must(t, os.RemoveAll(parent))
			must(t, os.MkdirAll(dir, 0o755))
			write(t, filepath.Join(dir, "etcd.yaml"), etcdYAML)
			s = again.awaitPods("kube-system/etcd-node1")
			if s.Partial || s.Pods[0].Pod.UID != before.Pods[1].Pod.UID || s.Pods[0].Version.From != manifest.VersionCurrent {
				t.Fatalf("after the directory is back: %s partial %v version %+v", describe(&s), s.Partial, s.Pods[0].Version)
			}
			if cps := checkpointFiles(t, root); len(cps) != 1 || cps[filepath.Join(dir, "etcd.yaml")].Origin == "" {
				t.Fatalf("checkpoints %v, want etcd.yaml's only", cps)
			}
			assertAlwaysHas(t, again, "etcd-node1")
		})
	}
}

// A removed file drops its checkpoint, while runner runs and while it is
// stopped.
func TestCheckpointRemovedFileDropsIt(t *testing.T) {
	t.Parallel()
	dir, root := t.TempDir(), t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	write(t, a, "name: a\n")
	write(t, b, "name: b\n")
	cfg := FileConfig{Path: dir, RootDir: root}
	h := start(t, cfg)
	h.awaitPods("a", "b")
	if n := len(checkpointFiles(t, root)); n != 2 {
		t.Fatalf("%d checkpoints, want 2", n)
	}
	must(t, os.Remove(b))
	h.awaitPods("a")
	if cps := checkpointFiles(t, root); len(cps) != 1 || cps[a].Origin != a {
		t.Fatalf("checkpoints %v after removing b.yaml, want a.yaml's only", cps)
	}
	h.stop()

	must(t, os.Remove(a))
	again := start(t, cfg)
	if s := again.awaitPods(); s.Partial || len(s.Problems) != 0 {
		t.Fatalf("after a removal while stopped: %s partial %v", describe(&s), s.Partial)
	}
	if cps := checkpointFiles(t, root); len(cps) != 0 {
		t.Fatalf("checkpoints %v, want none", cps)
	}
	if n := again.logs.count("manifest removed while runner was stopped"); n != 1 {
		t.Fatalf("the removal logged %d times, want once:\n%s", n, again.logs)
	}
}

// A single manifest file (the path itself) that is removed while runner is
// stopped is gone; one that is invalid runs its checkpoint.
func TestCheckpointSingleFile(t *testing.T) {
	t.Parallel()
	dir, root := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "static-pod")
	write(t, path, "name: a\n")
	cfg := FileConfig{Path: path, RootDir: root}
	h := start(t, cfg)
	uid := pod(h.awaitPods("a"), "a").Pod.UID
	h.stop()

	write(t, path, "garbage\n")
	h = start(t, cfg)
	s := h.await("a from the checkpoint", func(s manifest.Snapshot) bool { return len(s.Problems) == 1 })
	if p := pod(s, "a"); p == nil || p.Pod.UID != uid || p.Version.From != manifest.VersionCheckpoint || s.Partial {
		t.Fatalf("%s partial %v, want a (uid %s) from its checkpoint", describe(&s), s.Partial, uid)
	}
	h.stop()

	must(t, os.Remove(path))
	h = start(t, cfg)
	if s := h.awaitPods(); s.Partial {
		t.Fatal("a removed single file gave a Partial snapshot")
	}
	if cps := checkpointFiles(t, root); len(cps) != 0 {
		t.Fatalf("checkpoints %v, want none", cps)
	}
}

// Checkpoints that cannot be used never stop the source: a file that does
// not parse, one whose content no longer loads, one of a file outside the
// manifest path. Each is ignored with a warning (or dropped).
func TestCheckpointUnusable(t *testing.T) {
	t.Parallel()
	dir, root := t.TempDir(), t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	write(t, a, "garbage\n")
	write(t, b, "name: b\n")
	cpDir := CheckpointDir(root, manifest.SourceFile)
	must(t, os.MkdirAll(cpDir, 0o700))
	put := func(origin, content string) string {
		t.Helper()
		data, err := json.Marshal(checkpoint{Format: checkpointFormat, Origin: origin, GoodSince: time.Now(),
			SHA256: contentSum([]byte(content)), Content: []byte(content)})
		must(t, err)
		p := filepath.Join(cpDir, checkpointName(origin))
		write(t, p, string(data))
		return p
	}
	put(a, "no longer a manifest\n") // the fake loader refuses it
	outside := put("/elsewhere/x.yaml", "name: x\n")
	write(t, filepath.Join(cpDir, "junk-0011223344556677.json"), `{"format": 1, "origin": `)
	future := put(b, "name: b\n")
	data, err := os.ReadFile(future)
	must(t, err)
	write(t, future, strings.Replace(string(data), `"format":1`, `"format":99`, 1))
	write(t, filepath.Join(cpDir, ".x.json.tmp-123"), "left by a crash")

	h := start(t, FileConfig{Path: dir, RootDir: root})
	s := h.await("b and a's problem", func(s manifest.Snapshot) bool { return len(s.Pods) == 1 && hasProblem(s, a, "want") })
	if pod(s, "b") == nil || s.Partial {
		t.Fatalf("snapshot %s", describe(&s))
	}
	for _, line := range []string{
		"ignoring the checkpoint of a manifest: it no longer loads",
		"ignoring a checkpoint that cannot be used",
		"dropping the checkpoint of a manifest outside the manifest path",
	} {
		if n := h.logs.count(line); n < 1 {
			t.Errorf("%q not logged:\n%s", line, h.logs)
		}
	}
	if n := h.logs.count("ignoring a checkpoint that cannot be used"); n != 2 {
		t.Errorf("%d unusable checkpoints logged, want 2 (junk, format 99)", n)
	}
	if _, err := os.Stat(outside); !os.IsNotExist(err) {
		t.Errorf("the checkpoint of a file outside the path is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cpDir, ".x.json.tmp-123")); !os.IsNotExist(err) {
		t.Errorf("a crashed write's temp file is still there: %v", err)
	}
	// b.yaml's good read replaced the checkpoint of format 99.
	if cp, err := readCheckpoint(future); err != nil || cp.Origin != b {
		t.Errorf("b's checkpoint was not replaced: %v", err)
	}
}

func TestCheckpointName(t *testing.T) {
	for origin, want := range map[string]string{
		"/etc/kubernetes/manifests/etcd.yaml":          "etcd.yaml-",
		"/m/.hidden.yaml":                              "hidden.yaml-",
		"/m/we ird:name.yaml":                          "we_ird_name.yaml-",
		"https://example.test/pods/edge.yaml?node=a&b": "edge.yaml-",
		"https://example.test/":                        "example.test-",
	} {
		got := checkpointName(origin)
		if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, ".json") || len(got) != len(want)+16+len(".json") {
			t.Errorf("checkpointName(%q) = %q, want %s<16 hex>.json", origin, got, want)
		}
	}
	if checkpointName("/a/x.yaml") == checkpointName("/b/x.yaml") {
		t.Error("two origins share a checkpoint name")
	}
}
