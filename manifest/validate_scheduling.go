package manifest

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The fields a scheduler reads. A static pod is never scheduled: the
// kubelet (and runner) run it on the node whose manifest directory holds
// it. Tolerations, the scheduler's name and the preemption policy have no
// effect there, for runner as for the kubelet, and are checked as the
// apiserver checks them; the node selector is matched against the node's
// labels, as the kubelet's admission does.

var (
	taintEffects       = []v1.TaintEffect{v1.TaintEffectNoSchedule, v1.TaintEffectPreferNoSchedule, v1.TaintEffectNoExecute}
	tolerationOps      = []v1.TolerationOperator{v1.TolerationOpEqual, v1.TolerationOpExists}
	preemptionPolicies = []v1.PreemptionPolicy{v1.PreemptLowerPriority, v1.PreemptNever}
	osNames            = []v1.OSName{v1.Linux, v1.Windows}
)

// scheduling checks tolerations, the node selector, the preemption policy
// and spec.os.
func (c *checker) scheduling() {
	spec := &c.pod.Spec
	for i := range spec.Tolerations {
		c.toleration(&spec.Tolerations[i], specPath.Child("tolerations").Index(i))
	}
	c.nodeSelector()
	if pp := spec.PreemptionPolicy; pp != nil && !slices.Contains(preemptionPolicies, *pp) {
		c.add(notSupported(specPath.Child("preemptionPolicy"), *pp, preemptionPolicies...))
	}
	if os := spec.OS; os != nil {
		switch {
		case os.Name == "":
			c.add(field.Required(specPath.Child("os").Child("name"), `must be "linux" when spec.os is set`))
		case !slices.Contains(osNames, os.Name):
			c.add(notSupported(specPath.Child("os").Child("name"), os.Name, v1.Linux))
		}
	}
}

func (c *checker) toleration(t *v1.Toleration, p *field.Path) {
	if t.Key != "" {
		c.add(invalidEach(p.Child("key"), t.Key, content.IsLabelKey(t.Key))...)
	} else if t.Operator != v1.TolerationOpExists {
		c.add(field.Invalid(p.Child("operator"), t.Operator, "must be Exists when key is empty (an empty key with Exists tolerates every taint)"))
	}
	if t.TolerationSeconds != nil && t.Effect != v1.TaintEffectNoExecute {
		c.add(field.Invalid(p.Child("effect"), t.Effect, "must be NoExecute when tolerationSeconds is set"))
	}
	switch t.Operator {
	case v1.TolerationOpEqual, "":
		if msgs := content.IsLabelValue(t.Value); len(msgs) > 0 {
			c.add(field.Invalid(p.Child("value"), t.Value, strings.Join(msgs, "; ")))
		}
	case v1.TolerationOpExists:
		if t.Value != "" {
			c.add(field.Invalid(p.Child("value"), t.Value, "must be empty when operator is Exists (Exists matches every value of the key)"))
		}
	default:
		c.add(notSupported(p.Child("operator"), t.Operator, tolerationOps...))
	}
	if t.Effect != "" && !slices.Contains(taintEffects, t.Effect) {
		c.add(notSupported(p.Child("effect"), t.Effect, taintEffects...))
	}
}

// NodeLabels are the labels of the node runner runs on, as the kubelet
// sets them on its own node: its name, OS and architecture. Runner has no
// others; a pod's nodeSelector is matched against these.
func NodeLabels(nodeName string) map[string]string {
	return map[string]string{
		v1.LabelHostname:          nodeName,
		v1.LabelOSStable:          runtime.GOOS,
		v1.LabelArchStable:        runtime.GOARCH,
		"beta.kubernetes.io/os":   runtime.GOOS,
		"beta.kubernetes.io/arch": runtime.GOARCH,
	}
}

// nodeSelector checks the selector's labels and matches it against the
// node's labels: as with the kubelet's admission, a pod whose selector the
// node does not match does not run.
func (c *checker) nodeSelector() {
	sel := c.pod.Spec.NodeSelector
	p := specPath.Child("nodeSelector")
	node := NodeLabels(c.pod.Spec.NodeName)
	for _, k := range sortedKeys(sel) {
		v := sel[k]
		keyErrs := content.IsLabelKey(k)
		c.add(invalidEach(p, k, keyErrs)...)
		valueErrs := content.IsLabelValue(v)
		c.add(invalidEach(p.Key(k), v, valueErrs)...)
		if len(keyErrs) > 0 || len(valueErrs) > 0 || node[k] == v {
			continue
		}
		var have []string
		for _, nk := range sortedKeys(node) {
			have = append(have, nk+"="+node[nk])
		}
		c.add(field.Invalid(p.Key(k), v, fmt.Sprintf(
			"this node does not match the selector, so the pod would not run here (as with the kubelet); the node's labels are %s, and runner has no others: remove the selector or fix it",
			strings.Join(have, ", "))))
	}
}
