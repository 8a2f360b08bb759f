package manifest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validPod is the baseline every case mutates: a defaulted static pod that
// uses most of what Validate checks, and that Validate accepts.
func validPod() *v1.Pod {
	always := v1.ContainerRestartPolicyAlways
	dirOrCreate := v1.HostPathDirectoryOrCreate
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "etcd-node1",
			Namespace:   "kube-system",
			Labels:      map[string]string{"component": "etcd", "tier": "control-plane"},
			Annotations: map[string]string{"example.com/owner": "platform team"},
		},
		Spec: v1.PodSpec{
			RestartPolicy:                 v1.RestartPolicyAlways,
			DNSPolicy:                     v1.DNSClusterFirst,
			TerminationGracePeriodSeconds: ptrTo(int64(30)),
			PriorityClassName:             "system-node-critical",
			Priority:                      ptrTo(int32(2000001000)),
			SecurityContext:               &v1.PodSecurityContext{RunAsUser: ptrTo(int64(0)), FSGroup: ptrTo(int64(1000))},
			HostAliases:                   []v1.HostAlias{{IP: "127.0.0.1", Hostnames: []string{"etcd.local"}}},
			Volumes: []v1.Volume{
				{Name: "data", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/var/lib/etcd", Type: &dirOrCreate}}},
				{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory}}},
				{Name: "podinfo", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
					{Path: "labels", FieldRef: &v1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels"}},
					{Path: "cpu", ResourceFieldRef: &v1.ResourceFieldSelector{ContainerName: "sidecar", Resource: "limits.cpu"}},
				}}}},
			},
			InitContainers: []v1.Container{
				{
					Name: "init", Image: "busybox:1.36", Command: []string{"true"},
					ImagePullPolicy: v1.PullIfNotPresent, TerminationMessagePolicy: v1.TerminationMessageReadFile,
					Ports: []v1.ContainerPort{{ContainerPort: 2381, HostPort: 2381, Protocol: v1.ProtocolTCP}},
				},
				{
					Name: "sidecar", Image: "busybox:1.36", RestartPolicy: &always,
					ImagePullPolicy: v1.PullIfNotPresent, TerminationMessagePolicy: v1.TerminationMessageFallbackToLogsOnError,
					ReadinessProbe: &v1.Probe{
						ProbeHandler:   v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"true"}}},
						TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 2, FailureThreshold: 3,
					},
				},
			},
			Containers: []v1.Container{
				{
					Name: "etcd", Image: "registry.k8s.io/etcd:3.5.9-0",
					ImagePullPolicy: v1.PullIfNotPresent, TerminationMessagePolicy: v1.TerminationMessageReadFile,
					Ports: []v1.ContainerPort{
						{Name: "client", ContainerPort: 2379, Protocol: v1.ProtocolTCP},
						{Name: "metrics", ContainerPort: 2381, HostPort: 2381, Protocol: v1.ProtocolTCP},
					},
					Env: []v1.EnvVar{
						{Name: "NODE_NAME", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}}},
						{Name: "ETCD_NAME", Value: "node1"},
					},
					VolumeMounts: []v1.VolumeMount{
						{Name: "data", MountPath: "/var/lib/etcd"},
						{Name: "scratch", MountPath: "/tmp"},
						{Name: "podinfo", MountPath: "/etc/podinfo", ReadOnly: true},
					},
					Resources: v1.ResourceRequirements{
						Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m"), v1.ResourceMemory: resource.MustParse("100Mi")},
						Limits:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("1"), v1.ResourceMemory: resource.MustParse("1Gi")},
					},
					LivenessProbe: &v1.Probe{
						ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{
							Path: "/health", Port: intstr.FromString("metrics"), Scheme: v1.URISchemeHTTP,
							HTTPHeaders: []v1.HTTPHeader{{Name: "X-Probe", Value: "1"}},
						}},
						InitialDelaySeconds: 10, TimeoutSeconds: 15, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 8,
					},
					StartupProbe: &v1.Probe{
						ProbeHandler:   v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(2379)}},
						TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 24,
					},
					Lifecycle: &v1.Lifecycle{PreStop: &v1.LifecycleHandler{Sleep: &v1.SleepAction{Seconds: 5}}},
				},
				{
					Name: "web", Image: "busybox:1.36", Command: []string{"httpd", "-f"},
					ImagePullPolicy: v1.PullIfNotPresent, TerminationMessagePolicy: v1.TerminationMessageReadFile,
					Ports: []v1.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: v1.ProtocolTCP}},
				},
			},
		},
	}
}

