package compat

import (
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/diff"

	"github.com/runner-dev/runner/manifest"
)

// Node and File are what both readers are given: the node's name and the
// path the manifest is read from.
const (
	Node = "node1"
	File = "/etc/kubernetes/manifests/pod.yaml"
)

// Verdict is how runner's reading of a manifest compares with the kubelet's.
type Verdict int

const (
	// Same: both accept it (with the same pods) or both refuse it.
	Same Verdict = iota
	// Deliberate: they differ in a way README.md lists as deliberate.
	Deliberate
	// Differ: they differ and no deliberate difference explains it.
	Differ
)

func (v Verdict) String() string {
	switch v {
	case Same:
		return "same"
	case Deliberate:
		return "deliberate"
	}
	return "DIFFERENT"
}

// Result is the comparison of one manifest.
type Result struct {
	Verdict Verdict
	// Rule names the deliberate difference (Verdict Deliberate).
	Rule string
	// Detail says what differs, for a person.
	Detail string

	KubeletPods []*v1.Pod
	KubeletErr  error
	RunnerPods  []*v1.Pod
	Problems    manifest.Problems
}

// Compare reads data as the kubelet and as runner do and compares the two.
// Called by the tests on their goroutine; safe for concurrent use.
func Compare(data []byte) Result {
	r := Result{}
	r.KubeletPods, r.KubeletErr = KubeletLoad(data, File, Node)
	r.RunnerPods, r.Problems = manifest.Load(File, data, manifest.Options{
		NodeName: Node, Source: manifest.SourceFile, Now: func() time.Time { return time.Unix(0, 0) }})
	kubeletOK, runnerOK := r.KubeletErr == nil, len(r.Problems) == 0
	switch {
	case kubeletOK && runnerOK:
		if d := comparePods(r.KubeletPods, r.RunnerPods); d != "" {
			r.Verdict, r.Detail = Differ, "both accept, with different pods:\n"+d
			if rule := matchRule(data, r); rule != nil {
				r.Verdict, r.Rule = Deliberate, rule.Name
			}
		}
	case !kubeletOK && !runnerOK:
	default:
		r.Verdict = Differ
		if kubeletOK {
			r.Detail = "the kubelet accepts it, runner refuses it:\n" + r.Problems.Error()
		} else {
			r.Detail = fmt.Sprintf("runner accepts it (%d pods), the kubelet refuses it: %v", len(r.RunnerPods), r.KubeletErr)
		}
		if rule := matchRule(data, r); rule != nil {
			r.Verdict, r.Rule = Deliberate, rule.Name
		}
	}
	return r
}

// comparePods compares the pods of both readers, after leaving out what
// differs on purpose and means nothing to the pods that run (see
// normalize). It returns "" when they agree.
func comparePods(kubelet, runner []*v1.Pod) string {
	if len(kubelet) != len(runner) {
		return fmt.Sprintf("the kubelet reads %d pods, runner %d", len(kubelet), len(runner))
	}
	var b strings.Builder
	for i := range kubelet {
		k, r := normalize(kubelet[i], runner[i])
		if !equality.Semantic.DeepEqual(k, r) {
			fmt.Fprintf(&b, "pod %d (- kubelet, + runner):\n%s", i, diff.Diff(k, r))
		}
	}
	return b.String()
}

// normalize returns copies of the pod as the kubelet and as runner read it,
// without what differs on purpose and means nothing to the pod that runs:
//   - the UID, unless the manifest pins it (the kubelet hashes its Go
//     object, runner the file's bytes, so that upgrades keep UIDs);
//   - the kubernetes.io/config.* annotations, which carry those UIDs and
//     the time the pod was seen;
//   - the NoExecute toleration the kubelet adds (there are no taints
//     without an apiserver, so tolerations have no effect);
//   - enableServiceLinks, which the kubelet defaults to true (there are no
//     services without an apiserver, so no service variables either way);
//   - the priority of the system priority classes, which runner sets as the
//     apiserver's admission does and the kubelet does not;
//   - the status and the kind and apiVersion (the kubelet leaves them out).
func normalize(kubelet, runner *v1.Pod) (*v1.Pod, *v1.Pod) {
	k, r := kubelet.DeepCopy(), runner.DeepCopy()
	if k.UID == kubeletUnpinnedUID {
		k.UID, r.UID = "", ""
	}
	for _, p := range []*v1.Pod{k, r} {
		for _, a := range []string{manifest.AnnotationConfigHash, manifest.AnnotationConfigSource, manifest.AnnotationConfigSeen} {
			delete(p.Annotations, a)
		}
		if len(p.Annotations) == 0 {
			p.Annotations = nil
		}
		p.Status = v1.PodStatus{}
		p.TypeMeta = metav1.TypeMeta{}
		p.Spec.EnableServiceLinks = nil
	}
	var tolerations []v1.Toleration
	for _, t := range k.Spec.Tolerations {
		if t != (v1.Toleration{Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute}) || hasToleration(r, t) {
			tolerations = append(tolerations, t)
		}
	}
	k.Spec.Tolerations = tolerations
	if k.Spec.Priority == nil && r.Spec.Priority != nil {
		r.Spec.Priority = nil
	}
	return k, r
}

func hasToleration(p *v1.Pod, t v1.Toleration) bool {
	for _, have := range p.Spec.Tolerations {
		if have == t {
			return true
		}
	}
	return false
}
