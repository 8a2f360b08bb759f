package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func diffPodYAML(name, image string) string {
	return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: kube-system}\nspec:\n  containers:\n  - {name: main, image: " + image + "}\n"
}

// TestDiff: one edited and one new manifest are named, with the fields that
// differ; an unchanged one (the same bytes) is not; a
// removed one is; an invalid one is refused and its pod counts as kept.
func TestDiff(t *testing.T) {
	current, next := t.TempDir(), t.TempDir()
	writeFiles(t, current, map[string]string{
		"etcd.yaml":       diffPodYAML("etcd", "etcd:3.4"),
		"apiserver.yaml":  diffPodYAML("kube-apiserver", "apiserver:1.31"),
		"scheduler.yaml":  diffPodYAML("kube-scheduler", "scheduler:1.31"),
		"controller.yaml": diffPodYAML("kube-controller-manager", "cm:1.31"),
	})
	writeFiles(t, next, map[string]string{
		"etcd.yaml":       diffPodYAML("etcd", "etcd:3.4"),
		"apiserver.yaml":  diffPodYAML("kube-apiserver", "apiserver:1.32"),
		"proxy.yaml":      diffPodYAML("haproxy", "haproxy:2.6"),
		"controller.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-controller-manager\n",
	})
	code, out, errOut := runCLI(t, "diff", "--manifest-dir", current, "--node-name", "n1", next)
	if code != exitFail {
		t.Fatalf("exit %d, want %d (changes):\n%s%s", code, exitFail, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []struct{ prefix, contains string }{
		{"restart", "kube-system/kube-apiserver-n1"},
		{"start", "kube-system/haproxy-n1"},
		{"remove", "kube-system/kube-scheduler-n1"},
	}
	for _, w := range want {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, w.prefix) && strings.Contains(l, w.contains) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %q line for %s in:\n%s", w.prefix, w.contains, out)
		}
	}
	if !strings.Contains(out, "spec.containers[0].image") {
		t.Errorf("the restart does not name the field that differs:\n%s", out)
	}
	for _, l := range lines {
		if strings.Contains(l, "etcd-n1") {
			t.Errorf("the unchanged etcd is named: %q", l)
		}
		if strings.Contains(l, "kube-controller-manager") && !strings.HasPrefix(l, "refused") {
			t.Errorf("the invalid file's pod is not kept: %q", l)
		}
	}
	if !strings.Contains(out, "refused") || !strings.Contains(out, "controller.yaml") {
		t.Errorf("the invalid file is not reported as refused:\n%s", out)
	}
	if n := len(lines); n != 4 {
		t.Errorf("%d lines, want 4 (restart, start, remove, refused):\n%s", n, out)
	}
}

func TestDiffNothingChanges(t *testing.T) {
	current := t.TempDir()
	writeFiles(t, current, map[string]string{"etcd.yaml": diffPodYAML("etcd", "etcd:3.4")})
	other := filepath.Join(t.TempDir(), "etcd.yaml")
	writeFiles(t, filepath.Dir(other), map[string]string{"etcd.yaml": diffPodYAML("etcd", "etcd:3.4")})
	code, out, _ := runCLI(t, "diff", "--manifest-dir", current, other)
	if code != 0 || !strings.Contains(out, "no pod would change") {
		t.Errorf("exit %d, output %q; want 0 and no change (same bytes at the same place: same UID)", code, out)
	}
	writeFiles(t, filepath.Dir(other), map[string]string{"etcd.yaml": diffPodYAML("etcd", "etcd:3.5")})
	code, out, _ = runCLI(t, "diff", "--manifest-dir", current, other)
	if code != exitFail || !strings.HasPrefix(out, "restart") {
		t.Errorf("exit %d, output %q; want 1 and a restart", code, out)
	}
}
