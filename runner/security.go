package runner

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/runner-dev/runner/runner/runtime"
)

// applySecurity maps the pod's and the container's securityContext onto the
// engine's options; the container's settings win over the pod's. imageUser
// is the image's USER, for runAsGroup without runAsUser and runAsNonRoot.
// It fails, as the kubelet's CreateContainerConfigError, for a container
// whose runAsNonRoot cannot hold.
func applySecurity(s *runtime.ContainerSpec, pod *v1.Pod, c *v1.Container, imageUser string) error {
	var uid, gid *int64
	var nonRoot *bool
	var selinux *v1.SELinuxOptions
	var apparmor *v1.AppArmorProfile
	if psc := pod.Spec.SecurityContext; psc != nil {
		uid, gid, nonRoot, selinux, apparmor = psc.RunAsUser, psc.RunAsGroup, psc.RunAsNonRoot, psc.SELinuxOptions, psc.AppArmorProfile
		for _, g := range psc.SupplementalGroups {
			s.GroupAdd = append(s.GroupAdd, fmt.Sprint(g))
		}
		if psc.FSGroup != nil {
			s.GroupAdd = append(s.GroupAdd, fmt.Sprint(*psc.FSGroup))
		}
		applySeccomp(s, psc.SeccompProfile)
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = sc.RunAsGroup
		}
		if sc.RunAsNonRoot != nil {
			nonRoot = sc.RunAsNonRoot
		}
		if sc.SELinuxOptions != nil {
			selinux = sc.SELinuxOptions
		}
		if sc.AppArmorProfile != nil {
			apparmor = sc.AppArmorProfile
		}
		if sc.Privileged != nil && *sc.Privileged {
			s.Privileged = true
		}
		if sc.ReadOnlyRootFilesystem != nil {
			s.ReadOnly = *sc.ReadOnlyRootFilesystem
		}
		if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
			s.NoNewPrivs = true
		}
		if caps := sc.Capabilities; caps != nil {
			for _, cp := range caps.Add {
				s.CapAdd = append(s.CapAdd, strings.TrimPrefix(string(cp), "CAP_"))
			}
			for _, cp := range caps.Drop {
				s.CapDrop = append(s.CapDrop, strings.TrimPrefix(string(cp), "CAP_"))
			}
		}
		applySeccomp(s, sc.SeccompProfile)
	}
	switch {
	case uid != nil && gid != nil:
		s.User = fmt.Sprintf("%d:%d", *uid, *gid)
	case uid != nil:
		s.User = fmt.Sprint(*uid)
	case gid != nil:
		// The image's user with the group asked for, as the kubelet does.
		user, _, _ := strings.Cut(imageUser, ":")
		if user == "" {
			user = "0"
		}
		s.User = fmt.Sprintf("%s:%d", user, *gid)
	}
	if o := selinux; o != nil {
		for k, v := range map[string]string{"user": o.User, "role": o.Role, "type": o.Type, "level": o.Level} {
			if v != "" {
				s.SecurityOpt = append(s.SecurityOpt, "label="+k+":"+v)
			}
		}
		sort.Strings(s.SecurityOpt)
	}
	if p := appArmorOf(pod, c, apparmor); p != "" {
		s.SecurityOpt = append(s.SecurityOpt, "apparmor="+p)
	}
	if nonRoot != nil && *nonRoot {
		return verifyNonRoot(pod, c, uid, imageUser)
	}
	return nil
}

// appArmorOf is the AppArmor profile of container c for the engine ("" for
// the engine's default): the container's annotation (the older way), else
// the container's or the pod's field.
func appArmorOf(pod *v1.Pod, c *v1.Container, field *v1.AppArmorProfile) string {
	if a, ok := pod.Annotations["container.apparmor.security.beta.kubernetes.io/"+c.Name]; ok {
		switch {
		case a == "unconfined":
			return "unconfined"
		case strings.HasPrefix(a, "localhost/"):
			return strings.TrimPrefix(a, "localhost/")
		}
		return "" // runtime/default
	}
	if field == nil {
		return ""
	}
	switch field.Type {
	case v1.AppArmorProfileTypeUnconfined:
		return "unconfined"
	case v1.AppArmorProfileTypeLocalhost:
		if field.LocalhostProfile != nil {
			return *field.LocalhostProfile
		}
	}
	return ""
}

