package manifest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The security checks the apiserver makes of a pod's and its containers'
// security contexts and of the seccomp and AppArmor annotations that
// predate the fields.

var (
	procMounts          = []v1.ProcMountType{v1.DefaultProcMount, v1.UnmaskedProcMount}
	seccompTypes        = []v1.SeccompProfileType{v1.SeccompProfileTypeLocalhost, v1.SeccompProfileTypeRuntimeDefault, v1.SeccompProfileTypeUnconfined}
	appArmorTypes       = []v1.AppArmorProfileType{v1.AppArmorProfileTypeLocalhost, v1.AppArmorProfileTypeRuntimeDefault, v1.AppArmorProfileTypeUnconfined}
	fsGroupPolicies     = []v1.PodFSGroupChangePolicy{v1.FSGroupChangeAlways, v1.FSGroupChangeOnRootMismatch}
	supplementalPolices = []v1.SupplementalGroupsPolicy{v1.SupplementalGroupsPolicyMerge, v1.SupplementalGroupsPolicyStrict}
	seLinuxPolicies     = []v1.PodSELinuxChangePolicy{v1.SELinuxChangePolicyMountOption, v1.SELinuxChangePolicyRecursive}
)

// appArmorRule says what the AppArmor annotation's value may be.
const appArmorRule = `must be "runtime/default", "localhost/<profile>" (a profile loaded on the node) or "unconfined"`

// securityContext checks the pod's security context.
func (c *checker) securityContext() {
	sc := c.pod.Spec.SecurityContext
	if sc == nil {
		return
	}
	p := specPath.Child("securityContext")
	if sc.RunAsUser != nil {
		c.add(invalidEach(p.Child("runAsUser"), *sc.RunAsUser, validation.IsValidUserID(*sc.RunAsUser))...)
	}
	if sc.RunAsGroup != nil {
		c.add(invalidEach(p.Child("runAsGroup"), *sc.RunAsGroup, validation.IsValidGroupID(*sc.RunAsGroup))...)
	}
	if sc.FSGroup != nil {
		c.add(invalidEach(p.Child("fsGroup"), *sc.FSGroup, validation.IsValidGroupID(*sc.FSGroup))...)
	}
	for i, g := range sc.SupplementalGroups {
		c.add(invalidEach(p.Child("supplementalGroups").Index(i), g, validation.IsValidGroupID(g))...)
	}
	c.sysctls(sc.Sysctls, p.Child("sysctls"))
	if pol := sc.FSGroupChangePolicy; pol != nil && !slices.Contains(fsGroupPolicies, *pol) {
		c.add(notSupported(p.Child("fsGroupChangePolicy"), *pol, fsGroupPolicies...))
	}
	if pol := sc.SupplementalGroupsPolicy; pol != nil && !slices.Contains(supplementalPolices, *pol) {
		c.add(notSupported(p.Child("supplementalGroupsPolicy"), *pol, supplementalPolices...))
	}
	if pol := sc.SELinuxChangePolicy; pol != nil && !slices.Contains(seLinuxPolicies, *pol) {
		c.add(notSupported(p.Child("seLinuxChangePolicy"), *pol, seLinuxPolicies...))
	}
	c.seccompProfile(sc.SeccompProfile, p.Child("seccompProfile"))
	c.appArmorProfile(sc.AppArmorProfile, p.Child("appArmorProfile"))
}

// containerSecurityContext checks one container's security context.
func (c *checker) containerSecurityContext(ctr *v1.Container, path *field.Path) {
	sc := ctr.SecurityContext
	if sc == nil {
		return
	}
	p := path.Child("securityContext")
	if sc.RunAsUser != nil {
		c.add(invalidEach(p.Child("runAsUser"), *sc.RunAsUser, validation.IsValidUserID(*sc.RunAsUser))...)
	}
	if sc.RunAsGroup != nil {
		c.add(invalidEach(p.Child("runAsGroup"), *sc.RunAsGroup, validation.IsValidGroupID(*sc.RunAsGroup))...)
	}
	if sc.ProcMount != nil && !slices.Contains(procMounts, *sc.ProcMount) {
		c.add(notSupported(p.Child("procMount"), *sc.ProcMount, procMounts...))
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged != nil && *sc.Privileged {
			c.add(field.Invalid(p.Child("allowPrivilegeEscalation"), false,
				"must not be false when privileged is true (a privileged container can always escalate)"))
		}
		if sc.Capabilities != nil && slices.Contains(sc.Capabilities.Add, "CAP_SYS_ADMIN") {
			c.add(field.Invalid(p.Child("allowPrivilegeEscalation"), false,
				"must not be false when capabilities.add has CAP_SYS_ADMIN (with it a container can escalate)"))
		}
	}
	c.seccompProfile(sc.SeccompProfile, p.Child("seccompProfile"))
	c.appArmorProfile(sc.AppArmorProfile, p.Child("appArmorProfile"))
}

