package manifest

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestDefaultPullPolicy(t *testing.T) {
	const digest = "sha256:7b3ccabffc97de872a30dfd234fd972a66d247c8cfc69b0550f276481852627c"
	cases := map[string]v1.PullPolicy{
		"busybox":                         v1.PullAlways,
		"busybox:latest":                  v1.PullAlways,
		"busybox:1.36":                    v1.PullIfNotPresent,
		"busybox:Latest":                  v1.PullIfNotPresent, // tags are case-sensitive
		"docker.io/library/busybox":       v1.PullAlways,
		"registry.k8s.io/etcd:3.5.12-0":   v1.PullIfNotPresent,
		"host:5000/img":                   v1.PullAlways, // a port, not a tag
		"host:5000/img:latest":            v1.PullAlways,
		"host:5000/img:v2":                v1.PullIfNotPresent,
		"host:5000/team/img":              v1.PullAlways,
		"localhost:5000/a/b/c:1":          v1.PullIfNotPresent,
		"busybox@" + digest:               v1.PullIfNotPresent,
		"busybox:1.36@" + digest:          v1.PullIfNotPresent,
		"busybox:latest@" + digest:        v1.PullAlways, // the apiserver reads the tag even beside a digest
		"host:5000/img@" + digest:         v1.PullIfNotPresent,
		"runner.local/busybox:test":       v1.PullIfNotPresent,
		"[::1]:5000/img":                  v1.PullAlways,
		"gcr.io/project/image:latest-dev": v1.PullIfNotPresent,
	}
	for image, want := range cases {
		if got := DefaultPullPolicy(image); got != want {
			t.Errorf("DefaultPullPolicy(%q) = %s, want %s", image, got, want)
		}
	}
}

// defaulted runs SetDefaults on a copy of pod.
func defaulted(pod *v1.Pod) *v1.Pod {
	p := pod.DeepCopy()
	SetDefaults(p)
	return p
}

func TestSetDefaultsPod(t *testing.T) {
	p := defaulted(&v1.Pod{Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "busybox"}}}})
	s := p.Spec
	switch {
	case p.Namespace != "default":
		t.Errorf("namespace %q", p.Namespace)
	case s.RestartPolicy != v1.RestartPolicyAlways:
		t.Errorf("restartPolicy %q", s.RestartPolicy)
	case s.TerminationGracePeriodSeconds == nil || *s.TerminationGracePeriodSeconds != 30:
		t.Errorf("terminationGracePeriodSeconds %v", s.TerminationGracePeriodSeconds)
	case s.DNSPolicy != v1.DNSClusterFirst:
		t.Errorf("dnsPolicy %q", s.DNSPolicy)
	case s.SchedulerName != v1.DefaultSchedulerName:
		t.Errorf("schedulerName %q", s.SchedulerName)
	case s.SecurityContext == nil || !equality.Semantic.DeepEqual(*s.SecurityContext, v1.PodSecurityContext{}):
		t.Errorf("securityContext %+v", s.SecurityContext)
	case s.Priority != nil:
		t.Errorf("priority %d without a priority class", *s.Priority)
	}
	c := s.Containers[0]
	if c.TerminationMessagePath != "/dev/termination-log" || c.TerminationMessagePolicy != v1.TerminationMessageReadFile || c.ImagePullPolicy != v1.PullAlways {
		t.Errorf("container defaults: %q %q %q", c.TerminationMessagePath, c.TerminationMessagePolicy, c.ImagePullPolicy)
	}
}

// TestSetDefaultsKeepsWhatIsSet: every default fills only an unset field.
func TestSetDefaultsKeepsWhatIsSet(t *testing.T) {
	sc := &v1.PodSecurityContext{RunAsUser: ptrTo(int64(1000))}
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system"},
		Spec: v1.PodSpec{
			RestartPolicy:                 v1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptrTo(int64(0)),
			DNSPolicy:                     v1.DNSDefault,
			SchedulerName:                 "mine",
			SecurityContext:               sc,
			PriorityClassName:             "system-node-critical",
			Priority:                      ptrTo(int32(7)),
			Containers: []v1.Container{{
				Name: "c", Image: "busybox", ImagePullPolicy: v1.PullNever,
				TerminationMessagePath: "/tmp/msg", TerminationMessagePolicy: v1.TerminationMessageFallbackToLogsOnError,
				Ports: []v1.ContainerPort{{ContainerPort: 53, Protocol: v1.ProtocolUDP}},
			}},
		},
	}
	if got := defaulted(pod); !equality.Semantic.DeepEqual(got, pod) {
		t.Errorf("SetDefaults changed set fields:\n got  %+v\n want %+v", got.Spec, pod.Spec)
	}
}

