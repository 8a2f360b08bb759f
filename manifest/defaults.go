package manifest

import (
	"github.com/distribution/reference"
	v1 "k8s.io/api/core/v1"
)

// Priorities of the two priority classes that exist without an apiserver.
const (
	PrioritySystemNodeCritical    int32 = 2000001000
	PrioritySystemClusterCritical int32 = 2000000000
)

// DefaultTerminationGracePeriod is the apiserver's default, in seconds.
const DefaultTerminationGracePeriod int64 = 30

// SetDefaults applies the defaults the apiserver would apply to a pod, so a
// static pod runs as it would have run had it been created through the API.
// Called by Load before validation; it only fills fields that are unset.
func SetDefaults(pod *v1.Pod) {
	if pod.Namespace == "" {
		pod.Namespace = "default"
	}
	s := &pod.Spec
	if s.RestartPolicy == "" {
		s.RestartPolicy = v1.RestartPolicyAlways
	}
	if s.TerminationGracePeriodSeconds == nil {
		g := DefaultTerminationGracePeriod
		s.TerminationGracePeriodSeconds = &g
	} else if *s.TerminationGracePeriodSeconds < 0 {
		// As the apiserver does: a negative grace period means "at once",
		// and 1 second still lets preStop hooks and SIGTERM run.
		g := int64(1)
		s.TerminationGracePeriodSeconds = &g
	}
	if s.DNSPolicy == "" {
		s.DNSPolicy = v1.DNSClusterFirst
	}
	if s.SchedulerName == "" {
		s.SchedulerName = v1.DefaultSchedulerName
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &v1.PodSecurityContext{}
	}
	if s.Priority == nil {
		switch s.PriorityClassName {
		case "system-node-critical":
			p := PrioritySystemNodeCritical
			s.Priority = &p
		case "system-cluster-critical":
			p := PrioritySystemClusterCritical
			s.Priority = &p
		}
	}
	for i := range s.Volumes {
		defaultVolume(&s.Volumes[i])
	}
	for i := range s.InitContainers {
		defaultContainer(&s.InitContainers[i], s.HostNetwork)
	}
	for i := range s.Containers {
		defaultContainer(&s.Containers[i], s.HostNetwork)
	}
}

func defaultVolume(v *v1.Volume) {
	if v.VolumeSource == (v1.VolumeSource{}) {
		v.EmptyDir = &v1.EmptyDirVolumeSource{}
	}
	if v.Image != nil && v.Image.PullPolicy == "" {
		v.Image.PullPolicy = DefaultPullPolicy(v.Image.Reference)
	}
	if v.HostPath != nil && v.HostPath.Type == nil {
		t := v1.HostPathUnset
		v.HostPath.Type = &t
	}
	if d := v.DownwardAPI; d != nil {
		if d.DefaultMode == nil {
			m := v1.DownwardAPIVolumeSourceDefaultMode
			d.DefaultMode = &m
		}
		defaultFieldRefs(d.Items)
	}
	if p := v.Projected; p != nil {
		if p.DefaultMode == nil {
			m := v1.ProjectedVolumeSourceDefaultMode
			p.DefaultMode = &m
		}
		for i := range p.Sources {
			if d := p.Sources[i].DownwardAPI; d != nil {
				defaultFieldRefs(d.Items)
			}
		}
	}
}

// defaultFieldRefs sets the API version of downward API files' fieldRefs.
func defaultFieldRefs(items []v1.DownwardAPIVolumeFile) {
	for i := range items {
		if f := items[i].FieldRef; f != nil && f.APIVersion == "" {
			f.APIVersion = "v1"
		}
	}
}

func defaultContainer(c *v1.Container, hostNetwork bool) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = DefaultPullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = v1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = v1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		p := &c.Ports[i]
		if p.Protocol == "" {
			p.Protocol = v1.ProtocolTCP
		}
		if hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
	// Limits without requests: the requests are the limits.
	for name, limit := range c.Resources.Limits {
		if _, ok := c.Resources.Requests[name]; !ok {
			if c.Resources.Requests == nil {
				c.Resources.Requests = v1.ResourceList{}
			}
			c.Resources.Requests[name] = limit.DeepCopy()
		}
	}
	defaultProbe(c.LivenessProbe)
	defaultProbe(c.ReadinessProbe)
	defaultProbe(c.StartupProbe)
	if l := c.Lifecycle; l != nil {
		if l.PostStart != nil {
			defaultHTTPGet(l.PostStart.HTTPGet)
		}
		if l.PreStop != nil {
			defaultHTTPGet(l.PreStop.HTTPGet)
		}
	}
}

func defaultProbe(p *v1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	defaultHTTPGet(p.HTTPGet)
	if p.GRPC != nil && p.GRPC.Service == nil {
		empty := ""
		p.GRPC.Service = &empty
	}
}

func defaultHTTPGet(h *v1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = v1.URISchemeHTTP
	}
}

// DefaultPullPolicy is the apiserver's: Always when the image's tag is
// "latest" or it names neither a tag nor a digest ("img:latest@sha256:..."
// is Always, as the apiserver has it), IfNotPresent otherwise, and also
// when the image is not a valid reference (its pull fails either way).
func DefaultPullPolicy(image string) v1.PullPolicy {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return v1.PullIfNotPresent
	}
	tagged, hasTag := named.(reference.Tagged)
	_, hasDigest := named.(reference.Digested)
	if (hasTag && tagged.Tag() == "latest") || (!hasTag && !hasDigest) {
		return v1.PullAlways
	}
	return v1.PullIfNotPresent
}