func ptrTo[T any](v T) *T { return &v }

// want is one expected error: its type and field path.
type wantErr struct {
	typ   field.ErrorType
	field string
}

func (w wantErr) String() string { return fmt.Sprintf("%s %s", w.typ, w.field) }

func errRequired(f string) wantErr     { return wantErr{field.ErrorTypeRequired, f} }
func errInvalid(f string) wantErr      { return wantErr{field.ErrorTypeInvalid, f} }
func errUnsupported(f string) wantErr  { return wantErr{field.ErrorTypeNotSupported, f} }
func errDuplicate(f string) wantErr    { return wantErr{field.ErrorTypeDuplicate, f} }
func errForbidden(f string) wantErr    { return wantErr{field.ErrorTypeForbidden, f} }
func errNotFound(f string) wantErr     { return wantErr{field.ErrorTypeNotFound, f} }
func errTooMany(f string) wantErr      { return wantErr{field.ErrorTypeTooMany, f} }
func noErrors() []wantErr              { return nil }
func wantErrs(ws ...wantErr) []wantErr { return ws }
func c0(s string) string               { return "spec.containers[0]." + s }

// validateCase is one mutation of validPod and the exact errors it causes.
type validateCase struct {
	name   string
	mutate func(p *v1.Pod)
	want   []wantErr
}

// runValidateCases validates each mutated baseline and compares the errors,
// in any order, with the expected ones. It also checks that every error says
// what is allowed (has a detail) and that Validate leaves the pod alone.
func runValidateCases(t *testing.T, cases []validateCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := validPod()
			tc.mutate(pod)
			before := pod.DeepCopy()
			got := Validate(pod)
			if !equality.Semantic.DeepEqual(before, pod) {
				t.Errorf("Validate modified the pod")
			}
			checkValidateErrors(t, got, tc.want)
		})
	}
}

func checkValidateErrors(t *testing.T, got field.ErrorList, wanted []wantErr) {
	t.Helper()
	var gotW []string
	for _, e := range got {
		gotW = append(gotW, wantErr{e.Type, e.Field}.String())
		if e.Detail == "" {
			t.Errorf("error without a detail saying what is allowed: %v", e)
		}
	}
	var wantW []string
	for _, w := range wanted {
		wantW = append(wantW, w.String())
	}
	slices.Sort(gotW)
	slices.Sort(wantW)
	if !slices.Equal(gotW, wantW) {
		t.Errorf("errors:\n got  %q\n want %q\nall: %v", gotW, wantW, got)
	}
}

func TestValidateBaseline(t *testing.T) {
	if errs := Validate(validPod()); len(errs) != 0 {
		t.Fatalf("baseline pod has errors: %v", errs)
	}
}