func TestSetDefaultsPriority(t *testing.T) {
	cases := map[string]*int32{
		"system-node-critical":    ptrTo(PrioritySystemNodeCritical),
		"system-cluster-critical": ptrTo(PrioritySystemClusterCritical),
		"":                        nil,
		"high-priority":           nil, // no apiserver to resolve it
	}
	for class, want := range cases {
		p := defaulted(&v1.Pod{Spec: v1.PodSpec{PriorityClassName: class}})
		if (p.Spec.Priority == nil) != (want == nil) || (want != nil && *p.Spec.Priority != *want) {
			t.Errorf("class %q: priority %v, want %v", class, p.Spec.Priority, want)
		}
	}
	if PrioritySystemNodeCritical != 2000001000 || PrioritySystemClusterCritical != 2000000000 {
		t.Error("the built-in priority classes' values are the apiserver's")
	}
}

func TestSetDefaultsHostPorts(t *testing.T) {
	ports := func() []v1.ContainerPort {
		return []v1.ContainerPort{{ContainerPort: 2379}, {ContainerPort: 2380, HostPort: 12380}, {ContainerPort: 53, Protocol: v1.ProtocolUDP}}
	}
	pod := &v1.Pod{Spec: v1.PodSpec{
		InitContainers: []v1.Container{{Name: "i", Image: "busybox:1", Ports: ports()}},
		Containers:     []v1.Container{{Name: "c", Image: "busybox:1", Ports: ports()}},
	}}
	for _, hostNetwork := range []bool{false, true} {
		pod.Spec.HostNetwork = hostNetwork
		p := defaulted(pod)
		for _, cs := range [][]v1.Container{p.Spec.InitContainers, p.Spec.Containers} {
			got := cs[0].Ports
			wantHost := []int32{0, 12380, 0}
			if hostNetwork {
				wantHost = []int32{2379, 12380, 53} // hostNetwork: the host port is the container port
			}
			for i, port := range got {
				if port.HostPort != wantHost[i] {
					t.Errorf("hostNetwork %v, %s port %d: hostPort %d, want %d", hostNetwork, cs[0].Name, i, port.HostPort, wantHost[i])
				}
			}
			if got[0].Protocol != v1.ProtocolTCP || got[2].Protocol != v1.ProtocolUDP {
				t.Errorf("protocols %q %q, want TCP (default) and UDP (set)", got[0].Protocol, got[2].Protocol)
			}
		}
	}
}

func TestSetDefaultsProbes(t *testing.T) {
	pod := &v1.Pod{Spec: v1.PodSpec{Containers: []v1.Container{{
		Name: "c", Image: "busybox:1",
		LivenessProbe: &v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Port: intstr.FromInt32(80)}}},
		ReadinessProbe: &v1.Probe{ProbeHandler: v1.ProbeHandler{GRPC: &v1.GRPCAction{Port: 9090}},
			TimeoutSeconds: 5, PeriodSeconds: 7, SuccessThreshold: 2, FailureThreshold: 9},
		StartupProbe: &v1.Probe{ProbeHandler: v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(80)}}},
		Lifecycle: &v1.Lifecycle{
			PostStart: &v1.LifecycleHandler{HTTPGet: &v1.HTTPGetAction{Port: intstr.FromInt32(80), Path: "/start", Scheme: v1.URISchemeHTTPS}},
			PreStop:   &v1.LifecycleHandler{HTTPGet: &v1.HTTPGetAction{Port: intstr.FromInt32(80)}},
		},
	}}}}
	c := defaulted(pod).Spec.Containers[0]

	l := c.LivenessProbe
	if l.TimeoutSeconds != 1 || l.PeriodSeconds != 10 || l.SuccessThreshold != 1 || l.FailureThreshold != 3 {
		t.Errorf("liveness probe timings %d %d %d %d, want 1 10 1 3", l.TimeoutSeconds, l.PeriodSeconds, l.SuccessThreshold, l.FailureThreshold)
	}
	if l.HTTPGet.Path != "/" || l.HTTPGet.Scheme != v1.URISchemeHTTP {
		t.Errorf("liveness httpGet path %q scheme %q", l.HTTPGet.Path, l.HTTPGet.Scheme)
	}
	r := c.ReadinessProbe
	if r.TimeoutSeconds != 5 || r.PeriodSeconds != 7 || r.SuccessThreshold != 2 || r.FailureThreshold != 9 {
		t.Errorf("readiness probe: set timings were changed: %+v", r)
	}
	if r.GRPC.Service == nil || *r.GRPC.Service != "" {
		t.Errorf("grpc service %v, want the empty string", r.GRPC.Service)
	}
	if s := c.StartupProbe; s.PeriodSeconds != 10 || s.FailureThreshold != 3 {
		t.Errorf("startup probe %+v", s)
	}
	if h := c.Lifecycle.PostStart.HTTPGet; h.Path != "/start" || h.Scheme != v1.URISchemeHTTPS {
		t.Errorf("postStart httpGet changed: %+v", h)
	}
	if h := c.Lifecycle.PreStop.HTTPGet; h.Path != "/" || h.Scheme != v1.URISchemeHTTP {
		t.Errorf("preStop httpGet %+v", h)
	}
}

