package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/runner-dev/runner/manifest"
)

// exportCommand is `runner export`: the manifests as objects a cluster's
// apiserver takes, so that a box's pods move into Kubernetes unchanged.
func exportCommand() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "print the manifests as objects for a Kubernetes cluster: Pods, or DaemonSets or Deployments of one pod each",
		ArgsUsage: "[FILE|DIR] (default: /etc/kubernetes/manifests)",
		Description: `Each pod of the manifests becomes one object, as the file wrote it (with the
apiserver's defaults), without what runner adds to a static pod: the node-name
suffix of its name, its UID, its kubernetes.io/config.* annotations and
spec.nodeName. hostPath volumes are kept: the pods expect the same files on the
cluster's nodes. The output is YAML documents separated by ---, for
kubectl apply -f -.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "as", Value: "pod", Usage: "what each pod becomes: pod, daemonset or deployment (one replica)"},
			&cli.StringFlag{Name: "node", Usage: "pin the pods to this node: a nodeSelector on kubernetes.io/hostname"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return cli.Exit("runner export: give one FILE or DIR (see runner export --help)", exitUsage)
			}
			path := c.Args().First()
			if path == "" {
				path = "/etc/kubernetes/manifests"
			}
			pods, err := exportPods(path)
			if err != nil {
				return cli.Exit(err, exitFail)
			}
			out, err := exportObjects(pods, c.String("as"), c.String("node"))
			if err != nil {
				return cli.Exit(err, exitUsage)
			}
			_, err = c.App.Writer.Write(out)
			return err
		},
	}
}

// exportPods loads the pods of path (a manifest file, or a directory whose
// manifests are read as the daemon reads them) without a node name; any
// problem fails the export, with every problem listed.
func exportPods(path string) ([]*v1.Pod, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	if fi.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		files = nil
		for _, e := range entries {
			if ok, _ := manifest.ManifestName(e.Name()); ok && e.Type().IsRegular() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		sort.Strings(files)
	}
	var pods []*v1.Pod
	var problems manifest.Problems
	for _, f := range files {
		data, err := manifest.ReadFile(f)
		if err != nil {
			problems = append(problems, manifest.Problem{File: f, Message: err.Error()})
			continue
		}
		got, probs := manifest.Load(f, data, manifest.Options{Source: manifest.SourceFile})
		problems = append(problems, probs...)
		pods = append(pods, got...)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("%s holds no pod", path)
	}
	return pods, nil
}

// exportObjects writes pods as YAML documents of kind as ("pod",
// "daemonset" or "deployment"), pinned to node when it is set. Pure.
func exportObjects(pods []*v1.Pod, as, node string) ([]byte, error) {
	var out bytes.Buffer
	for i, p := range pods {
		pod := clusterPod(p, node)
		var obj any
		switch as {
		case "pod":
			obj = pod
		case "daemonset", "deployment":
			if pod.Spec.RestartPolicy != v1.RestartPolicyAlways {
				return nil, fmt.Errorf("pod %s/%s has restartPolicy %s: a %s runs only pods that always restart; export it --as pod", pod.Namespace, pod.Name, pod.Spec.RestartPolicy, as)
			}
			obj = workload(pod, as)
		default:
			return nil, fmt.Errorf("--as %q: must be pod, daemonset or deployment", as)
		}
		doc, err := objectYAML(obj)
		if err != nil {
			return nil, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(doc)
	}
	return out.Bytes(), nil
}

// clusterPod is p without what runner gave it as a static pod.
func clusterPod(p *v1.Pod, node string) *v1.Pod {
	pod := p.DeepCopy()
	pod.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	pod.UID = ""
	pod.CreationTimestamp = metav1.Time{}
	for k := range pod.Annotations {
		if strings.HasPrefix(k, "kubernetes.io/config.") {
			delete(pod.Annotations, k)
		}
	}
	if len(pod.Annotations) == 0 {
		pod.Annotations = nil
	}
	pod.Spec.NodeName = ""
	if pod.Spec.PriorityClassName != "" {
		pod.Spec.Priority = nil // the apiserver computes it from the class
	}
	if node != "" {
		if pod.Spec.NodeSelector == nil {
			pod.Spec.NodeSelector = map[string]string{}
		}
		pod.Spec.NodeSelector["kubernetes.io/hostname"] = node
	}
	pod.Status = v1.PodStatus{}
	return pod
}

// workload wraps pod in a DaemonSet or a one-replica Deployment that
// selects it by its labels (app.kubernetes.io/name: <name> when it has
// none).
func workload(pod *v1.Pod, as string) any {
	labels := pod.Labels
	if len(labels) == 0 {
		labels = map[string]string{"app.kubernetes.io/name": pod.Name}
	}
	meta := metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, Labels: labels}
	template := v1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: pod.Annotations},
		Spec:       pod.Spec,
	}
	selector := &metav1.LabelSelector{MatchLabels: labels}
	if as == "daemonset" {
		return &appsv1.DaemonSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"}, ObjectMeta: meta,
			Spec: appsv1.DaemonSetSpec{Selector: selector, Template: template}}
	}
	one := int32(1)
	return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: selector, Template: template}}
}

// objectYAML writes obj as YAML without its empty status and the null
// creationTimestamps Go's zero times write.
func objectYAML(obj any) ([]byte, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	dropNullTimestamps(m)
	return yaml.Marshal(m)
}

func dropNullTimestamps(v any) {
	switch v := v.(type) {
	case map[string]any:
		if ts, ok := v["creationTimestamp"]; ok && ts == nil {
			delete(v, "creationTimestamp")
		}
		for _, child := range v {
			dropNullTimestamps(child)
		}
	case []any:
		for _, child := range v {
			dropNullTimestamps(child)
		}
	}
}