func TestValidateMetadataAndSpec(t *testing.T) {
	runValidateCases(t, []validateCase{
		{"name missing", func(p *v1.Pod) { p.Name = "" }, wantErrs(errRequired("metadata.name"))},
		{"name not a subdomain", func(p *v1.Pod) { p.Name = "Etcd_node1" }, wantErrs(errInvalid("metadata.name"))},
		{"name with dots is a subdomain", func(p *v1.Pod) { p.Name = "etcd.node1" }, noErrors()},
		{"namespace with dots", func(p *v1.Pod) { p.Namespace = "kube.system" }, wantErrs(errInvalid("metadata.namespace"))},
		{"namespace empty is left to defaults", func(p *v1.Pod) { p.Namespace = "" }, noErrors()},
		{"label key", func(p *v1.Pod) { p.Labels["bad key"] = "x" }, wantErrs(errInvalid("metadata.labels"))},
		{"label value", func(p *v1.Pod) { p.Labels["component"] = "-etcd" }, wantErrs(errInvalid("metadata.labels[component]"))},
		{"annotation key", func(p *v1.Pod) { p.Annotations["bad key"] = "x" }, wantErrs(errInvalid("metadata.annotations"))},
		{"annotation key upper case is fine", func(p *v1.Pod) { p.Annotations["Example.com/Owner"] = "x" }, noErrors()},
		{"annotations too large", func(p *v1.Pod) { p.Annotations["big"] = strings.Repeat("x", 256*1024) },
			wantErrs(wantErr{field.ErrorTypeTooLong, "metadata.annotations"})},

		{"restartPolicy", func(p *v1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, wantErrs(errUnsupported("spec.restartPolicy"))},
		{"restartPolicy unset", func(p *v1.Pod) { p.Spec.RestartPolicy = "" }, wantErrs(errUnsupported("spec.restartPolicy"))},
		{"activeDeadlineSeconds zero", func(p *v1.Pod) { p.Spec.ActiveDeadlineSeconds = ptrTo(int64(0)) }, wantErrs(errInvalid("spec.activeDeadlineSeconds"))},
		{"activeDeadlineSeconds positive", func(p *v1.Pod) { p.Spec.ActiveDeadlineSeconds = ptrTo(int64(60)) }, noErrors()},
		{"terminationGracePeriodSeconds zero", func(p *v1.Pod) {
			p.Spec.TerminationGracePeriodSeconds = ptrTo(int64(0))
			p.Spec.Containers[0].Lifecycle = nil
		}, noErrors()},
		{"hostname", func(p *v1.Pod) { p.Spec.Hostname = "my.host" }, wantErrs(errInvalid("spec.hostname"))},
		{"subdomain", func(p *v1.Pod) { p.Spec.Subdomain = "Sub" }, wantErrs(errInvalid("spec.subdomain"))},
		{"hostAlias ip", func(p *v1.Pod) { p.Spec.HostAliases[0].IP = "localhost" }, wantErrs(errInvalid("spec.hostAliases[0].ip"))},
		{"hostAlias hostnames missing", func(p *v1.Pod) { p.Spec.HostAliases[0].Hostnames = nil }, wantErrs(errRequired("spec.hostAliases[0].hostnames"))},
		{"hostAlias hostname", func(p *v1.Pod) { p.Spec.HostAliases[0].Hostnames = []string{"ok.local", "Bad_Host"} },
			wantErrs(errInvalid("spec.hostAliases[0].hostnames[1]"))},

		{"dnsPolicy", func(p *v1.Pod) { p.Spec.DNSPolicy = "Google" }, wantErrs(errUnsupported("spec.dnsPolicy"))},
		{"dnsPolicy None without dnsConfig", func(p *v1.Pod) { p.Spec.DNSPolicy = v1.DNSNone }, wantErrs(errRequired("spec.dnsConfig"))},
		{"dnsPolicy None without nameservers", func(p *v1.Pod) {
			p.Spec.DNSPolicy = v1.DNSNone
			p.Spec.DNSConfig = &v1.PodDNSConfig{Searches: []string{"example.com"}}
		}, wantErrs(errRequired("spec.dnsConfig.nameservers"))},
		{"dnsPolicy None with a nameserver", func(p *v1.Pod) {
			p.Spec.DNSPolicy = v1.DNSNone
			p.Spec.DNSConfig = &v1.PodDNSConfig{Nameservers: []string{"10.0.0.10"}, Searches: []string{"example.com."},
				Options: []v1.PodDNSConfigOption{{Name: "ndots", Value: ptrTo("2")}}}
		}, noErrors()},
		{"too many nameservers", func(p *v1.Pod) {
			p.Spec.DNSConfig = &v1.PodDNSConfig{Nameservers: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}}
		}, wantErrs(errTooMany("spec.dnsConfig.nameservers"))},
		{"nameserver not an IP", func(p *v1.Pod) { p.Spec.DNSConfig = &v1.PodDNSConfig{Nameservers: []string{"dns.local"}} },
			wantErrs(errInvalid("spec.dnsConfig.nameservers[0]"))},
		{"too many searches", func(p *v1.Pod) {
			p.Spec.DNSConfig = &v1.PodDNSConfig{}
			for i := range 33 {
				p.Spec.DNSConfig.Searches = append(p.Spec.DNSConfig.Searches, fmt.Sprintf("s%d.example.com", i))
			}
		}, wantErrs(errTooMany("spec.dnsConfig.searches"))},
		{"search not a subdomain", func(p *v1.Pod) { p.Spec.DNSConfig = &v1.PodDNSConfig{Searches: []string{"ok.com.", "Bad_Domain"}} },
			wantErrs(errInvalid("spec.dnsConfig.searches[1]"))},
		{"dns option without a name", func(p *v1.Pod) {
			p.Spec.DNSConfig = &v1.PodDNSConfig{Options: []v1.PodDNSConfigOption{{Value: ptrTo("2")}}}
		},
			wantErrs(errRequired("spec.dnsConfig.options[0].name"))},

		{"pod runAsUser negative", func(p *v1.Pod) { p.Spec.SecurityContext.RunAsUser = ptrTo(int64(-1)) }, wantErrs(errInvalid("spec.securityContext.runAsUser"))},
		{"pod runAsGroup negative", func(p *v1.Pod) { p.Spec.SecurityContext.RunAsGroup = ptrTo(int64(-1)) }, wantErrs(errInvalid("spec.securityContext.runAsGroup"))},
		{"pod fsGroup negative", func(p *v1.Pod) { p.Spec.SecurityContext.FSGroup = ptrTo(int64(-5)) }, wantErrs(errInvalid("spec.securityContext.fsGroup"))},
		{"container runAsUser negative", func(p *v1.Pod) {
			p.Spec.Containers[0].SecurityContext = &v1.SecurityContext{RunAsUser: ptrTo(int64(-1))}
		}, wantErrs(errInvalid(c0("securityContext.runAsUser")))},
		{"privileged without escalation", func(p *v1.Pod) {
			p.Spec.Containers[0].SecurityContext = &v1.SecurityContext{Privileged: ptrTo(true), AllowPrivilegeEscalation: ptrTo(false)}
		}, wantErrs(errInvalid(c0("securityContext.allowPrivilegeEscalation")))},

		{"priority does not match its class", func(p *v1.Pod) { p.Spec.Priority = ptrTo(int32(5)) }, wantErrs(errInvalid("spec.priority"))},
		{"cluster-critical priority", func(p *v1.Pod) {
			p.Spec.PriorityClassName = "system-cluster-critical"
			p.Spec.Priority = ptrTo(int32(2000000000))
		}, noErrors()},
		{"priority of an unknown class is not checked", func(p *v1.Pod) {
			p.Spec.PriorityClassName = "high"
			p.Spec.Priority = ptrTo(int32(5))
		}, noErrors()},
		{"priorityClassName not a subdomain", func(p *v1.Pod) { p.Spec.PriorityClassName = "High_Priority" }, wantErrs(errInvalid("spec.priorityClassName"))},
	})
}

