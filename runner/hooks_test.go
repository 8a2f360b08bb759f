package runner

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
)

const volumePod = `
apiVersion: v1
kind: Pod
metadata: {name: vols, namespace: ns}
spec:
  hostAliases: [{ip: 10.9.8.7, hostnames: [alias.example]}]
  volumes:
  - {name: scratch, emptyDir: {}}
  containers:
  - name: app
    image: runner.local/busybox:test
    volumeMounts: [{name: scratch, mountPath: /scratch}]
`

// TestHooksAroundAPod: the hooks give a pod its directory, its volumes'
// mounts and its DNS files before its containers start, and a pod that
// leaves the desired state leaves no directory behind.
func TestHooksAroundAPod(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, volumePod)
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		c, _ := latestOf(t, rt, pod, "app")
		spec, _ := rt.Spec(c.ID)
		dir := filepath.Join(h.r.cfg.RootDir, "pods", string(pod.UID))
		targets := map[string]string{}
		for _, m := range spec.Mounts {
			targets[m.Target] = m.Source
		}
		for target, source := range map[string]string{
			"/scratch":             filepath.Join(dir, "volumes", "empty-dir", "scratch"),
			"/etc/hosts":           filepath.Join(dir, "hosts"),
			"/etc/resolv.conf":     filepath.Join(dir, "resolv.conf"),
			"/dev/termination-log": filepath.Join(dir, "containers", "app", "0", "termination-log"),
		} {
			if targets[target] != source {
				t.Errorf("mount of %s from %q, want %q (mounts %+v)", target, targets[target], source, spec.Mounts)
			}
		}
		hosts, err := os.ReadFile(filepath.Join(dir, "hosts"))
		if err != nil || !strings.Contains(string(hosts), "10.9.8.7\talias.example") {
			t.Errorf("hosts file %q (%v) lacks the host alias", hosts, err)
		}

		h.send()
		waitFor(t, "the pod and its directory to go", func() bool {
			_, err := os.Stat(dir)
			return len(podContainers(t, rt, pod)) == 0 && os.IsNotExist(err) && h.status(pod) == nil
		})
	})
}

// TestHooksSweepPodDirsAtStart: a restarted runner removes the directories
// of pods that are neither desired nor in the engine, and only those.
func TestHooksSweepPodDirsAtStart(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		root := t.TempDir()
		pod := loadPod(t, volumePod)
		stray := filepath.Join(root, "pods", "0123456789abcdef0123456789abcdef")
		kept := filepath.Join(root, "pods", string(pod.UID))
		for _, d := range []string{filepath.Join(stray, "volumes"), filepath.Join(kept, "volumes", "empty-dir", "scratch")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(kept, "volumes", "empty-dir", "scratch", "data"), []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
		h := startRunner(t, rt, Config{RootDir: root})
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		if _, err := os.Stat(stray); !os.IsNotExist(err) {
			t.Errorf("the stray pod directory is still there (%v)", err)
		}
		if data, err := os.ReadFile(filepath.Join(kept, "volumes", "empty-dir", "scratch", "data")); err != nil || string(data) != "keep me" {
			t.Errorf("the desired pod's emptyDir data: %q, %v", data, err)
		}
	})
}

// TestHooksHostNetworkDNS: a host-network pod gets the host's hosts file
// with its hostAliases, and its containers mount it.
func TestHooksHostNetworkDNS(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		hostsFile := filepath.Join(t.TempDir(), "hosts")
		if err := os.WriteFile(hostsFile, []byte("127.0.0.1\tlocalhost\n192.0.2.1\tthe-host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		h := startRunner(t, rt, Config{DNS: DNSConfig{HostsFile: hostsFile}})
		pod := loadPod(t, strings.Replace(volumePod, "spec:\n", "spec:\n  hostNetwork: true\n", 1))
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		c, _ := latestOf(t, rt, pod, "app")
		spec, _ := rt.Spec(c.ID)
		i := slices.IndexFunc(spec.Mounts, func(m runtime.Mount) bool { return m.Target == "/etc/hosts" })
		if i < 0 {
			t.Fatalf("no /etc/hosts mount: %+v", spec.Mounts)
		}
		data, _ := os.ReadFile(spec.Mounts[i].Source)
		for _, want := range []string{"192.0.2.1\tthe-host", "10.9.8.7\talias.example"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("host-network hosts file lacks %q:\n%s", want, data)
			}
		}
		if st := h.status(pod); st.Status.Phase != v1.PodRunning {
			t.Errorf("phase %s", st.Status.Phase)
		}
	})
}

// TestHooksImageVolume: an image volume holds its image's files, read-only
// in the container, and the container exported for it is gone.
func TestHooksImageVolume(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		_ = tw.WriteHeader(&tar.Header{Name: "models/weights.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5})
		_, _ = tw.Write([]byte("bytes"))
		_ = tw.Close()
		if err := rt.ImportImage(context.Background(), "runner.local/models:1", &b, nil); err != nil {
			t.Fatal(err)
		}
		h := startRunner(t, rt, Config{})
		pod := loadPod(t, `
apiVersion: v1
kind: Pod
metadata: {name: img, namespace: ns}
spec:
  volumes:
  - {name: models, image: {reference: "runner.local/models:1", pullPolicy: IfNotPresent}}
  containers:
  - name: app
    image: runner.local/busybox:test
    volumeMounts: [{name: models, mountPath: /models}]
`)
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		dir := filepath.Join(h.r.cfg.RootDir, "pods", string(pod.UID), "volumes", "image", "models")
		if data, err := os.ReadFile(filepath.Join(dir, "models", "weights.bin")); err != nil || string(data) != "bytes" {
			t.Errorf("image volume file: %q, %v", data, err)
		}
		c, _ := latestOf(t, rt, pod, "app")
		spec, _ := rt.Spec(c.ID)
		i := slices.IndexFunc(spec.Mounts, func(m runtime.Mount) bool { return m.Target == "/models" })
		if i < 0 || spec.Mounts[i].Source != dir || !spec.Mounts[i].ReadOnly {
			t.Errorf("mounts %+v, want %s read-only at /models", spec.Mounts, dir)
		}
		for _, c := range podContainers(t, rt, pod) {
			if strings.HasPrefix(c.Labels[LabelContainerName], "image-volume-") {
				t.Errorf("the exported container %s is left", c.Name)
			}
		}
	})
}
