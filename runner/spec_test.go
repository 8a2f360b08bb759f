package runner

import (
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// specRunner is a Runner whose containerSpec can be called: nothing in it
// talks to the engine.
func specRunner(t *testing.T) *Runner {
	t.Helper()
	r, err := New(Config{Runtime: fake.New(), RootDir: t.TempDir(), InstanceID: "inst", LogMaxSize: "10m", LogMaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// specOf is the spec of container name of pod, attempt 2, in sandbox "sbx".
func specOf(t *testing.T, r *Runner, pod *v1.Pod, name string) runtime.ContainerSpec {
	t.Helper()
	c, init := findSpec(pod, name)
	if c == nil {
		t.Fatalf("no container %s", name)
	}
	env, err := r.containerEnv(pod, c)
	if err != nil {
		t.Fatalf("containerEnv: %v", err)
	}
	s, err := r.containerSpec(pod, c, action{kind: actStartContainer, container: name, init: init, attempt: 2}, "sbx", "hash1", env, runtime.Image{User: "1000"})
	if err != nil {
		t.Fatalf("containerSpec: %v", err)
	}
	return s
}

// TestSpecCommandRules: the kubelet's rules for ENTRYPOINT and CMD. command
// replaces the entrypoint and drops the image's CMD (empty, not nil, so the
// engine does not fall back to it); args alone replace only CMD.
func TestSpecCommandRules(t *testing.T) {
	for _, tc := range []struct {
		name           string
		fields         string
		wantEntrypoint []string
		wantCmd        []string
	}{
		{"neither", "", nil, nil},
		{"command only", "    command: [/bin/sh, -c]\n", []string{"/bin/sh", "-c"}, []string{}},
		{"args only", "    args: [x, z]\n", nil, []string{"x", "z"}},
		{"both", "    command: [/bin/echo]\n    args: [hello]\n", []string{"/bin/echo"}, []string{"hello"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := loadPod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: app\n    image: "+testImage+"\n"+tc.fields)
			s := specOf(t, specRunner(t), pod, "app")
			if !slices.Equal(s.Entrypoint, tc.wantEntrypoint) || (s.Entrypoint == nil) != (tc.wantEntrypoint == nil) {
				t.Errorf("Entrypoint = %#v, want %#v", s.Entrypoint, tc.wantEntrypoint)
			}
			if !slices.Equal(s.Cmd, tc.wantCmd) || (s.Cmd == nil) != (tc.wantCmd == nil) {
				t.Errorf("Cmd = %#v, want %#v", s.Cmd, tc.wantCmd)
			}
		})
	}
}

func TestSpecExpansion(t *testing.T) {
	pod := loadPod(t, `
apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: ns
  labels: {tier: db}
spec:
  nodeName: node1
  containers:
  - name: app
    image: runner.local/busybox:test
    env:
    - {name: A, value: alpha}
    - {name: B, value: "$(A)-beta"}
    - {name: C, value: "$(LATER)"}
    - {name: LATER, value: later}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: TIER, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
    command: ["$(A)", "$$(A)", "$(UNDEFINED)", "$$", "a$b", "$(B)/$(POD)", "$(A", "end$"]
    args: ["$(TIER)", "$(C)"]
`)
	s := specOf(t, specRunner(t), pod, "app")
	wantEnv := []string{
		"A=alpha", "B=alpha-beta", "C=$(LATER)", "LATER=later",
		"POD=" + pod.Name, "NS=ns", "UID=" + string(pod.UID), "NODE=node1", "TIER=db",
	}
	if !slices.Equal(s.Env, wantEnv) {
		t.Errorf("Env = %q, want %q", s.Env, wantEnv)
	}
	wantCmd := []string{"alpha", "$(A)", "$(UNDEFINED)", "$", "a$b", "alpha-beta/" + pod.Name, "$(A", "end$"}
	if !slices.Equal(s.Entrypoint, wantCmd) {
		t.Errorf("Entrypoint = %q, want %q", s.Entrypoint, wantCmd)
	}
	if want := []string{"db", "$(LATER)"}; !slices.Equal(s.Cmd, want) {
		t.Errorf("Cmd = %q, want %q", s.Cmd, want)
	}
}

func TestSpecEnvFromUnsupported(t *testing.T) {
	pod := loadPod(t, podYAML("p", "", "app"))
	pod.Spec.Containers[0].Env = []v1.EnvVar{{Name: "S", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{Key: "k"}}}}
	_, err := specRunner(t).containerEnv(pod, &pod.Spec.Containers[0])
	if err == nil || !strings.Contains(err.Error(), "env S") {
		t.Errorf("containerEnv with a secretKeyRef: err = %v, want an error naming env S", err)
	}
}

func TestSpecNamespaces(t *testing.T) {
	base := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n%s  containers:\n  - {name: app, image: " + testImage + "}\n"
	for _, tc := range []struct {
		name          string
		spec          string
		net, ipc, pid string
	}{
		{"private pod", "", "container:sbx", "container:sbx", ""},
		{"shareProcessNamespace", "  shareProcessNamespace: true\n", "container:sbx", "container:sbx", "container:sbx"},
		{"hostPID", "  hostPID: true\n", "container:sbx", "container:sbx", "host"},
		{"hostIPC", "  hostIPC: true\n", "container:sbx", "host", ""},
		{"hostNetwork joins the sandbox, which is on the host", "  hostNetwork: true\n", "container:sbx", "container:sbx", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := loadPod(t, strings.Replace(base, "%s", tc.spec, 1))
			s := specOf(t, specRunner(t), pod, "app")
			if s.NetworkMode != tc.net || s.IPCMode != tc.ipc || s.PIDMode != tc.pid {
				t.Errorf("network, ipc, pid = %q, %q, %q; want %q, %q, %q", s.NetworkMode, s.IPCMode, s.PIDMode, tc.net, tc.ipc, tc.pid)
			}
		})
	}
}

func TestSpecSandbox(t *testing.T) {
	r := specRunner(t)
	pod := loadPod(t, podYAML("web", "", "app"))
	s := r.sandboxSpec(pod, 3, "")
	if want := "k8s_POD_web_ns_" + string(pod.UID) + "_3"; s.Name != want {
		t.Errorf("Name = %q, want %q", s.Name, want)
	}
	if s.Image != DefaultPauseImage || s.NetworkMode != "none" || s.IPCMode != "shareable" || s.Hostname != "web" {
		t.Errorf("sandbox spec = %+v", s)
	}
	wantLabels := map[string]string{
		LabelPodName: "web", LabelPodNamespace: "ns", LabelPodUID: string(pod.UID), LabelInstance: "inst",
		LabelContainerName: "POD", LabelDockerType: "podsandbox", LabelAttempt: "3", LabelGracePeriod: "30",
	}
	for k, v := range wantLabels {
		if s.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, s.Labels[k], v)
		}
	}

	host := loadPod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: h}\nspec:\n  hostNetwork: true\n  hostPID: true\n  hostIPC: true\n  containers:\n  - {name: app, image: "+testImage+"}\n")
	s = r.sandboxSpec(host, 0, "")
	if s.NetworkMode != "host" || s.UTSMode != "host" || s.PIDMode != "host" || s.IPCMode != "host" || s.Hostname != "" {
		t.Errorf("host sandbox: network %q uts %q pid %q ipc %q hostname %q", s.NetworkMode, s.UTSMode, s.PIDMode, s.IPCMode, s.Hostname)
	}
}