// verifyNonRoot fails when a container with runAsNonRoot would run as
// root: its runAsUser is 0, or, without one, its image's user is root, is
// not set, or is a name that cannot be checked (the kubelet's rules and
// messages).
func verifyNonRoot(pod *v1.Pod, c *v1.Container, uid *int64, imageUser string) error {
	if uid != nil {
		if *uid == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", podKey(pod), c.Name)
		}
		return nil
	}
	user, _, _ := strings.Cut(imageUser, ":")
	switch n, err := strconv.ParseInt(user, 10, 64); {
	case user == "":
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", podKey(pod), c.Name)
	case err != nil:
		return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", user, podKey(pod), c.Name)
	case n == 0:
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", podKey(pod), c.Name)
	}
	return nil
}

func applySeccomp(s *runtime.ContainerSpec, p *v1.SeccompProfile) {
	if p != nil && p.Type == v1.SeccompProfileTypeUnconfined {
		s.SecurityOpt = append(s.SecurityOpt, "seccomp=unconfined")
	}
}

// qosClass is the pod's QoS class, as the kubelet computes it.
func qosClass(pod *v1.Pod) v1.PodQOSClass {
	requests, limits := v1.ResourceList{}, v1.ResourceList{}
	guaranteed := true
	for _, c := range append(append([]v1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, name := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[name]
			lim, hasLim := c.Resources.Limits[name]
			if hasReq && !req.IsZero() {
				requests[name] = req
			}
			if hasLim && !lim.IsZero() {
				limits[name] = lim
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case len(requests) == 0 && len(limits) == 0:
		return v1.PodQOSBestEffort
	case guaranteed:
		return v1.PodQOSGuaranteed
	}
	return v1.PodQOSBurstable
}

// containerResources maps requests and limits to cgroup settings, and the
// OOM score adjustment the kubelet gives each QoS class.
// memory is the node's memory in bytes (for the Burstable OOM score).
func containerResources(pod *v1.Pod, c *v1.Container, memory int64) runtime.Resources {
	var r runtime.Resources
	// No CPU request: the minimum shares (2), as the kubelet gives, not the
	// engine's default 1024.
	cpuReq := c.Resources.Requests[v1.ResourceCPU]
	r.CPUShares = max(cpuReq.MilliValue()*1024/1000, 2)
	if cpuLim := c.Resources.Limits[v1.ResourceCPU]; !cpuLim.IsZero() {
		r.CPUPeriod = 100000
		r.CPUQuota = max(cpuLim.MilliValue()*100, 1000)
	}
	if memLim := c.Resources.Limits[v1.ResourceMemory]; !memLim.IsZero() {
		r.MemoryLimit = memLim.Value()
	}
	switch {
	case pod.Spec.Priority != nil && *pod.Spec.Priority >= 2000000000:
		r.OOMScoreAdj = -997
	case qosClass(pod) == v1.PodQOSGuaranteed:
		r.OOMScoreAdj = -997
	case qosClass(pod) == v1.PodQOSBestEffort:
		r.OOMScoreAdj = 1000
	default:
		memReq := c.Resources.Requests[v1.ResourceMemory]
		r.OOMScoreAdj = burstableOOMScore(memReq, memory)
	}
	return r
}

func burstableOOMScore(memReq resource.Quantity, capacity int64) int {
	if capacity <= 0 {
		return 999
	}
	adj := 1000 - int(1000*memReq.Value()/capacity)
	return min(max(adj, 2), 999)
}