func TestSetDefaultsLimitsToRequests(t *testing.T) {
	q := resource.MustParse
	pod := &v1.Pod{Spec: v1.PodSpec{
		InitContainers: []v1.Container{{Name: "i", Image: "busybox:1", Resources: v1.ResourceRequirements{
			Limits: v1.ResourceList{v1.ResourceMemory: q("64Mi")}}}},
		Containers: []v1.Container{{Name: "c", Image: "busybox:1", Resources: v1.ResourceRequirements{
			Limits:   v1.ResourceList{v1.ResourceCPU: q("500m"), v1.ResourceMemory: q("128Mi")},
			Requests: v1.ResourceList{v1.ResourceCPU: q("100m")},
		}}},
	}}
	p := defaulted(pod)
	init := p.Spec.InitContainers[0].Resources.Requests
	if got := init[v1.ResourceMemory]; got.Cmp(q("64Mi")) != 0 || len(init) != 1 {
		t.Errorf("init container requests %v, want memory 64Mi from its limit", init)
	}
	req := p.Spec.Containers[0].Resources.Requests
	cpu, mem := req[v1.ResourceCPU], req[v1.ResourceMemory]
	if cpu.Cmp(q("100m")) != 0 || mem.Cmp(q("128Mi")) != 0 {
		t.Errorf("requests %v: want the set cpu 100m and memory 128Mi from the limit", req)
	}
	// The request is a copy: changing it leaves the limit alone.
	mem.Add(q("1Mi"))
	req[v1.ResourceMemory] = mem
	if lim := p.Spec.Containers[0].Resources.Limits[v1.ResourceMemory]; lim.Cmp(q("128Mi")) != 0 {
		t.Errorf("the limit changed with the request: %v", lim.String())
	}
	// No limits: no requests appear.
	if p := defaulted(&v1.Pod{Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "b:1"}}}}); p.Spec.Containers[0].Resources.Requests != nil {
		t.Errorf("requests %v without limits", p.Spec.Containers[0].Resources.Requests)
	}
}

func TestSetDefaultsVolumesAndFieldRefs(t *testing.T) {
	pod := &v1.Pod{Spec: v1.PodSpec{
		Volumes: []v1.Volume{
			{Name: "none"},
			{Name: "host", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/x"}}},
			{Name: "info", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
		},
		Containers: []v1.Container{{Name: "c", Image: "b:1", Env: []v1.EnvVar{
			{Name: "POD", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "PLAIN", Value: "x"},
		}}},
	}}
	p := defaulted(pod)
	v := p.Spec.Volumes
	if v[0].EmptyDir == nil {
		t.Error("a volume with no source is not an emptyDir")
	}
	if v[1].EmptyDir != nil || v[1].HostPath.Type == nil || *v[1].HostPath.Type != v1.HostPathUnset {
		t.Errorf("hostPath volume %+v", v[1].VolumeSource)
	}
	d := v[2].DownwardAPI
	if d.DefaultMode == nil || *d.DefaultMode != 0o644 || d.Items[0].FieldRef.APIVersion != "v1" {
		t.Errorf("downwardAPI volume: mode %v, fieldRef apiVersion %q", d.DefaultMode, d.Items[0].FieldRef.APIVersion)
	}
	if got := p.Spec.Containers[0].Env[0].ValueFrom.FieldRef.APIVersion; got != "v1" {
		t.Errorf("env fieldRef apiVersion %q", got)
	}
}

// TestSetDefaultsIdempotent: defaulting a defaulted pod changes nothing,
// so Load and any later caller agree.
func TestSetDefaultsIdempotent(t *testing.T) {
	for _, fixture := range fixtures(t, "valid") {
		pods, _ := loadFixture(t, fixture)
		for _, p := range pods {
			if again := defaulted(p); !equality.Semantic.DeepEqual(again, p) {
				t.Errorf("%s: defaulting %s twice changes it", fixture, p.Name)
			}
		}
	}
}

// TestSetDefaultsNegativeGrace: a negative terminationGracePeriodSeconds
// becomes 1, as the apiserver's defaults make it (and the kubelet's decoder
// applies them), rather than being refused.
func TestSetDefaultsNegativeGrace(t *testing.T) {
	pod := &v1.Pod{Spec: v1.PodSpec{TerminationGracePeriodSeconds: ptrTo(int64(-5))}}
	SetDefaults(pod)
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || *g != 1 {
		t.Fatalf("grace period %v, want 1", g)
	}
}