func TestSpecLabelsAndName(t *testing.T) {
	r := specRunner(t)
	pod := loadPod(t, strings.ReplaceAll(planInits, "%s", "Always"))
	s := specOf(t, r, pod, "app")
	if want := "k8s_app_init_ns_" + string(pod.UID) + "_2"; s.Name != want {
		t.Errorf("Name = %q, want %q", s.Name, want)
	}
	want := map[string]string{
		LabelPodName: "init", LabelPodNamespace: "ns", LabelPodUID: string(pod.UID), LabelInstance: "inst",
		LabelContainerName: "app", LabelDockerType: "container", LabelSandboxID: "sbx",
		LabelContainerHash: "hash1", LabelRestartCount: "2", LabelAttempt: "2", LabelGracePeriod: "30",
	}
	for k, v := range want {
		if s.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, s.Labels[k], v)
		}
	}
	if _, ok := s.Labels[LabelInit]; ok {
		t.Error("an app container carries the init label")
	}
	if s.Image != testImage || s.LogMaxSize != "10m" || s.LogMaxFiles != 3 {
		t.Errorf("image %q, log rotation %q/%d", s.Image, s.LogMaxSize, s.LogMaxFiles)
	}
	if si := specOf(t, r, pod, "i1"); si.Labels[LabelInit] != "true" {
		t.Errorf("init container labels = %v, want %s=true", si.Labels, LabelInit)
	}

	// What plan and the loop read back from the labels is what was written.
	c := &runtime.Container{Labels: s.Labels}
	if podUIDOf(c) != pod.UID || isSandbox(c) || attemptOf(c) != 2 {
		t.Errorf("labels read back: uid %q sandbox %v attempt %d", podUIDOf(c), isSandbox(c), attemptOf(c))
	}
	sb := &runtime.Container{Labels: r.sandboxSpec(pod, 4, "").Labels}
	if podUIDOf(sb) != pod.UID || !isSandbox(sb) || attemptOf(sb) != 4 {
		t.Errorf("sandbox labels read back: uid %q sandbox %v attempt %d", podUIDOf(sb), isSandbox(sb), attemptOf(sb))
	}
}

