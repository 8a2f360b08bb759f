package eviction

import (
	"fmt"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/runner-dev/runner/manifest"
)

// CriticalPriority is the lowest priority of a critical pod (the
// apiserver's system-cluster-critical): never evicted, always admitted.
const CriticalPriority int32 = manifest.PrioritySystemClusterCritical

// maxUserPriority is the highest value the apiserver lets a user's
// PriorityClass have; above it are the system classes.
const maxUserPriority = 1000000000

// ParsePriorityClasses reads --priority-class NAME=VALUE statements: a
// class name the apiserver would take, not a system- one, and a value no
// higher than the apiserver lets a user's class have.
func ParsePriorityClasses(list []string) (map[string]int32, error) {
	out := map[string]int32{}
	for _, text := range items(list) {
		name, value, ok := strings.Cut(text, "=")
		if !ok {
			return nil, fmt.Errorf("--priority-class %q: must be NAME=VALUE, e.g. edge-critical=1000000", text)
		}
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			return nil, fmt.Errorf("--priority-class %q: class name: %s", text, strings.Join(errs, "; "))
		}
		if strings.HasPrefix(name, "system-") {
			return nil, fmt.Errorf("--priority-class %q: names starting with system- are the apiserver's; pick another", text)
		}
		n, err := strconv.ParseInt(value, 10, 32)
		if err != nil || n > maxUserPriority {
			return nil, fmt.Errorf("--priority-class %q: value must be an integer no higher than %d", text, maxUserPriority)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--priority-class %q: %s is given twice", text, name)
		}
		out[name] = int32(n)
	}
	return out, nil
}

// PodPriority is pod's priority: spec.priority, else its class resolved
// through the system classes and classes; known is false for a class runner
// does not know (priority 0 then).
func PodPriority(pod *v1.Pod, classes map[string]int32) (priority int32, known bool) {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority, true
	}
	switch name := pod.Spec.PriorityClassName; name {
	case "":
		return 0, true
	case "system-node-critical":
		return manifest.PrioritySystemNodeCritical, true
	case "system-cluster-critical":
		return manifest.PrioritySystemClusterCritical, true
	default:
		v, ok := classes[name]
		return v, ok
	}
}