func (c *checker) seccompProfile(sp *v1.SeccompProfile, p *field.Path) {
	if sp == nil {
		return
	}
	if !slices.Contains(seccompTypes, sp.Type) {
		c.add(notSupported(p.Child("type"), sp.Type, seccompTypes...))
	}
	if sp.Type != v1.SeccompProfileTypeLocalhost && sp.LocalhostProfile != nil {
		c.add(field.Invalid(p.Child("localhostProfile"), *sp.LocalhostProfile, "may be set only when type is Localhost"))
	}
}

func (c *checker) appArmorProfile(ap *v1.AppArmorProfile, p *field.Path) {
	if ap == nil {
		return
	}
	switch ap.Type {
	case v1.AppArmorProfileTypeLocalhost:
		const required = "must name a profile loaded on the node when type is Localhost"
		switch lp := ap.LocalhostProfile; {
		case lp == nil:
			c.add(field.Required(p.Child("localhostProfile"), required))
		case strings.TrimSpace(*lp) != *lp:
			c.add(field.Invalid(p.Child("localhostProfile"), *lp, "must not be padded with white space"))
		case *lp == "":
			c.add(field.Required(p.Child("localhostProfile"), required))
		case len(*lp) > 4095:
			c.add(field.Invalid(p.Child("localhostProfile"), (*lp)[:32]+"...", "must be at most 4095 bytes long"))
		}
	case v1.AppArmorProfileTypeRuntimeDefault, v1.AppArmorProfileTypeUnconfined:
		if ap.LocalhostProfile != nil {
			c.add(field.Invalid(p.Child("localhostProfile"), *ap.LocalhostProfile, "may be set only when type is Localhost"))
		}
	case "":
		c.add(field.Required(p.Child("type"), "must be one of "+quoteList([]string{"Localhost", "RuntimeDefault", "Unconfined"})))
	default:
		c.add(notSupported(p.Child("type"), ap.Type, appArmorTypes...))
	}
}

