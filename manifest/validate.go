package manifest

import (
	"fmt"
	"math"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate reports everything the apiserver's pod validation would reject for
// a static pod, plus what a static pod cannot have (references to API objects:
// secrets, config maps, claims, service accounts, pull secrets). It reports
// every problem, not only the first, each with the field path in the
// apiserver's notation ("spec.containers[0].image") and a detail that says
// what is allowed.
//
// Load calls it after defaults are applied (restartPolicy, dnsPolicy,
// imagePullPolicy, terminationMessagePolicy, protocol, probe periods,
// timeouts and thresholds are set) and after the name got its node suffix.
// It is pure (no I/O, does not modify pod) and safe to call from any
// goroutine. pod must not be nil.
func Validate(pod *v1.Pod) field.ErrorList {
	c := &checker{pod: pod}
	c.indexContainers()
	c.metadata()
	c.unsupportedMeta()
	c.staticOnly()
	c.unsupportedSpec()
	c.volumes()
	c.containers()
	c.hostPorts()
	c.podSpec()
	c.scheduling()
	c.dns()
	c.securityContext()
	c.shareProcessNamespace()
	c.securityAnnotations()
	return c.errs
}

// checker accumulates the problems of one pod. Validate fills the indexes
// (indexContainers, volumes) before the checks that read them run.
type checker struct {
	pod  *v1.Pod
	errs field.ErrorList

	// volumeNames holds the name of every declared volume, valid or not, so
	// that a mount of a broken volume is not reported a second time.
	volumeNames map[string]*v1.Volume
	// containerNames holds the name of every container and init container.
	containerNames map[string]bool
}

func (c *checker) add(errs ...*field.Error) { c.errs = append(c.errs, errs...) }

var (
	metaPath = field.NewPath("metadata")
	specPath = field.NewPath("spec")
)

// Rules spelled out in details, for the checks whose helpers say only what is
// wrong.
const (
	labelRule     = "a DNS-1123 label: at most 63 lower case alphanumeric characters or '-', starting and ending with an alphanumeric character (e.g. 'my-name')"
	subdomainRule = "a DNS-1123 subdomain: at most 253 lower case alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character (e.g. 'example.com')"
)

// The priority classes that exist without an apiserver; any other class
// name cannot be resolved, so its priority is not checked.
var systemPriorities = map[string]int32{
	"system-node-critical":    PrioritySystemNodeCritical,
	"system-cluster-critical": PrioritySystemClusterCritical,
}

func (c *checker) metadata() {
	m := &c.pod.ObjectMeta
	if m.Name == "" {
		c.add(field.Required(metaPath.Child("name"), "must be "+subdomainRule))
	} else {
		c.add(dnsSubdomain(metaPath.Child("name"), m.Name)...)
	}
	// An empty namespace is allowed: runner puts such pods in "default", as
	// the kubelet does.
	if m.Namespace != "" {
		c.add(dnsLabel(metaPath.Child("namespace"), m.Namespace)...)
	}
	if m.Generation < 0 {
		c.add(field.Invalid(metaPath.Child("generation"), m.Generation, "must be greater than or equal to 0"))
	}
	if m.UID != "" {
		c.add(pinnedUID(metaPath.Child("uid"), string(m.UID))...)
	}
	labelsPath := metaPath.Child("labels")
	for _, k := range sortedKeys(m.Labels) {
		c.add(invalidEach(labelsPath, k, content.IsLabelKey(k))...)
		c.add(invalidEach(labelsPath.Key(k), m.Labels[k], content.IsLabelValue(m.Labels[k]))...)
	}
	annotationsPath := metaPath.Child("annotations")
	size := 0
	for _, k := range sortedKeys(m.Annotations) {
		c.add(invalidEach(annotationsPath, k, content.IsLabelKey(strings.ToLower(k)))...)
		size += len(k) + len(m.Annotations[k])
	}
	const maxAnnotationBytes = 256 * 1024
	if size > maxAnnotationBytes {
		c.add(field.TooLong(annotationsPath, "", maxAnnotationBytes))
	}
}

// maxUIDLength is the longest pinned metadata.uid runner takes: a UUID has
// 36 characters, the kubelet's file hashes 32.
const maxUIDLength = 128

// uidRule says what a pinned metadata.uid may be. Runner is stricter than
// the kubelet, which takes any string: the UID names the pod's directory
// under --root-dir and is a part of its containers' names.
const uidRule = "must be at most 128 letters, digits, '-' or '.', starting with a letter or digit, e.g. a UUID such as 0b8e1a6c-6d0e-4f52-9c43-3d3c2c5b9f01 " +
	"(runner is stricter than the kubelet here on purpose: the UID names the pod's directory under --root-dir and is part of its container names; leave it out and runner derives one)"

// pinnedUID checks a metadata.uid written in a manifest: it must be a single
// safe path component, so that <root-dir>/pods/<uid> stays a directory of
// its own under --root-dir (no "..", "/", NUL or control characters) and
// container names stay parseable (no '_').
func pinnedUID(p *field.Path, uid string) field.ErrorList {
	if len(uid) > maxUIDLength {
		return field.ErrorList{field.Invalid(p, uid[:32]+"...", fmt.Sprintf("is %d bytes long: %s", len(uid), uidRule))}
	}
	for i := 0; i < len(uid); i++ {
		b := uid[i]
		alnum := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
		if !alnum && (i == 0 || (b != '-' && b != '.')) {
			return field.ErrorList{field.Invalid(p, uid, uidRule)}
		}
	}
	return nil
}

// podSpec checks the pod-level fields that are not about containers,
// volumes, DNS or security.
func (c *checker) podSpec() {
	spec := &c.pod.Spec
	switch spec.RestartPolicy {
	case v1.RestartPolicyAlways, v1.RestartPolicyOnFailure, v1.RestartPolicyNever:
	default:
		c.add(notSupported(specPath.Child("restartPolicy"), spec.RestartPolicy,
			v1.RestartPolicyAlways, v1.RestartPolicyOnFailure, v1.RestartPolicyNever))
	}
	if d := spec.ActiveDeadlineSeconds; d != nil && (*d < 1 || *d > math.MaxInt32) {
		c.add(field.Invalid(specPath.Child("activeDeadlineSeconds"), *d, validation.InclusiveRangeError(1, math.MaxInt32)))
	}
	if spec.Hostname != "" {
		c.add(dnsLabel(specPath.Child("hostname"), spec.Hostname)...)
	}
	if spec.Subdomain != "" {
		c.add(dnsLabel(specPath.Child("subdomain"), spec.Subdomain)...)
	}
	for i, a := range spec.HostAliases {
		p := specPath.Child("hostAliases").Index(i)
		if a.IP == "" {
			c.add(field.Required(p.Child("ip"), "must be an IP address, e.g. 127.0.0.1"))
		} else {
			c.add(validation.IsValidIP(p.Child("ip"), a.IP)...)
		}
		if len(a.Hostnames) == 0 {
			c.add(field.Required(p.Child("hostnames"), "list at least one host name for the address"))
		}
		for j, h := range a.Hostnames {
			c.add(dnsSubdomain(p.Child("hostnames").Index(j), h)...)
		}
	}
	c.priority()
}

func (c *checker) priority() {
	spec := &c.pod.Spec
	if spec.PriorityClassName == "" {
		return
	}
	c.add(dnsSubdomain(specPath.Child("priorityClassName"), spec.PriorityClassName)...)
	want, known := systemPriorities[spec.PriorityClassName]
	if known && spec.Priority != nil && *spec.Priority != want {
		c.add(field.Invalid(specPath.Child("priority"), *spec.Priority,
			fmt.Sprintf("must be %d, the priority of class %s (or be left out)", want, spec.PriorityClassName)))
	}
}

func (c *checker) dns() {
	spec := &c.pod.Spec
	policies := []v1.DNSPolicy{v1.DNSClusterFirst, v1.DNSClusterFirstWithHostNet, v1.DNSDefault, v1.DNSNone}
	if !slices.Contains(policies, spec.DNSPolicy) {
		c.add(notSupported(specPath.Child("dnsPolicy"), spec.DNSPolicy, policies...))
	}
	p := specPath.Child("dnsConfig")
	cfg := spec.DNSConfig
	if spec.DNSPolicy == v1.DNSNone {
		if cfg == nil {
			c.add(field.Required(p, "must be set when dnsPolicy is None, with at least one nameserver"))
			return
		}
		if len(cfg.Nameservers) == 0 {
			c.add(field.Required(p.Child("nameservers"), "must list at least one nameserver when dnsPolicy is None"))
		}
	}
	if cfg == nil {
		return
	}
	const maxNameservers, maxSearches, maxSearchChars = 3, 32, 2048
	if len(cfg.Nameservers) > maxNameservers {
		c.add(field.TooMany(p.Child("nameservers"), len(cfg.Nameservers), maxNameservers))
	}
	for i, ns := range cfg.Nameservers {
		c.add(validation.IsValidIP(p.Child("nameservers").Index(i), ns)...)
	}
	if len(cfg.Searches) > maxSearches {
		c.add(field.TooMany(p.Child("searches"), len(cfg.Searches), maxSearches))
	}
	if n := len(strings.Join(cfg.Searches, " ")); n > maxSearchChars {
		c.add(field.Invalid(p.Child("searches"), cfg.Searches,
			fmt.Sprintf("must have at most %d characters in all, counting the spaces between them", maxSearchChars)))
	}
	for i, s := range cfg.Searches {
		c.add(dnsSubdomain(p.Child("searches").Index(i), strings.TrimSuffix(s, "."))...)
	}
	for i, o := range cfg.Options {
		if o.Name == "" {
			c.add(field.Required(p.Child("options").Index(i).Child("name"), "every resolver option needs a name (e.g. ndots)"))
		}
	}
}

// invalidEach turns the messages of a util/validation helper into one
// Invalid error each.
func invalidEach(path *field.Path, value any, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, m := range msgs {
		errs = append(errs, field.Invalid(path, value, m))
	}
	return errs
}

// dnsLabel checks that a non-empty value is a DNS-1123 label.
func dnsLabel(path *field.Path, value string) field.ErrorList {
	msgs := validation.IsDNS1123Label(value)
	for i, m := range msgs {
		if m == "must not contain dots" {
			msgs[i] = "must not contain dots: must be " + labelRule
		}
	}
	return invalidEach(path, value, msgs)
}

// dnsSubdomain checks that a non-empty value is a DNS-1123 subdomain.
func dnsSubdomain(path *field.Path, value string) field.ErrorList {
	return invalidEach(path, value, validation.IsDNS1123Subdomain(value))
}

// notSupported reports an enum value outside supported; an empty value is
// shown as such, so "" reads as "not set".
func notSupported[T ~string](path *field.Path, value T, supported ...T) *field.Error {
	return field.NotSupported(path, value, supported)
}

// duplicate reports a value that must be unique, saying within what.
func duplicate(path *field.Path, value any, detail string) *field.Error {
	e := field.Duplicate(path, value)
	e.Detail = detail
	return e
}

// notFound reports a reference to something the pod does not declare.
func notFound(path *field.Path, value any, detail string) *field.Error {
	e := field.NotFound(path, value)
	e.Detail = detail
	return e
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