func TestSpecGracePeriodLabel(t *testing.T) {
	pod := loadPod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  terminationGracePeriodSeconds: 7\n  containers:\n  - {name: app, image: "+testImage+"}\n")
	if got := specOf(t, specRunner(t), pod, "app").Labels[LabelGracePeriod]; got != "7" {
		t.Errorf("grace period label = %q, want 7", got)
	}
}

func TestSpecSecurityContext(t *testing.T) {
	pod := loadPod(t, `
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  securityContext:
    runAsUser: 1000
    runAsGroup: 2000
    supplementalGroups: [5, 6]
    fsGroup: 7
    seccompProfile: {type: Unconfined}
  containers:
  - name: inherits
    image: runner.local/busybox:test
  - name: overrides
    image: runner.local/busybox:test
    securityContext:
      runAsUser: 0
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: {add: [NET_ADMIN, CAP_SYS_TIME], drop: [ALL]}
  - name: privileged
    image: runner.local/busybox:test
    securityContext: {privileged: true, runAsGroup: 3000}
`)
	r := specRunner(t)
	s := specOf(t, r, pod, "inherits")
	if s.User != "1000:2000" || !slices.Equal(s.GroupAdd, []string{"5", "6", "7"}) || !slices.Contains(s.SecurityOpt, "seccomp=unconfined") {
		t.Errorf("inherits: user %q groups %q securityOpt %q", s.User, s.GroupAdd, s.SecurityOpt)
	}
	if s.Privileged || s.ReadOnly || s.NoNewPrivs || len(s.CapAdd)+len(s.CapDrop) != 0 {
		t.Errorf("inherits: privileged %v readOnly %v noNewPrivs %v caps %q/%q", s.Privileged, s.ReadOnly, s.NoNewPrivs, s.CapAdd, s.CapDrop)
	}
	s = specOf(t, r, pod, "overrides")
	if s.User != "0:2000" {
		t.Errorf("overrides: user %q, want 0:2000", s.User)
	}
	if s.Privileged || !s.ReadOnly || !s.NoNewPrivs {
		t.Errorf("overrides: privileged %v readOnly %v noNewPrivs %v", s.Privileged, s.ReadOnly, s.NoNewPrivs)
	}
	if !slices.Equal(s.CapAdd, []string{"NET_ADMIN", "SYS_TIME"}) || !slices.Equal(s.CapDrop, []string{"ALL"}) {
		t.Errorf("overrides: caps add %q drop %q", s.CapAdd, s.CapDrop)
	}

	s = specOf(t, r, pod, "privileged")
	if !s.Privileged || s.NoNewPrivs || s.User != "1000:3000" {
		t.Errorf("privileged: privileged %v noNewPrivs %v user %q, want true, false, 1000:3000", s.Privileged, s.NoNewPrivs, s.User)
	}

	plain := loadPod(t, podYAML("p", "", "app"))
	s = specOf(t, r, plain, "app")
	if s.User != "" || len(s.GroupAdd) != 0 || len(s.SecurityOpt) != 0 {
		t.Errorf("no securityContext: user %q groups %q securityOpt %q", s.User, s.GroupAdd, s.SecurityOpt)
	}
}