// sysctlName is a sysctl's name, with dots or slashes between segments.
var sysctlName = regexp.MustCompile(`^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)

// sysctls checks the names of the pod's sysctls, and that a pod in the
// host's network or IPC namespace sets none of that namespace's.
func (c *checker) sysctls(sysctls []v1.Sysctl, p *field.Path) {
	seen := map[string]bool{}
	for i, s := range sysctls {
		np := p.Index(i).Child("name")
		switch {
		case s.Name == "":
			c.add(field.Required(np, "must name a sysctl, e.g. net.ipv4.ip_local_port_range"))
		case len(s.Name) > 253 || !sysctlName.MatchString(s.Name):
			c.add(field.Invalid(np, s.Name, "must be a sysctl name of at most 253 characters: lower case segments of letters, digits, '-' and '_' joined by '.' or '/', e.g. net.ipv4.ip_local_port_range"))
		case seen[s.Name]:
			c.add(duplicate(np, s.Name, "each sysctl may be set once"))
		}
		seen[s.Name] = true
		switch ns := sysctlNamespace(s.Name); {
		case ns == "net" && c.pod.Spec.HostNetwork:
			c.add(field.Invalid(np, s.Name, "may not be set when hostNetwork is true: it would change the host's network settings"))
		case ns == "ipc" && c.pod.Spec.HostIPC:
			c.add(field.Invalid(np, s.Name, "may not be set when hostIPC is true: it would change the host's IPC settings"))
		}
	}
}

// sysctlNamespace is the kernel namespace ("net", "ipc") a sysctl belongs
// to, or "" for the others.
func sysctlNamespace(name string) string {
	// A name whose first separator is '/' uses '/' between segments.
	if i := strings.IndexAny(name, "./"); i >= 0 && name[i] == '/' {
		name = strings.Map(func(r rune) rune {
			switch r {
			case '/':
				return '.'
			case '.':
				return '/'
			}
			return r
		}, name)
	}
	if i := strings.IndexByte(name, '*'); i >= 0 {
		name = name[:i]
	}
	switch name {
	case "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
		"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni":
		return "ipc"
	}
	switch {
	case strings.HasPrefix(name, "net."):
		return "net"
	case strings.HasPrefix(name, "fs.mqueue."):
		return "ipc"
	}
	return ""
}

// securityAnnotations checks the seccomp and AppArmor annotations (the
// forms before the fields) and that each agrees with its field.
func (c *checker) securityAnnotations() {
	ann := c.pod.Annotations
	annPath := metaPath.Child("annotations")
	spec := &c.pod.Spec
	var podSeccomp *v1.SeccompProfile
	if spec.SecurityContext != nil {
		podSeccomp = spec.SecurityContext.SeccompProfile
	}
	if v, ok := ann[v1.SeccompPodAnnotationKey]; ok {
		c.seccompAnnotation(annPath.Key(v1.SeccompPodAnnotationKey), v, podSeccomp, specPath.Child("securityContext").Child("seccompProfile"))
	}
	c.eachContainer(func(ctr *v1.Container, p *field.Path) {
		key := v1.SeccompContainerAnnotationKeyPrefix + ctr.Name
		v, ok := ann[key]
		if !ok {
			return
		}
		profile := podSeccomp
		if ctr.SecurityContext != nil && ctr.SecurityContext.SeccompProfile != nil {
			profile = ctr.SecurityContext.SeccompProfile
		}
		c.seccompAnnotation(annPath.Key(key), v, profile, p.Child("securityContext").Child("seccompProfile"))
	})
	for _, k := range sortedKeys(ann) {
		if name, ok := strings.CutPrefix(k, v1.SeccompContainerAnnotationKeyPrefix); ok && !c.containerNames[name] {
			c.add(notFound(annPath.Key(k), name, "must end in the name of a container of this pod"))
		}
		name, ok := strings.CutPrefix(k, v1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix)
		if !ok {
			continue
		}
		if !c.containerNames[name] {
			c.add(notFound(annPath.Key(k), name, "must end in the name of a container of this pod"))
		}
		if v := ann[k]; v != "" && v != v1.DeprecatedAppArmorBetaProfileRuntimeDefault && v != v1.DeprecatedAppArmorBetaProfileNameUnconfined &&
			!strings.HasPrefix(v, v1.DeprecatedAppArmorBetaProfileNamePrefix) {
			c.add(field.Invalid(annPath.Key(k), v, appArmorRule))
		}
	}
	c.appArmorAnnotationsMatch()
	if v, ok := ann["controller.kubernetes.io/pod-deletion-cost"]; ok {
		if _, err := strconv.ParseInt(v, 10, 32); err != nil {
			c.add(field.Invalid(annPath.Key("controller.kubernetes.io/pod-deletion-cost"), v, "must be a 32-bit integer"))
		}
	}
}

// seccompAnnotation checks a seccomp annotation: its value, and that it
// agrees with the field that applies where it does (profile, at fieldPath).
// The kubelet has ignored the annotations since Kubernetes 1.27, so one
// without its field is refused rather than ignored.
func (c *checker) seccompAnnotation(p *field.Path, value string, profile *v1.SeccompProfile, fieldPath *field.Path) {
	const rule = `must be "runtime/default", "docker/default", "unconfined" or "localhost/<profile>"`
	switch {
	case value == v1.SeccompProfileRuntimeDefault, value == v1.DeprecatedSeccompProfileDockerDefault, value == v1.SeccompProfileNameUnconfined:
	case strings.HasPrefix(value, v1.SeccompLocalhostProfileNamePrefix):
	default:
		c.add(field.Invalid(p, value, rule))
		return
	}
	if profile == nil {
		c.add(refuse(p, "the seccomp annotations, which have had no effect since Kubernetes 1.27",
			fmt.Sprintf("set %s instead (type RuntimeDefault or Unconfined)", fieldPath)))
		return
	}
	match := false
	switch profile.Type {
	case v1.SeccompProfileTypeUnconfined:
		match = value == v1.SeccompProfileNameUnconfined
	case v1.SeccompProfileTypeRuntimeDefault:
		match = value == v1.SeccompProfileRuntimeDefault || value == v1.DeprecatedSeccompProfileDockerDefault
	case v1.SeccompProfileTypeLocalhost:
		match = profile.LocalhostProfile != nil && value == v1.SeccompLocalhostProfileNamePrefix+*profile.LocalhostProfile
	default:
		return // the field's own check reports it
	}
	if !match {
		c.add(field.Forbidden(fieldPath.Child("type"), fmt.Sprintf("must agree with the annotation %s (%q); remove the annotation", p, value)))
	}
}

// appArmorAnnotationsMatch checks that a container's AppArmor annotation
// and the profile field that applies to it (its own, else the pod's) agree.
func (c *checker) appArmorAnnotationsMatch() {
	var podProfile *v1.AppArmorProfile
	if sc := c.pod.Spec.SecurityContext; sc != nil {
		podProfile = sc.AppArmorProfile
	}
	c.eachContainer(func(ctr *v1.Container, p *field.Path) {
		profile := podProfile
		if ctr.SecurityContext != nil && ctr.SecurityContext.AppArmorProfile != nil {
			profile = ctr.SecurityContext.AppArmorProfile
		}
		v, ok := c.pod.Annotations[v1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+ctr.Name]
		if profile == nil || !ok {
			return
		}
		fp := p.Child("securityContext").Child("appArmorProfile")
		detail := fmt.Sprintf("must agree with the annotation %s%s (%q); remove the annotation", v1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix, ctr.Name, v)
		switch profile.Type {
		case v1.AppArmorProfileTypeUnconfined:
			if v != v1.DeprecatedAppArmorBetaProfileNameUnconfined {
				c.add(field.Forbidden(fp.Child("type"), detail))
			}
		case v1.AppArmorProfileTypeRuntimeDefault:
			if v != v1.DeprecatedAppArmorBetaProfileRuntimeDefault {
				c.add(field.Forbidden(fp.Child("type"), detail))
			}
		case v1.AppArmorProfileTypeLocalhost:
			name, ok := strings.CutPrefix(v, v1.DeprecatedAppArmorBetaProfileNamePrefix)
			switch {
			case !ok:
				c.add(field.Forbidden(fp.Child("type"), detail))
			case profile.LocalhostProfile == nil || *profile.LocalhostProfile != name:
				c.add(field.Forbidden(fp.Child("localhostProfile"), detail))
			}
		}
	})
}

// eachContainer calls f for every container and init container with its
// field path.
func (c *checker) eachContainer(f func(ctr *v1.Container, p *field.Path)) {
	for i := range c.pod.Spec.InitContainers {
		f(&c.pod.Spec.InitContainers[i], specPath.Child("initContainers").Index(i))
	}
	for i := range c.pod.Spec.Containers {
		f(&c.pod.Spec.Containers[i], specPath.Child("containers").Index(i))
	}
}

// Stop signals a Linux container may be given (the apiserver's list).
var stopSignals = []v1.Signal{
	v1.SIGABRT, v1.SIGALRM, v1.SIGBUS, v1.SIGCHLD, v1.SIGCLD, v1.SIGCONT, v1.SIGFPE, v1.SIGHUP, v1.SIGILL, v1.SIGINT,
	v1.SIGIO, v1.SIGIOT, v1.SIGKILL, v1.SIGPIPE, v1.SIGPOLL, v1.SIGPROF, v1.SIGPWR, v1.SIGQUIT, v1.SIGSEGV, v1.SIGSTKFLT,
	v1.SIGSTOP, v1.SIGSYS, v1.SIGTERM, v1.SIGTRAP, v1.SIGTSTP, v1.SIGTTIN, v1.SIGTTOU, v1.SIGURG, v1.SIGUSR1, v1.SIGUSR2,
	v1.SIGVTALRM, v1.SIGWINCH, v1.SIGXCPU, v1.SIGXFSZ, v1.SIGRTMIN, v1.SIGRTMINPLUS1, v1.SIGRTMINPLUS2, v1.SIGRTMINPLUS3,
	v1.SIGRTMINPLUS4, v1.SIGRTMINPLUS5, v1.SIGRTMINPLUS6, v1.SIGRTMINPLUS7, v1.SIGRTMINPLUS8, v1.SIGRTMINPLUS9,
	v1.SIGRTMINPLUS10, v1.SIGRTMINPLUS11, v1.SIGRTMINPLUS12, v1.SIGRTMINPLUS13, v1.SIGRTMINPLUS14, v1.SIGRTMINPLUS15,
	v1.SIGRTMAXMINUS14, v1.SIGRTMAXMINUS13, v1.SIGRTMAXMINUS12, v1.SIGRTMAXMINUS11, v1.SIGRTMAXMINUS10, v1.SIGRTMAXMINUS9,
	v1.SIGRTMAXMINUS8, v1.SIGRTMAXMINUS7, v1.SIGRTMAXMINUS6, v1.SIGRTMAXMINUS5, v1.SIGRTMAXMINUS4, v1.SIGRTMAXMINUS3,
	v1.SIGRTMAXMINUS2, v1.SIGRTMAXMINUS1, v1.SIGRTMAX,
}

// stopSignal checks a container's lifecycle.stopSignal: as the apiserver
// has it, the pod must name its OS (spec.os.name: linux), and the signal
// must be one Linux has.
func (c *checker) stopSignal(sig *v1.Signal, p *field.Path) {
	if sig == nil {
		return
	}
	if os := c.pod.Spec.OS; os == nil {
		c.add(field.Forbidden(p, "may be set only when the pod names its OS: add spec.os.name: linux"))
		return
	} else if os.Name != v1.Linux {
		return // refused with spec.os.name
	}
	if !slices.Contains(stopSignals, *sig) {
		c.add(notSupported(p, *sig, stopSignals...))
	}
}

// shareProcessNamespace checks that a pod does not ask for both the host's
// process namespace and one of its own.
func (c *checker) shareProcessNamespace() {
	spec := &c.pod.Spec
	if spec.HostPID && spec.ShareProcessNamespace != nil && *spec.ShareProcessNamespace {
		c.add(field.Invalid(specPath.Child("shareProcessNamespace"), true,
			"may not be true when hostPID is true: the containers share the host's process namespace; set one of them"))
	}
}
