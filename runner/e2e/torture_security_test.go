package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
)

// escapePods are manifests that try to make runner write outside --root-dir
// into outside (an absolute path; rel is outside relative to the pod
// directories), by name: a pinned UID, subPaths with .. or absolute,
// subPathExpr expanding to .., a symlink planted in a volume by an init
// container and then used as a subPath, downward API file paths with ..
func escapePods(outside, rel string) map[string]string {
	head := func(name string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n", name)
	}
	main := func(extra string) string {
		return fmt.Sprintf("spec:\n  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: %s\n    command: [\"sh\", \"-c\", \"touch /mnt/pwned; %s\"]\n%s", testImage, sleeper, extra)
	}
	vol := "  volumes: [{name: v, emptyDir: {}}]\n"
	return map[string]string{
		"pinned-uid.yaml":     head("pinned") + fmt.Sprintf("  uid: %q\n", rel) + main(""),
		"subpath-dotdot.yaml": head("dotdot") + main(fmt.Sprintf("    volumeMounts: [{name: v, mountPath: /mnt, subPath: %q}]\n", rel)+vol),
		"subpath-abs.yaml":    head("abs") + main(fmt.Sprintf("    volumeMounts: [{name: v, mountPath: /mnt, subPath: %q}]\n", outside)+vol),
		"subpathexpr.yaml":    head("expr") + main(fmt.Sprintf("    env: [{name: X, value: %q}]\n    volumeMounts: [{name: v, mountPath: /mnt, subPathExpr: \"$(X)\"}]\n", rel)+vol),
		"symlink.yaml": head("symlink") + fmt.Sprintf("spec:\n  terminationGracePeriodSeconds: 1\n  initContainers:\n  - name: plant\n    image: %s\n    command: [\"ln\", \"-s\", %q, \"/v/esc\"]\n    volumeMounts: [{name: v, mountPath: /v}]\n", testImage, outside) +
			main("    volumeMounts: [{name: v, mountPath: /mnt, subPath: esc}]\n")[len("spec:\n  terminationGracePeriodSeconds: 1\n"):] + vol,
		"downward.yaml": head("downward") + main("    volumeMounts: [{name: d, mountPath: /mnt}]\n") +
			fmt.Sprintf("  volumes: [{name: d, downwardAPI: {items: [{path: %q, fieldRef: {fieldPath: metadata.name}}]}}]\n", rel+"/pwned"),
	}
}

// dirEntries lists the names in dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestTortureWritesStayInRootDir: manifests cannot make runner write
// outside --root-dir but through hostPath volumes. Each escape attempt is
// refused (when the manifest is read, or when the container would start),
// nothing appears in the target directory, beside the test's directories or
// in runner's working directory; a hostPath volume, the one way out, does
// write where it says (so the check can see a write).
func TestTortureWritesStayInRootDir(t *testing.T) {
	h := newHarness(t)
	outside, allowed := t.TempDir(), t.TempDir()
	rel, err := filepath.Rel(filepath.Join(h.root, "pods", "0123456789abcdef0123456789abcdef", "volumes", "empty-dir", "v"), outside)
	if err != nil {
		t.Fatal(err)
	}
	parent := filepath.Dir(h.root)
	siblings := dirEntries(t, parent)
	cwd, _ := os.Getwd()
	cwdBefore := dirEntries(t, cwd)

	for name, m := range escapePods(outside, rel) {
		h.writeManifest(name, m)
	}
	h.writeManifest("hostpath.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: hostpath
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: %s
    command: ["sh", "-c", "touch /mnt/written; %s"]
    volumeMounts: [{name: h, mountPath: /mnt}]
  volumes: [{name: h, hostPath: {path: %q, type: Directory}}]
`, testImage, sleeper, allowed))
	p := h.start()
	testenv.Eventually(t, time.Minute, "the hostPath pod writes where it says", func() bool {
		_, err := os.Stat(filepath.Join(allowed, "written"))
		return err == nil
	})
	p.awaitLog(t, "in sync", time.Minute)
	for _, refused := range []string{"pinned-uid.yaml", "subpath-dotdot.yaml", "subpath-abs.yaml", "downward.yaml"} {
		line := lineWith(p.Output(), "file="+filepath.Join(h.manifests, refused))
		if !strings.Contains(line, "problems") {
			t.Errorf("%s was not refused when read: %q", refused, line)
			continue
		}
		t.Logf("%s: %s", refused, line)
	}
	// The symlink's init container has run and main's start was refused;
	// subPathExpr's main was refused.
	for _, pod := range []string{"symlink", "expr"} {
		testenv.Eventually(t, time.Minute, pod+"'s container refused", func() bool {
			for _, line := range strings.Split(p.Output(), "\n") {
				if strings.Contains(line, "pod=default/"+pod+"-e2e") && strings.Contains(line, "reason=Failed") && strings.Contains(line, "container=main") {
					t.Logf("%s: %s", pod, line)
					return true
				}
			}
			return false
		})
		if h.running(pod, "main") {
			t.Errorf("pod %s's main container runs", pod)
		}
	}
	if got := dirEntries(t, outside); len(got) != 0 {
		t.Errorf("runner wrote outside --root-dir: %v in %s", got, outside)
	}
	if m := mountsBelow(outside); len(m) != 0 {
		t.Errorf("mounts below the target: %v", m)
	}
	if got := dirEntries(t, parent); !slices.Equal(got, siblings) {
		t.Errorf("beside the test's directories: %v, want %v", got, siblings)
	}
	if got := dirEntries(t, cwd); !slices.Equal(got, cwdBefore) {
		t.Errorf("runner's working directory changed: %v, was %v", got, cwdBefore)
	}
}