func TestValidateStaticPodLimits(t *testing.T) {
	runValidateCases(t, []validateCase{
		{"serviceAccountName", func(p *v1.Pod) { p.Spec.ServiceAccountName = "etcd" }, wantErrs(errForbidden("spec.serviceAccountName"))},
		{"serviceAccount", func(p *v1.Pod) { p.Spec.DeprecatedServiceAccount = "etcd" }, wantErrs(errForbidden("spec.serviceAccount"))},
		{"imagePullSecrets", func(p *v1.Pod) { p.Spec.ImagePullSecrets = []v1.LocalObjectReference{{Name: "regcred"}} },
			wantErrs(errForbidden("spec.imagePullSecrets"))},
		{"ephemeralContainers", func(p *v1.Pod) {
			p.Spec.EphemeralContainers = []v1.EphemeralContainer{{EphemeralContainerCommon: v1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}}
		}, wantErrs(errForbidden("spec.ephemeralContainers"))},
		{"resourceClaims", func(p *v1.Pod) { p.Spec.ResourceClaims = []v1.PodResourceClaim{{Name: "gpu"}} }, wantErrs(errForbidden("spec.resourceClaims"))},
		{"secret volume", func(p *v1.Pod) {
			p.Spec.Volumes[1].VolumeSource = v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "tls"}}
		},
			wantErrs(errForbidden("spec.volumes[1].secret"))},
		{"configMap volume", func(p *v1.Pod) {
			p.Spec.Volumes[1].VolumeSource = v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}}}
		}, wantErrs(errForbidden("spec.volumes[1].configMap"))},
		{"persistentVolumeClaim volume", func(p *v1.Pod) {
			p.Spec.Volumes[1].VolumeSource = v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}
		}, wantErrs(errForbidden("spec.volumes[1].persistentVolumeClaim"))},
		{"ephemeral volume", func(p *v1.Pod) {
			p.Spec.Volumes[1].VolumeSource = v1.VolumeSource{Ephemeral: &v1.EphemeralVolumeSource{}}
		},
			wantErrs(errForbidden("spec.volumes[1].ephemeral"))},
		{"csi volume", func(p *v1.Pod) {
			p.Spec.Volumes[1].VolumeSource = v1.VolumeSource{CSI: &v1.CSIVolumeSource{Driver: "csi.example.com"}}
		},
			wantErrs(errForbidden("spec.volumes[1].csi"))},
		{"projected API sources", func(p *v1.Pod) {
			p.Spec.Volumes[1].VolumeSource = v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{
				{ServiceAccountToken: &v1.ServiceAccountTokenProjection{Path: "token"}},
				{Secret: &v1.SecretProjection{LocalObjectReference: v1.LocalObjectReference{Name: "tls"}}},
				{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}}},
				{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}},
			}}}
		}, wantErrs(
			errForbidden("spec.volumes[1].projected.sources[0].serviceAccountToken"),
			errForbidden("spec.volumes[1].projected.sources[1].secret"),
			errForbidden("spec.volumes[1].projected.sources[2].configMap"),
		)},
		{"projected downwardAPI only", func(p *v1.Pod) {
			p.Spec.Volumes[1].VolumeSource = v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{
				{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}},
			}}}
		}, noErrors()},
		{"projected source with two kinds", func(p *v1.Pod) {
			p.Spec.Volumes[1].VolumeSource = v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{{
				DownwardAPI: &v1.DownwardAPIProjection{},
				Secret:      &v1.SecretProjection{},
			}}}}
		}, wantErrs(errForbidden("spec.volumes[1].projected.sources[0].secret"), errForbidden("spec.volumes[1].projected.sources[0]"))},
		{"projected duplicate paths", func(p *v1.Pod) {
			item := v1.DownwardAPIVolumeFile{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}
			p.Spec.Volumes[1].VolumeSource = v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{
				{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{item}}},
				{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{item}}},
			}}}
		}, wantErrs(errDuplicate("spec.volumes[1].projected.sources[1].downwardAPI.items[0].path"))},
		{"configMapKeyRef", func(p *v1.Pod) {
			p.Spec.Containers[0].Env[0].ValueFrom = &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{Key: "k"}}
		}, wantErrs(errForbidden(c0("env[0].valueFrom.configMapKeyRef")))},
		{"secretKeyRef", func(p *v1.Pod) {
			p.Spec.Containers[0].Env[0].ValueFrom = &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{Key: "k"}}
		}, wantErrs(errForbidden(c0("env[0].valueFrom.secretKeyRef")))},
		{"envFrom", func(p *v1.Pod) {
			p.Spec.Containers[0].EnvFrom = []v1.EnvFromSource{{ConfigMapRef: &v1.ConfigMapEnvSource{}}, {SecretRef: &v1.SecretEnvSource{}}}
		}, wantErrs(errForbidden(c0("envFrom")))},
		{"resource claims", func(p *v1.Pod) { p.Spec.Containers[0].Resources.Claims = []v1.ResourceClaim{{Name: "gpu"}} },
			wantErrs(errForbidden(c0("resources.claims")))},
		{"volumeDevices", func(p *v1.Pod) {
			p.Spec.Containers[0].VolumeDevices = []v1.VolumeDevice{{Name: "data", DevicePath: "/dev/xvda"}}
		}, wantErrs(errForbidden(c0("volumeDevices")))},
	})
}

