package runner

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// TestNames: dockershim's scheme, k8s_<container>_<pod>_<ns>_<uid>_<attempt>,
// with POD for the sandbox.
func TestNames(t *testing.T) {
	pod := loadPod(t, podYAML("web", "", "app"))
	uid := string(pod.UID)
	if got, want := containerName("app", pod, 0), "k8s_app_web_ns_"+uid+"_0"; got != want {
		t.Errorf("containerName = %q, want %q", got, want)
	}
	if got, want := sandboxName(pod, 12), "k8s_POD_web_ns_"+uid+"_12"; got != want {
		t.Errorf("sandboxName = %q, want %q", got, want)
	}
	// Names split back into their parts: names, namespaces and UIDs have no "_".
	parts := strings.Split(containerName("app", pod, 3), "_")
	if len(parts) != 6 || parts[1] != "app" || parts[2] != "web" || parts[3] != "ns" || parts[4] != uid || parts[5] != "3" {
		t.Errorf("name parts = %q", parts)
	}
}

func TestLabelReaders(t *testing.T) {
	for _, tc := range []struct {
		labels  map[string]string
		attempt int
		sandbox bool
		uid     string
	}{
		{map[string]string{LabelAttempt: "4", LabelDockerType: TypeSandbox, LabelPodUID: "u1"}, 4, true, "u1"},
		{map[string]string{LabelAttempt: "0", LabelDockerType: TypeContainer, LabelPodUID: "u2"}, 0, false, "u2"},
		{map[string]string{LabelAttempt: "junk"}, 0, false, ""},
		{nil, 0, false, ""},
	} {
		c := &runtime.Container{Labels: tc.labels}
		if attemptOf(c) != tc.attempt || isSandbox(c) != tc.sandbox || string(podUIDOf(c)) != tc.uid {
			t.Errorf("labels %v: attempt %d sandbox %v uid %q; want %d %v %q", tc.labels, attemptOf(c), isSandbox(c), podUIDOf(c), tc.attempt, tc.sandbox, tc.uid)
		}
	}
}

func TestPodLabels(t *testing.T) {
	r, err := New(Config{Runtime: fake.New(), RootDir: t.TempDir(), InstanceID: "i-1"})
	if err != nil {
		t.Fatal(err)
	}
	pod := loadPod(t, podYAML("web", "", "app"))
	got := r.podLabels(pod)
	want := map[string]string{
		LabelPodName: pod.Name, LabelPodNamespace: "ns", LabelPodUID: string(pod.UID),
		LabelInstance: "i-1", LabelGracePeriod: "30", LabelConfigSource: "file",
	}
	if len(got) != len(want) {
		t.Errorf("podLabels = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
	// Each call is a fresh map: callers add their own labels to it.
	got[LabelContainerName] = "x"
	if _, ok := r.podLabels(pod)[LabelContainerName]; ok {
		t.Error("podLabels shares its map between calls")
	}
	// No grace period set (a pod not from manifest.Load): the default.
	pod.Spec.TerminationGracePeriodSeconds = nil
	if g := r.podLabels(pod)[LabelGracePeriod]; g != "30" {
		t.Errorf("default grace period label = %q, want 30", g)
	}
}

func TestDefaultInstanceID(t *testing.T) {
	dir := t.TempDir()
	a := DefaultInstanceID(dir)
	if len(a) != 12 {
		t.Errorf("DefaultInstanceID = %q, want 12 characters", a)
	}
	if b := DefaultInstanceID(filepath.Join(dir, ".")); b != a {
		t.Errorf("the same dir spelt differently gives %q and %q", a, b)
	}
	if c := DefaultInstanceID(filepath.Join(dir, "other")); c == a {
		t.Error("two root dirs share an instance id")
	}
	r, err := New(Config{Runtime: fake.New(), RootDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if r.cfg.InstanceID != a {
		t.Errorf("New's instance id = %q, want DefaultInstanceID(RootDir) = %q", r.cfg.InstanceID, a)
	}
}

func TestNewRequires(t *testing.T) {
	if _, err := New(Config{RootDir: t.TempDir()}); err == nil {
		t.Error("New without a Runtime: no error")
	}
	if _, err := New(Config{Runtime: fake.New()}); err == nil {
		t.Error("New without a RootDir: no error")
	}
}
