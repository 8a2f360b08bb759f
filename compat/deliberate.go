package compat

import (
	"strings"

	"github.com/runner-dev/runner/manifest"
)

// Rule is a deliberate difference between runner and the kubelet, as the
// README's "Differences from the kubelet" lists it.
type Rule struct {
	// Name is how the README and the test output name it.
	Name string
	// Reason says why runner differs.
	Reason string
	// problem matches one of runner's problems that the rule explains,
	// where runner refuses what the kubelet takes.
	problem func(p manifest.Problem) bool
	// kubeletRefusal matches the input and the kubelet's error, where the
	// kubelet refuses what runner takes.
	kubeletRefusal func(data []byte, err error) bool
}

// messageHas matches a problem whose message holds any of the fragments.
func messageHas(fragments ...string) func(p manifest.Problem) bool {
	return func(p manifest.Problem) bool {
		for _, f := range fragments {
			if strings.Contains(p.Message, f) {
				return true
			}
		}
		return false
	}
}

// Rules are the deliberate differences. The README's section "Differences
// from the kubelet" names each of them (a test checks it).
var Rules = []Rule{
	{Name: "unknown-fields", Reason: "runner refuses unknown and misspelt fields and names the closest known one; the kubelet drops them silently (and reads ApiVersion and Kind in any case)",
		problem: func(p manifest.Problem) bool {
			// A missing apiVersion or kind that the kubelet did not miss
			// was written in another case, which runner's field names
			// are not.
			return messageHas(`unknown field "`)(p) ||
				(p.Field == "apiVersion" || p.Field == "kind") && strings.HasPrefix(p.Message, "Required value")
		}},
	{Name: "duplicate-keys", Reason: "runner refuses a key written twice; the kubelet keeps the last",
		problem: isDuplicate},
	{Name: "yaml-1.1", Reason: "runner reads YAML 1.2 and refuses the unquoted scalars YAML 1.1 reads otherwise (yes, no, on, off, y, n, 1_000, 0b1), saying to quote them or to write true or false",
		problem: messageHas("is a boolean only in YAML 1.1", "is not one in YAML 1.1")},
	{Name: "not-supported", Reason: "runner refuses the fields it does not implement (see manifest/FIELDS.md) and says what to use instead; the kubelet implements or ignores them",
		problem: messageHas(manifest.NotSupported)},
	{Name: "pinned-uid", Reason: "a pinned metadata.uid names a directory under --root-dir, so it must be a single safe path component",
		problem: messageHas("runner is stricter than the kubelet here on purpose")},
	{Name: "fails-at-start", Reason: "the kubelet takes values that fail the pod when it starts (a relative hostPath path, an unknown emptyDir medium, a host IP that is no IP); runner refuses them when it reads the manifest",
		problem: messageHas(manifest.FailsAtStart)},
	{Name: "node-selector", Reason: "the kubelet admits, then fails, a pod whose nodeSelector this node does not match; runner refuses it when it reads it",
		problem: messageHas("this node does not match the selector")},
	{Name: "priority", Reason: "runner refuses a priority that disagrees with a system priority class, as the apiserver's admission does; the kubelet does not check it",
		problem: messageHas("the priority of class")},
	{Name: "probe-port-names", Reason: "runner refuses a probe or hook port name the container does not declare, which would fail every probe",
		problem: messageHas("must be a port number or the name of one of this container's ports")},
	{Name: "bounds", Reason: "runner bounds the YAML values and pods a file may hold, so that decoding takes bounded memory",
		problem: messageHas("so that decoding takes bounded memory", "a file may hold at most")},
	{Name: "documents", Reason: "a file may hold several documents and a List of pods; the kubelet reads the first document and only Pods (its HTTP source PodLists too)",
		problem: messageHas("is defined twice in this file"),
		kubeletRefusal: func(data []byte, err error) bool {
			msg := err.Error()
			return strings.Contains(msg, "*core.List") || strings.Contains(msg, "invalid Yaml document separator")
		}},
}

// isDuplicate matches runner's problem of a key written twice.
var isDuplicate = messageHas("duplicate field (first at line", "duplicate key (first at line")

// neutral problems follow from others and explain nothing by themselves.
var neutral = messageHas("more than 100 problems")

// matchRule finds the deliberate difference that explains r, or nil.
// Where runner refuses, every problem must be explained by a rule (the
// first one's rule is returned).
func matchRule(data []byte, r Result) *Rule {
	if r.KubeletErr != nil {
		for i := range Rules {
			if Rules[i].kubeletRefusal != nil && Rules[i].kubeletRefusal(data, r.KubeletErr) {
				return &Rules[i]
			}
		}
		return nil
	}
	// A key written twice is decoded from its first value, whose own
	// problems follow from the duplicate (the kubelet reads the last).
	var duplicated []string
	for _, p := range r.Problems {
		if isDuplicate(p) {
			duplicated = append(duplicated, p.Field)
		}
	}
	var first *Rule
	for _, p := range r.Problems {
		if neutral(p) || !isDuplicate(p) && under(p.Field, duplicated) {
			continue
		}
		rule := ruleFor(p)
		if rule == nil {
			return nil
		}
		if first == nil {
			first = rule
		}
	}
	return first
}

// ruleFor is the rule that explains one of runner's problems, or nil.
func ruleFor(p manifest.Problem) *Rule {
	for i := range Rules {
		if Rules[i].problem != nil && Rules[i].problem(p) {
			return &Rules[i]
		}
	}
	return nil
}

// under reports whether field is one of paths or lies under one of them.
func under(field string, paths []string) bool {
	for _, p := range paths {
		if field == p || strings.HasPrefix(field, p+".") || strings.HasPrefix(field, p+"[") {
			return true
		}
	}
	return false
}