// TestValidateStaticPodMessages checks that each API reference is rejected
// with the reason and a way out, not only with a path.
func TestValidateStaticPodMessages(t *testing.T) {
	pod := validPod()
	pod.Spec.ServiceAccountName = "etcd"
	pod.Spec.ImagePullSecrets = []v1.LocalObjectReference{{Name: "regcred"}}
	pod.Spec.Volumes[1].VolumeSource = v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "tls"}}
	pod.Spec.Containers[0].Env[0].ValueFrom = &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{Key: "k"}}
	pod.Spec.Containers[0].EnvFrom = []v1.EnvFromSource{{SecretRef: &v1.SecretEnvSource{}}}
	insteads := map[string]string{
		"spec.serviceAccountName":                          "hostPath",
		"spec.imagePullSecrets":                            "docker login",
		"spec.volumes[1].secret":                           "hostPath",
		"spec.containers[0].env[0].valueFrom.secretKeyRef": "value",
		"spec.containers[0].envFrom":                       "env",
	}
	got := Validate(pod)
	if len(got) != len(insteads) {
		t.Fatalf("got %d errors, want %d: %v", len(got), len(insteads), got)
	}
	for _, e := range got {
		if !strings.Contains(e.Detail, "static pods cannot reference API objects (there is no apiserver)") {
			t.Errorf("%s: detail does not give the reason: %q", e.Field, e.Detail)
		}
		if instead, ok := insteads[e.Field]; !ok || !strings.Contains(e.Detail, instead) {
			t.Errorf("%s: detail does not say to use %q instead: %q", e.Field, instead, e.Detail)
		}
	}
}

