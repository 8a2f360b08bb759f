package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/runner-dev/runner/manifest"
)

// loadedPods are the pods of the valid fixtures as the daemon runs them on
// node "box1", by name without the suffix, and a directory with the
// fixtures whose pods all restart always (those a DaemonSet can run).
func loadedPods(t *testing.T) (map[string]*v1.Pod, string) {
	t.Helper()
	out := map[string]*v1.Pod{}
	always := t.TempDir()
	read, _ := manifestFiles(t, validFixtures)
	for _, name := range read {
		pods, problems := manifest.LoadFile(filepath.Join(validFixtures, name), manifest.Options{NodeName: "box1", Source: manifest.SourceFile})
		if problems != nil {
			t.Fatal(problems)
		}
		keep := len(pods) > 0
		for _, p := range pods {
			out[p.Namespace+"/"+strings.TrimSuffix(p.Name, "-box1")] = p
			keep = keep && p.Spec.RestartPolicy == v1.RestartPolicyAlways
		}
		if keep {
			data, err := os.ReadFile(filepath.Join(validFixtures, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(always, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out, always
}

// wantSpec is the spec a cluster object must carry for a loaded pod.
func wantSpec(p *v1.Pod, node string) v1.PodSpec {
	spec := *p.Spec.DeepCopy()
	spec.NodeName = ""
	if spec.PriorityClassName != "" {
		spec.Priority = nil
	}
	if node != "" {
		if spec.NodeSelector == nil {
			spec.NodeSelector = map[string]string{}
		}
		spec.NodeSelector["kubernetes.io/hostname"] = node
	}
	return spec
}

func docs(out string) []string {
	return strings.Split(out, "---\n")
}

// TestExportDaemonSets: each pod becomes an apps/v1 DaemonSet (decoded
// strictly) whose template is the pod as written, hostPath volumes kept,
// without runner's suffix, UID and config annotations, pinned to the node.
func TestExportDaemonSets(t *testing.T) {
	pods, always := loadedPods(t)
	code, out, stderr := runCLI(t, "export", "--as", "daemonset", "--node", "box1", always)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(out, "kubernetes.io/config.") || strings.Contains(out, "-box1\n") || strings.Contains(out, "uid:") || strings.Contains(out, "creationTimestamp") {
		t.Errorf("runner's static-pod identity leaked:\n%s", out)
	}
	seen := 0
	hostPath := false
	for _, doc := range docs(out) {
		var ds appsv1.DaemonSet
		if err := yaml.UnmarshalStrict([]byte(doc), &ds); err != nil {
			t.Fatalf("not an apps/v1 DaemonSet: %v\n%s", err, doc)
		}
		if ds.APIVersion != "apps/v1" || ds.Kind != "DaemonSet" {
			t.Errorf("%s/%s: %s %s", ds.Namespace, ds.Name, ds.APIVersion, ds.Kind)
		}
		p := pods[ds.Namespace+"/"+ds.Name]
		if p == nil {
			t.Errorf("DaemonSet %s/%s is no pod of the fixtures", ds.Namespace, ds.Name)
			continue
		}
		seen++
		if !reflect.DeepEqual(ds.Spec.Template.Spec, wantSpec(p, "box1")) {
			t.Errorf("%s: template spec differs from the pod's:\n got %+v\nwant %+v", ds.Name, ds.Spec.Template.Spec, wantSpec(p, "box1"))
		}
		sel := ds.Spec.Selector.MatchLabels
		for k, v := range sel {
			if ds.Spec.Template.Labels[k] != v {
				t.Errorf("%s: selector %v does not select the template's labels %v", ds.Name, sel, ds.Spec.Template.Labels)
			}
		}
		if len(sel) == 0 {
			t.Errorf("%s: empty selector", ds.Name)
		}
		for _, v := range ds.Spec.Template.Spec.Volumes {
			hostPath = hostPath || v.HostPath != nil
		}
	}
	if seen < 3 {
		t.Errorf("%d objects, want one per pod of %s", seen, always)
	}
	if !hostPath {
		t.Error("no hostPath volume kept (static-etcd.yaml has them)")
	}
}

// TestExportPodsAndDeployments: every pod of the fixtures exports as a v1
// Pod that round-trips its spec; a Deployment has one replica of it.
func TestExportPodsAndDeployments(t *testing.T) {
	pods, _ := loadedPods(t)
	code, out, stderr := runCLI(t, "export", validFixtures)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	n := 0
	for _, doc := range docs(out) {
		var pod v1.Pod
		if err := yaml.UnmarshalStrict([]byte(doc), &pod); err != nil {
			t.Fatalf("not a v1 Pod: %v\n%s", err, doc)
		}
		n++
		p := pods[pod.Namespace+"/"+pod.Name]
		if p == nil || !reflect.DeepEqual(pod.Spec, wantSpec(p, "")) || pod.Kind != "Pod" || pod.UID != "" {
			t.Errorf("exported pod %+v does not round-trip %+v", pod, p)
		}
	}
	if n != len(pods) {
		t.Errorf("%d pods exported, the fixtures hold %d", n, len(pods))
	}

	code, out, stderr = runCLI(t, "export", "--as", "deployment", filepath.Join(validFixtures, "pod.yaml"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict([]byte(out), &d); err != nil {
		t.Fatalf("not an apps/v1 Deployment: %v\n%s", err, out)
	}
	if p := pods[d.Namespace+"/"+d.Name]; p == nil || *d.Spec.Replicas != 1 || !reflect.DeepEqual(d.Spec.Template.Spec, wantSpec(p, "")) {
		t.Errorf("deployment %+v", d.Spec)
	}
}

func TestExportRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.yaml"), []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: once}\nspec:\n  restartPolicy: Never\n  containers: [{name: a, image: busybox}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "export", "--as", "daemonset", dir); code != exitUsage || !strings.Contains(stderr, "restartPolicy Never") {
		t.Errorf("a Never pod as a DaemonSet: %d %s", code, stderr)
	}
	if code, out, _ := runCLI(t, "export", dir); code != exitOK || !bytes.Contains([]byte(out), []byte("restartPolicy: Never")) {
		t.Errorf("as a pod: %d %s", code, out)
	}
	if code, _, stderr := runCLI(t, "export", "--as", "job", dir); code != exitUsage || !strings.Contains(stderr, "must be pod, daemonset or deployment") {
		t.Errorf("--as job: %d %s", code, stderr)
	}
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec:\n  containers: [{name: a, image: busybox, imagePullPolice: Always}]\n"), 0o644)
	if code, _, stderr := runCLI(t, "export", dir); code != exitFail || !strings.Contains(stderr, "bad.yaml:5") {
		t.Errorf("an invalid manifest: %d %s", code, stderr)
	}
}