func TestSpecResources(t *testing.T) {
	pod := loadPod(t, `
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: burst
    image: runner.local/busybox:test
    resources:
      requests: {cpu: 250m, memory: 64Mi}
      limits: {cpu: 500m, memory: 128Mi}
  - name: tiny
    image: runner.local/busybox:test
    resources:
      requests: {cpu: 1m}
      limits: {cpu: 1m}
`)
	r := specRunner(t)
	got := specOf(t, r, pod, "burst").Resources
	if got.CPUShares != 256 || got.CPUPeriod != 100000 || got.CPUQuota != 50000 || got.MemoryLimit != 128<<20 {
		t.Errorf("burst: %+v, want shares 256, quota 50000/100000, memory 128Mi", got)
	}
	if got.OOMScoreAdj < 2 || got.OOMScoreAdj > 999 {
		t.Errorf("burstable oom_score_adj = %d, want within [2, 999]", got.OOMScoreAdj)
	}
	got = specOf(t, r, pod, "tiny").Resources
	if got.CPUShares != 2 || got.CPUQuota != 1000 {
		t.Errorf("tiny: shares %d quota %d, want the minimums 2 and 1000", got.CPUShares, got.CPUQuota)
	}

	// Limits only: the requests default to them, so the pod is Guaranteed.
	guaranteed := loadPod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: g}\nspec:\n  containers:\n  - name: app\n    image: "+testImage+"\n    resources: {limits: {cpu: '2', memory: 1Gi}}\n")
	got = specOf(t, r, guaranteed, "app").Resources
	if got.CPUShares != 2048 || got.CPUQuota != 200000 || got.MemoryLimit != 1<<30 {
		t.Errorf("guaranteed: %+v", got)
	}
	if want := max(-997, r.oomFloor); got.OOMScoreAdj != want {
		t.Errorf("guaranteed oom_score_adj = %d, want %d", got.OOMScoreAdj, want)
	}
	if q := qosClass(guaranteed); q != v1.PodQOSGuaranteed {
		t.Errorf("qosClass = %s, want Guaranteed", q)
	}
}

// TestSpecBestEffortCPUShares: a container without a CPU request gets the
// minimum CPU shares (2), as the kubelet gives it, not the engine's default
// of 1024 that would weigh it like a container that asked for a whole CPU.
func TestSpecBestEffortCPUShares(t *testing.T) {
	r := specRunner(t)
	pod := loadPod(t, podYAML("p", "", "app"))
	got := specOf(t, r, pod, "app").Resources
	if got.CPUShares != 2 {
		t.Errorf("best-effort CPUShares = %d, want 2", got.CPUShares)
	}
	if got.CPUQuota != 0 || got.MemoryLimit != 0 {
		t.Errorf("best-effort quota %d memory %d, want none", got.CPUQuota, got.MemoryLimit)
	}
	if want := max(1000, r.oomFloor); got.OOMScoreAdj != want {
		t.Errorf("best-effort oom_score_adj = %d, want %d", got.OOMScoreAdj, want)
	}
}

func TestContainerHashes(t *testing.T) {
	a := loadPod(t, podYAML("p", "", "app", "side"))
	b := loadPod(t, podYAML("p", "", "app", "side:/bin/true"))
	ha, hb := podHashes(a), podHashes(b)
	if ha["app"] == "" || ha["app"] != hb["app"] {
		t.Errorf("unchanged container: hashes %q and %q, want equal and set", ha["app"], hb["app"])
	}
	if ha["side"] == hb["side"] {
		t.Error("a changed container keeps its hash")
	}
	if again := podHashes(a); again["side"] != ha["side"] {
		t.Error("hash is not stable")
	}
}

// TestSpecPodPidsLimit: --pod-pids-limit reaches every container of the pod
// as its pids limit; without it the engine's default (none) stays.
func TestSpecPodPidsLimit(t *testing.T) {
	pod := loadPod(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers:\n  - name: init\n    image: "+testImage+"\n  containers:\n  - name: app\n    image: "+testImage+"\n")
	if got := specOf(t, specRunner(t), pod, "app").Resources.PidsLimit; got != 0 {
		t.Errorf("no --pod-pids-limit: pids limit %d, want none (0)", got)
	}
	r, err := New(Config{Runtime: fake.New(), RootDir: t.TempDir(), InstanceID: "inst", PodPidsLimit: 64})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"init", "app"} {
		if got := specOf(t, r, pod, name).Resources.PidsLimit; got != 64 {
			t.Errorf("%s: pids limit %d, want 64", name, got)
		}
	}
}