// TestValidateReportsAll checks that one pod with many problems gets all of
// them, across metadata, volumes, containers and the pod spec.
func TestValidateReportsAll(t *testing.T) {
	pod := validPod()
	pod.Name = ""
	pod.Spec.RestartPolicy = "Sometimes"
	pod.Spec.ServiceAccountName = "etcd"
	pod.Spec.Volumes[0].HostPath.Path = ""
	pod.Spec.Volumes[1].Name = "data"
	ctr := &pod.Spec.Containers[0]
	ctr.Image = ""
	ctr.Ports[0].ContainerPort = 0
	ctr.Env[1].Name = "BAD=NAME"
	ctr.VolumeMounts[0].MountPath = ""
	ctr.LivenessProbe.PeriodSeconds = 0
	pod.Spec.Containers[1].Name = "etcd"

	checkValidateErrors(t, Validate(pod), wantErrs(
		errRequired("metadata.name"),
		errUnsupported("spec.restartPolicy"),
		errForbidden("spec.serviceAccountName"),
		errRequired("spec.volumes[0].hostPath.path"),
		errDuplicate("spec.volumes[1].name"),
		errNotFound(c0("volumeMounts[1].name")), // scratch is gone
		errRequired(c0("image")),
		errRequired(c0("ports[0].containerPort")),
		errInvalid(c0("env[1].name")),
		errRequired(c0("volumeMounts[0].mountPath")),
		errInvalid(c0("livenessProbe.periodSeconds")),
		errDuplicate("spec.containers[1].name"),
	))
}

// TestValidateErrorText pins the text users see for a few errors: the path,
// what is wrong and what is allowed.
func TestValidateErrorText(t *testing.T) {
	pod := validPod()
	pod.Spec.Containers[0].Name = "Etcd"
	pod.Spec.Containers[0].ImagePullPolicy = "Sometimes"
	pod.Spec.Containers[0].VolumeMounts[0].Name = "nope"
	got := Validate(pod)
	var texts []string
	for _, e := range got {
		texts = append(texts, e.Error())
	}
	for _, wantText := range []string{
		`spec.containers[0].name: Invalid value: "Etcd": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'`,
		`spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"`,
		`spec.containers[0].volumeMounts[0].name: Not found: "nope": must be the name of a volume in spec.volumes: "data", "podinfo", "scratch"`,
	} {
		if !slices.ContainsFunc(texts, func(s string) bool { return strings.HasPrefix(s, wantText) }) {
			t.Errorf("no error starts with\n  %s\ngot:\n  %s", wantText, strings.Join(texts, "\n  "))
		}
	}
}

// TestValidateEmptyPod checks the smallest input: nothing set.
func TestValidateEmptyPod(t *testing.T) {
	checkValidateErrors(t, Validate(&v1.Pod{}), wantErrs(
		errRequired("metadata.name"),
		errRequired("spec.containers"),
		errUnsupported("spec.restartPolicy"),
		errUnsupported("spec.dnsPolicy"),
	))
}

