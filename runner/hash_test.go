package runner

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
)

// hashGoldenPod exercises every kind of hashed field.
const hashGoldenPod = `
apiVersion: v1
kind: Pod
metadata: {name: golden, namespace: ns, uid: pinned-uid}
spec:
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  volumes:
  - {name: data, hostPath: {path: /var/lib/golden, type: DirectoryOrCreate}}
  containers:
  - name: app
    image: runner.local/busybox:test
    command: [sh, -c]
    args: ["sleep 1000"]
    env: [{name: A, value: "1"}]
    ports: [{containerPort: 8080, hostPort: 8080}]
    resources: {limits: {cpu: 500m, memory: 64Mi}, requests: {cpu: 250m}}
    volumeMounts: [{name: data, mountPath: /data}]
    livenessProbe: {exec: {command: ["true"]}}
`

// TestHashGolden pins the hashes of a fixed pod. When it fails, a change of
// runner (a default, a hashed field, the encoding) changed the hash of an
// unchanged pod: bump hashVersion (so that running containers, whose labels
// carry the old version, are not restarted) and update the values here.
func TestHashGolden(t *testing.T) {
	pod := loadPod(t, hashGoldenPod)
	got := podHashes(pod)
	want := map[string]string{"app": "86ff1e790e1658a1", sandboxHashKey: "cdda33279687a1b0"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("hash of %s = %q, want %q (see the comment of TestHashGolden; hashVersion is %s)", k, got[k], w, hashVersion)
		}
	}
}

func TestHashCanonicalQuantities(t *testing.T) {
	a := loadPod(t, strings.Replace(hashGoldenPod, "cpu: 500m", "cpu: 0.5", 1))
	b := loadPod(t, hashGoldenPod)
	if containerHash(a, &a.Spec.Containers[0]) != containerHash(b, &b.Spec.Containers[0]) {
		t.Error("cpu 0.5 and 500m hash differently")
	}
}

func TestHashCoversSpecChanges(t *testing.T) {
	base := loadPod(t, hashGoldenPod)
	bh := podHashes(base)
	for _, tc := range []struct {
		name, old, new string
		container      bool // the container's hash must change
		sandbox        bool // the sandbox's hash must change
	}{
		{"image", "image: runner.local/busybox:test", "image: runner.local/busybox:other", true, false},
		{"args", `"sleep 1000"`, `"sleep 2000"`, true, false},
		{"env", `value: "1"`, `value: "2"`, true, false},
		{"probe", `command: ["true"]`, `command: ["false"]`, true, false},
		{"memory limit", "memory: 64Mi", "memory: 128Mi", true, false},
		{"host port", "ports: [{containerPort: 8080, hostPort: 8080}]", "ports: [{containerPort: 8081, hostPort: 8081}]", true, true},
		{"volume", "path: /var/lib/golden", "path: /var/lib/other", false, true},
		{"dns policy", "dnsPolicy: ClusterFirstWithHostNet", "dnsPolicy: Default", false, true},
		{"host network", "hostNetwork: true\n  dnsPolicy: ClusterFirstWithHostNet", "hostNetwork: false", true, true},
		{"label", "uid: pinned-uid}", "uid: pinned-uid, labels: {a: b}}", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(hashGoldenPod, tc.old) {
				t.Fatalf("fixture lacks %q", tc.old)
			}
			pod := loadPod(t, strings.Replace(hashGoldenPod, tc.old, tc.new, 1))
			h := podHashes(pod)
			if got := h["app"] != bh["app"]; got != tc.container {
				t.Errorf("container hash changed = %v, want %v", got, tc.container)
			}
			if got := h[sandboxHashKey] != bh[sandboxHashKey]; got != tc.sandbox {
				t.Errorf("sandbox hash changed = %v, want %v", got, tc.sandbox)
			}
		})
	}
}

// TestPlanHashUpgrade: containers whose labels an older runner wrote (no
// hash version, another hash scheme) are adopted as they are; containers of
// this version whose hash differs (a pinned UID's edit) are replaced.
func TestPlanHashUpgrade(t *testing.T) {
	older := func(c *runtime.Container) *runtime.Container {
		delete(c.Labels, LabelHashVersion)
		delete(c.Labels, LabelSandboxHash)
		return c
	}
	for _, tc := range []planCase{
		{
			name: "labels of an older runner: nothing restarts", manifest: planTwoApps, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := older(observedSandbox(pod, 0, runtime.StateRunning))
				return []*runtime.Container{s,
					older(observedContainer(pod, "a", 0, s, "9f86d081884c7d65", runtime.StateRunning, 0)),
					older(observedContainer(pod, "b", 0, s, "", runtime.StateRunning, 0))}
			},
			want: []string{},
		},
		{
			name: "an exited container of an older runner restarts once, no spec change assumed", manifest: planTwoApps, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := older(observedSandbox(pod, 0, runtime.StateRunning))
				return []*runtime.Container{s,
					older(observedContainer(pod, "a", 0, s, "9f86d081884c7d65", runtime.StateExited, 1)),
					older(observedContainer(pod, "b", 0, s, "", runtime.StateRunning, 0))}
			},
			want: []string{"Start(a)#1"},
		},
		{
			name: "sandbox of this version with another hash: the pod is replaced", manifest: planTwoApps, policy: v1.RestartPolicyAlways,
			observed: func(pod *v1.Pod, h func(string) string) []*runtime.Container {
				s := observedSandbox(pod, 0, runtime.StateRunning)
				s.Labels[LabelSandboxHash] = "0123456789abcdef"
				return []*runtime.Container{s,
					observedContainer(pod, "a", 0, s, h("a"), runtime.StateRunning, 0),
					observedContainer(pod, "b", 0, s, h("b"), runtime.StateRunning, 0)}
			},
			want: []string{"KillPod"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { runPlanCase(t, tc) })
	}
}
