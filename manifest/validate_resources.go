package manifest

import (
	"fmt"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	hugePagesPrefix  = "hugepages-"
	resourceNameRule = "must be cpu, memory, ephemeral-storage, hugepages-<size> (e.g. hugepages-2Mi) or a fully qualified extended resource name (e.g. example.com/gpu)"
)

// resources checks a container's requests and limits: known names,
// non-negative quantities, requests within limits, and requests equal to
// limits where the resource cannot be overcommitted (hugepages, extended
// resources).
func (c *checker) resources(r *v1.ResourceRequirements, p *field.Path) {
	limits, requests := p.Child("limits"), p.Child("requests")
	var cpuOrMemory, hugePages bool
	note := func(name v1.ResourceName) {
		cpuOrMemory = cpuOrMemory || name == v1.ResourceCPU || name == v1.ResourceMemory
		hugePages = hugePages || strings.HasPrefix(string(name), hugePagesPrefix)
	}
	for _, name := range sortedKeys(r.Limits) {
		q := r.Limits[name]
		c.add(resourceNameErrors(name, limits.Key(string(name)))...)
		c.add(quantityErrors(name, q, limits.Key(string(name)))...)
		note(name)
	}
	for _, name := range sortedKeys(r.Requests) {
		q := r.Requests[name]
		rp := requests.Key(string(name))
		c.add(resourceNameErrors(name, rp)...)
		c.add(quantityErrors(name, q, rp)...)
		note(name)
		limit, hasLimit := r.Limits[name]
		switch {
		case hasLimit && !overcommitAllowed(name) && q.Cmp(limit) != 0:
			c.add(field.Invalid(rp, q.String(), fmt.Sprintf("must equal the %s limit (%s): hugepages and extended resources cannot be overcommitted", name, limit.String())))
		case hasLimit && q.Cmp(limit) > 0:
			c.add(field.Invalid(rp, q.String(), fmt.Sprintf("must be less than or equal to the %s limit (%s)", name, limit.String())))
		case !hasLimit && !overcommitAllowed(name):
			c.add(field.Required(limits.Key(string(name)), fmt.Sprintf("must be set, equal to the request (%s): hugepages and extended resources cannot be overcommitted", q.String())))
		}
	}
	if hugePages && !cpuOrMemory {
		c.add(field.Forbidden(p, "hugepages need a cpu or memory request or limit as well"))
	}
	if len(r.Claims) > 0 {
		c.add(forbidAPI(p.Child("claims"), "resource claims", useResourceLimits))
	}
}

func resourceNameErrors(name v1.ResourceName, p *field.Path) field.ErrorList {
	s := string(name)
	if !strings.Contains(s, "/") {
		switch {
		case name == v1.ResourceCPU, name == v1.ResourceMemory, name == v1.ResourceEphemeralStorage:
			return nil
		case strings.HasPrefix(s, hugePagesPrefix):
			if _, ok := hugePageSize(name); !ok {
				return field.ErrorList{field.Invalid(p, s, "hugepages-<size> needs a positive page size, e.g. hugepages-2Mi")}
			}
			return nil
		}
		return field.ErrorList{field.Invalid(p, s, resourceNameRule)}
	}
	if msgs := content.IsLabelKey(s); len(msgs) > 0 {
		return invalidEach(p, s, prefixEach(resourceNameRule+": ", msgs))
	}
	if isNativeResource(name) {
		return nil
	}
	if strings.HasPrefix(s, "requests.") || len(content.IsLabelKey("requests."+s)) > 0 {
		return field.ErrorList{field.Invalid(p, s, "an extended resource name must be <domain>/<name>, not start with 'requests.', and fit in a qualified name with a 'requests.' prefix")}
	}
	return nil
}

func quantityErrors(name v1.ResourceName, q resource.Quantity, p *field.Path) field.ErrorList {
	if q.Sign() < 0 {
		return field.ErrorList{field.Invalid(p, q.String(), "must be greater than or equal to 0")}
	}
	if !isNativeResource(name) && q.MilliValue()%1000 != 0 {
		return field.ErrorList{field.Invalid(p, q.String(), "must be a whole number for extended resources")}
	}
	if size, ok := hugePageSize(name); ok && q.Value()%size.Value() != 0 {
		return field.ErrorList{field.Invalid(p, q.String(), fmt.Sprintf("must be a multiple of the page size %s", size.String()))}
	}
	return nil
}

// hugePageSize parses the size of a hugepages-<size> resource name.
func hugePageSize(name v1.ResourceName) (resource.Quantity, bool) {
	s, ok := strings.CutPrefix(string(name), hugePagesPrefix)
	if !ok {
		return resource.Quantity{}, false
	}
	q, err := resource.ParseQuantity(s)
	if err != nil || q.Sign() <= 0 {
		return resource.Quantity{}, false
	}
	return q, true
}

// isNativeResource reports whether name is in the kubernetes.io domain
// (unprefixed names are).
func isNativeResource(name v1.ResourceName) bool {
	s := string(name)
	return !strings.Contains(s, "/") || strings.Contains(s, "kubernetes.io/")
}

// overcommitAllowed reports whether a request may be below the limit.
func overcommitAllowed(name v1.ResourceName) bool {
	return isNativeResource(name) && !strings.HasPrefix(string(name), hugePagesPrefix)
}