// TestValidateZeroValues feeds every optional struct empty, as a decoder
// produces for `probe: {}` and the like, and checks each is reported (and
// nothing panics).
func TestValidateZeroValues(t *testing.T) {
	pod := validPod()
	pod.Spec.DNSConfig = &v1.PodDNSConfig{}
	pod.Spec.HostAliases = []v1.HostAlias{{}}
	pod.Spec.Volumes = append(pod.Spec.Volumes,
		v1.Volume{Name: "hp", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{}}},
		v1.Volume{Name: "dapi", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{{}}}}},
		v1.Volume{Name: "proj", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{{}}}}},
		v1.Volume{Name: "ed", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
	)
	ctr := &pod.Spec.Containers[1]
	ctr.Ports = append(ctr.Ports, v1.ContainerPort{Protocol: v1.ProtocolTCP})
	ctr.Env = []v1.EnvVar{{Name: "A", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{}}}, {Name: "B", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{}}}}
	ctr.VolumeMounts = []v1.VolumeMount{{}}
	ctr.LivenessProbe = &v1.Probe{TimeoutSeconds: 1, PeriodSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
	ctr.ReadinessProbe = &v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{}}, TimeoutSeconds: 1, PeriodSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
	ctr.Lifecycle = &v1.Lifecycle{PostStart: &v1.LifecycleHandler{}, PreStop: &v1.LifecycleHandler{TCPSocket: &v1.TCPSocketAction{}}}
	ctr.SecurityContext = &v1.SecurityContext{}

	const web = "spec.containers[1]."
	checkValidateErrors(t, Validate(pod), wantErrs(
		errRequired("spec.hostAliases[0].ip"),
		errRequired("spec.hostAliases[0].hostnames"),
		errRequired("spec.volumes[3].hostPath.path"),
		errRequired("spec.volumes[4].downwardAPI.items[0].path"),
		errRequired("spec.volumes[4].downwardAPI.items[0]"),
		errRequired("spec.volumes[5].projected.sources[0]"),
		errRequired(web+"ports[1].containerPort"),
		errRequired(web+"env[0].valueFrom.fieldRef.fieldPath"),
		errRequired(web+"env[1].valueFrom.resourceFieldRef.resource"),
		errRequired(web+"volumeMounts[0].name"),
		errRequired(web+"volumeMounts[0].mountPath"),
		errRequired(web+"livenessProbe"),
		errInvalid(web+"readinessProbe.httpGet.port"),
		errRequired(web+"lifecycle.postStart"),
		errInvalid(web+"lifecycle.preStop.tcpSocket"),
	))
}

// TestValidatePinnedUID is the exploit test of a pinned UID: it becomes
// <root-dir>/pods/<uid>, so anything but a single safe path component must
// be refused, with the rule in the message.
func TestValidatePinnedUID(t *testing.T) {
	for _, uid := range []string{
		"..", ".", "/", "a/b", "../../etc", "/etc/passwd", "a\x00b", "a\nb", "tab\there", "x\x7f",
		".hidden", "-leading-dash", "under_score", "space in it", "é", strings.Repeat("a", 129), "a\\b",
	} {
		pod := validPod()
		pod.UID = types.UID(uid)
		errs := Validate(pod)
		if len(errs) != 1 || errs[0].Field != "metadata.uid" || !strings.Contains(errs[0].Detail, "stricter than the kubelet") ||
			!strings.Contains(errs[0].Detail, "letters, digits, '-' or '.'") {
			t.Errorf("uid %q: got %v, want one metadata.uid error that says what is allowed", uid, errs)
		}
	}
	for _, uid := range []string{"0b8e1a6c-6d0e-4f52-9c43-3d3c2c5b9f01", "d41d8cd98f00b204e9800998ecf8427e", "a", "v1.2", strings.Repeat("a", 128)} {
		pod := validPod()
		pod.UID = types.UID(uid)
		if errs := Validate(pod); len(errs) != 0 {
			t.Errorf("uid %q: %v", uid, errs)
		}
	}
}

// TestLoadRefusesUnsafeUID loads a manifest that pins uid: ".." (a pod
// directory of <root-dir>/pods/..) and wants it refused at its line.
func TestLoadRefusesUnsafeUID(t *testing.T) {
	data := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  uid: '..'\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n"
	pods, problems := Load("m.yaml", []byte(data), goldenOptions)
	if len(pods) != 0 || len(problems) != 1 || problems[0].Line != 5 || problems[0].Field != "metadata.uid" {
		t.Fatalf("pods %v, problems %v; want one problem at m.yaml:5 metadata.uid", names(pods), problems)
	}
}
