package manifest

import (
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestValidateRefusedFields: every field runner does not implement is
// refused (Forbidden) at its path with a message that says what to do,
// never accepted and ignored. FIELDS.md lists them.
func TestValidateRefusedFields(t *testing.T) {
	sc := func(p *v1.Pod) *v1.SecurityContext {
		if p.Spec.Containers[0].SecurityContext == nil {
			p.Spec.Containers[0].SecurityContext = &v1.SecurityContext{}
		}
		return p.Spec.Containers[0].SecurityContext
	}
	vol := func(p *v1.Pod, src v1.VolumeSource) { p.Spec.Volumes[1].VolumeSource = src }
	cases := []validateCase{
		{"deletionTimestamp", func(p *v1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} }, wantErrs(errForbidden("metadata.deletionTimestamp"))},
		{"deletionGracePeriodSeconds", func(p *v1.Pod) { p.DeletionGracePeriodSeconds = ptrTo(int64(3)) }, wantErrs(errForbidden("metadata.deletionGracePeriodSeconds"))},
		{"finalizers", func(p *v1.Pod) { p.Finalizers = []string{"example.com/f"} }, wantErrs(errForbidden("metadata.finalizers"))},
		{"ownerReferences", func(p *v1.Pod) { p.OwnerReferences = []metav1.OwnerReference{{Name: "n"}} }, wantErrs(errForbidden("metadata.ownerReferences"))},
		{"managedFields", func(p *v1.Pod) { p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "m"}} }, wantErrs(errForbidden("metadata.managedFields"))},
		{"generateName", func(p *v1.Pod) { p.GenerateName = "etcd-" }, wantErrs(errForbidden("metadata.generateName"))},
		{"schedulingGates", func(p *v1.Pod) { p.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "g"}} }, wantErrs(errForbidden("spec.schedulingGates"))},
		{"affinity", func(p *v1.Pod) { p.Spec.Affinity = &v1.Affinity{} }, wantErrs(errForbidden("spec.affinity"))},
		{"topologySpreadConstraints", func(p *v1.Pod) { p.Spec.TopologySpreadConstraints = []v1.TopologySpreadConstraint{{}} }, wantErrs(errForbidden("spec.topologySpreadConstraints"))},
		{"schedulingGroup", func(p *v1.Pod) { p.Spec.SchedulingGroup = &v1.PodSchedulingGroup{} }, wantErrs(errForbidden("spec.schedulingGroup"))},
		{"evictionResponders", func(p *v1.Pod) { p.Spec.EvictionResponders = []v1.EvictionResponder{{}} }, wantErrs(errForbidden("spec.evictionResponders"))},
		{"readinessGates", func(p *v1.Pod) { p.Spec.ReadinessGates = []v1.PodReadinessGate{{ConditionType: "x"}} }, wantErrs(errForbidden("spec.readinessGates"))},
		{"runtimeClassName", func(p *v1.Pod) { p.Spec.RuntimeClassName = ptrTo("gvisor") }, wantErrs(errForbidden("spec.runtimeClassName"))},
		{"overhead", func(p *v1.Pod) { p.Spec.Overhead = v1.ResourceList{v1.ResourceCPU: resource.MustParse("1")} }, wantErrs(errForbidden("spec.overhead"))},
		{"pod resources", func(p *v1.Pod) { p.Spec.Resources = &v1.ResourceRequirements{} }, wantErrs(errForbidden("spec.resources"))},
		{"hostUsers false", func(p *v1.Pod) { p.Spec.HostUsers = ptrTo(false) }, wantErrs(errForbidden("spec.hostUsers"))},
		{"hostUsers true", func(p *v1.Pod) { p.Spec.HostUsers = ptrTo(true) }, noErrors()},
		{"setHostnameAsFQDN", func(p *v1.Pod) { p.Spec.SetHostnameAsFQDN = ptrTo(true) }, wantErrs(errForbidden("spec.setHostnameAsFQDN"))},
		{"setHostnameAsFQDN false", func(p *v1.Pod) { p.Spec.SetHostnameAsFQDN = ptrTo(false) }, noErrors()},
		{"hostnameOverride", func(p *v1.Pod) { p.Spec.HostnameOverride = ptrTo("h") }, wantErrs(errForbidden("spec.hostnameOverride"))},
		{"automountServiceAccountToken", func(p *v1.Pod) { p.Spec.AutomountServiceAccountToken = ptrTo(true) }, wantErrs(errForbidden("spec.automountServiceAccountToken"))},
		{"automountServiceAccountToken false", func(p *v1.Pod) { p.Spec.AutomountServiceAccountToken = ptrTo(false) }, noErrors()},
		{"windows", func(p *v1.Pod) { p.Spec.OS = &v1.PodOS{Name: v1.Windows} }, wantErrs(errForbidden("spec.os.name"))},
		{"pod windowsOptions", func(p *v1.Pod) { p.Spec.SecurityContext.WindowsOptions = &v1.WindowsSecurityContextOptions{} },
			wantErrs(errForbidden("spec.securityContext.windowsOptions"))},
		{"supplementalGroupsPolicy Strict", func(p *v1.Pod) {
			p.Spec.SecurityContext.SupplementalGroupsPolicy = ptrTo(v1.SupplementalGroupsPolicyStrict)
		},
			wantErrs(errForbidden("spec.securityContext.supplementalGroupsPolicy"))},
		{"pod seccomp Localhost", func(p *v1.Pod) {
			p.Spec.SecurityContext.SeccompProfile = &v1.SeccompProfile{Type: v1.SeccompProfileTypeLocalhost, LocalhostProfile: ptrTo("p.json")}
		}, wantErrs(errForbidden("spec.securityContext.seccompProfile.type"))},
		{"resizePolicy", func(p *v1.Pod) { p.Spec.Containers[0].ResizePolicy = []v1.ContainerResizePolicy{{ResourceName: "cpu"}} }, wantErrs(errForbidden(c0("resizePolicy")))},
		{"restartPolicyRules", func(p *v1.Pod) { p.Spec.Containers[0].RestartPolicyRules = []v1.ContainerRestartRule{{}} }, wantErrs(errForbidden(c0("restartPolicyRules")))},
		{"container restartPolicy", func(p *v1.Pod) { p.Spec.Containers[0].RestartPolicy = ptrTo(v1.ContainerRestartPolicyNever) }, wantErrs(errForbidden(c0("restartPolicy")))},
		{"procMount Unmasked", func(p *v1.Pod) { sc(p).ProcMount = ptrTo(v1.UnmaskedProcMount) }, wantErrs(errForbidden(c0("securityContext.procMount")))},
		{"container windowsOptions", func(p *v1.Pod) { sc(p).WindowsOptions = &v1.WindowsSecurityContextOptions{} }, wantErrs(errForbidden(c0("securityContext.windowsOptions")))},
		{"recursiveReadOnly Enabled", func(p *v1.Pod) {
			p.Spec.Containers[0].VolumeMounts[0].ReadOnly = true
			p.Spec.Containers[0].VolumeMounts[0].RecursiveReadOnly = ptrTo(v1.RecursiveReadOnlyEnabled)
		}, wantErrs(errForbidden(c0("volumeMounts[0].recursiveReadOnly")))},
		{"recursiveReadOnly IfPossible needs readOnly", func(p *v1.Pod) {
			p.Spec.Containers[0].VolumeMounts[0].RecursiveReadOnly = ptrTo(v1.RecursiveReadOnlyIfPossible)
		}, wantErrs(errForbidden(c0("volumeMounts[0].recursiveReadOnly")))},
		{"bindMountOptions", func(p *v1.Pod) { p.Spec.Containers[0].VolumeMounts[0].BindMountOptions = []string{"noexec"} },
			wantErrs(errForbidden(c0("volumeMounts[0].bindMountOptions")))},
		{"grpc mode", func(p *v1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &v1.Probe{ProbeHandler: v1.ProbeHandler{GRPC: &v1.GRPCAction{Port: 1, Mode: ptrTo(v1.GRPCProbeMode("TLS"))}},
				TimeoutSeconds: 1, PeriodSeconds: 1, SuccessThreshold: 1, FailureThreshold: 1}
		}, wantErrs(errForbidden(c0("livenessProbe.grpc.mode")))},
		{"nfs", func(p *v1.Pod) { vol(p, v1.VolumeSource{NFS: &v1.NFSVolumeSource{Server: "s", Path: "/p"}}) }, wantErrs(errForbidden("spec.volumes[1].nfs"))},
		{"iscsi", func(p *v1.Pod) { vol(p, v1.VolumeSource{ISCSI: &v1.ISCSIVolumeSource{}}) }, wantErrs(errForbidden("spec.volumes[1].iscsi"))},
		{"azureFile", func(p *v1.Pod) { vol(p, v1.VolumeSource{AzureFile: &v1.AzureFileVolumeSource{}}) }, wantErrs(errForbidden("spec.volumes[1].azureFile"))},
		{"glusterfs", func(p *v1.Pod) { vol(p, v1.VolumeSource{Glusterfs: &v1.GlusterfsVolumeSource{}}) }, wantErrs(errForbidden("spec.volumes[1].glusterfs"))},
		{"rbd", func(p *v1.Pod) { vol(p, v1.VolumeSource{RBD: &v1.RBDVolumeSource{}}) }, wantErrs(errForbidden("spec.volumes[1].rbd"))},
		{"gitRepo", func(p *v1.Pod) { vol(p, v1.VolumeSource{GitRepo: &v1.GitRepoVolumeSource{Repository: "r"}}) }, wantErrs(errForbidden("spec.volumes[1].gitRepo"))},
		{"image volume is implemented", func(p *v1.Pod) {
			vol(p, v1.VolumeSource{Image: &v1.ImageVolumeSource{Reference: "busybox:1.36", PullPolicy: v1.PullIfNotPresent}})
		}, noErrors()},
		{"emptyDir mode", func(p *v1.Pod) { p.Spec.Volumes[1].EmptyDir.Mode = ptrTo(int32(0o700)) }, wantErrs(errForbidden("spec.volumes[1].emptyDir.mode"))},
		{"downwardAPI defaultUser", func(p *v1.Pod) { p.Spec.Volumes[2].DownwardAPI.DefaultUser = ptrTo(int64(1)) },
			wantErrs(errForbidden("spec.volumes[2].downwardAPI.defaultUser"))},
		{"downwardAPI item user", func(p *v1.Pod) { p.Spec.Volumes[2].DownwardAPI.Items[0].User = ptrTo(int64(1)) },
			wantErrs(errForbidden("spec.volumes[2].downwardAPI.items[0].user"))},
	}
	runValidateCases(t, cases)
	for _, tc := range cases {
		pod := validPod()
		tc.mutate(pod)
		for _, e := range Validate(pod) {
			if !strings.Contains(e.Detail, ";") && !strings.Contains(e.Detail, "instead") {
				t.Errorf("%s: %v: the message does not say what to do instead", tc.name, e)
			}
		}
	}
}

// TestValidateKubeletChecks: the checks the kubelet's validation makes of
// the fields runner implements or lets have no effect, each found by the
// differential test against the kubelet (compat/).
func TestValidateKubeletChecks(t *testing.T) {
	sc := func(p *v1.Pod) *v1.SecurityContext {
		if p.Spec.Containers[0].SecurityContext == nil {
			p.Spec.Containers[0].SecurityContext = &v1.SecurityContext{}
		}
		return p.Spec.Containers[0].SecurityContext
	}
	ann := func(k, v string) func(p *v1.Pod) { return func(p *v1.Pod) { p.Annotations[k] = v } }
	const aa = "container.apparmor.security.beta.kubernetes.io/etcd"
	runValidateCases(t, []validateCase{
		{"shareProcessNamespace with hostPID", func(p *v1.Pod) { p.Spec.HostPID = true; p.Spec.ShareProcessNamespace = ptrTo(true) },
			wantErrs(errInvalid("spec.shareProcessNamespace"))},
		{"toleration Exists with a value", func(p *v1.Pod) {
			p.Spec.Tolerations = []v1.Toleration{{Key: "k", Operator: v1.TolerationOpExists, Value: "v"}}
		}, wantErrs(errInvalid("spec.tolerations[0].value"))},
		{"toleration without key must be Exists", func(p *v1.Pod) { p.Spec.Tolerations = []v1.Toleration{{Operator: v1.TolerationOpEqual}} },
			wantErrs(errInvalid("spec.tolerations[0].operator"))},
		{"toleration seconds need NoExecute", func(p *v1.Pod) {
			p.Spec.Tolerations = []v1.Toleration{{Key: "k", TolerationSeconds: ptrTo(int64(5)), Effect: v1.TaintEffectNoSchedule}}
		}, wantErrs(errInvalid("spec.tolerations[0].effect"))},
		{"toleration operator Lt", func(p *v1.Pod) { p.Spec.Tolerations = []v1.Toleration{{Key: "k", Operator: "Lt", Value: "1"}} },
			wantErrs(errUnsupported("spec.tolerations[0].operator"))},
		{"toleration effect", func(p *v1.Pod) { p.Spec.Tolerations = []v1.Toleration{{Key: "k", Effect: "Never"}} },
			wantErrs(errUnsupported("spec.tolerations[0].effect"))},
		{"toleration good", func(p *v1.Pod) {
			p.Spec.Tolerations = []v1.Toleration{{Operator: v1.TolerationOpExists}, {Key: "node-role.kubernetes.io/control-plane", Effect: v1.TaintEffectNoSchedule}}
		}, noErrors()},
		{"nodeSelector matching the node", func(p *v1.Pod) {
			p.Spec.NodeName = "node1"
			p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "node1", "kubernetes.io/os": "linux"}
		}, noErrors()},
		{"nodeSelector of another node", func(p *v1.Pod) {
			p.Spec.NodeName = "node1"
			p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "node2"}
		}, wantErrs(errInvalid("spec.nodeSelector[kubernetes.io/hostname]"))},
		{"preemptionPolicy", func(p *v1.Pod) { p.Spec.PreemptionPolicy = ptrTo(v1.PreemptionPolicy("Always")) }, wantErrs(errUnsupported("spec.preemptionPolicy"))},
		{"os name empty", func(p *v1.Pod) { p.Spec.OS = &v1.PodOS{} }, wantErrs(errRequired("spec.os.name"))},
		{"os name other", func(p *v1.Pod) { p.Spec.OS = &v1.PodOS{Name: "plan9"} }, wantErrs(errUnsupported("spec.os.name"))},
		{"stopSignal without os", func(p *v1.Pod) { p.Spec.Containers[0].Lifecycle.StopSignal = ptrTo(v1.SIGUSR1) },
			wantErrs(errForbidden(c0("lifecycle.stopSignal")))},
		{"stopSignal with os linux", func(p *v1.Pod) {
			p.Spec.OS = &v1.PodOS{Name: v1.Linux}
			p.Spec.Containers[0].Lifecycle.StopSignal = ptrTo(v1.SIGUSR1)
		}, noErrors()},
		{"stopSignal unknown", func(p *v1.Pod) {
			p.Spec.OS = &v1.PodOS{Name: v1.Linux}
			p.Spec.Containers[0].Lifecycle.StopSignal = ptrTo(v1.Signal("SIGNOPE"))
		}, wantErrs(errUnsupported(c0("lifecycle.stopSignal")))},
		{"procMount other", func(p *v1.Pod) { sc(p).ProcMount = ptrTo(v1.ProcMountType("Half")) }, wantErrs(errUnsupported(c0("securityContext.procMount")))},
		{"CAP_SYS_ADMIN without escalation", func(p *v1.Pod) {
			sc(p).AllowPrivilegeEscalation = ptrTo(false)
			sc(p).Capabilities = &v1.Capabilities{Add: []v1.Capability{"CAP_SYS_ADMIN"}}
		}, wantErrs(errInvalid(c0("securityContext.allowPrivilegeEscalation")))},
		{"seccomp type", func(p *v1.Pod) { sc(p).SeccompProfile = &v1.SeccompProfile{Type: "Strict"} }, wantErrs(errUnsupported(c0("securityContext.seccompProfile.type")))},
		{"seccomp localhostProfile without Localhost", func(p *v1.Pod) {
			sc(p).SeccompProfile = &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault, LocalhostProfile: ptrTo("p")}
		}, wantErrs(errInvalid(c0("securityContext.seccompProfile.localhostProfile")))},
		{"apparmor field", func(p *v1.Pod) {
			sc(p).AppArmorProfile = &v1.AppArmorProfile{Type: v1.AppArmorProfileTypeLocalhost, LocalhostProfile: ptrTo("k8s-nginx")}
		}, noErrors()},
		{"apparmor field Localhost without profile", func(p *v1.Pod) { sc(p).AppArmorProfile = &v1.AppArmorProfile{Type: v1.AppArmorProfileTypeLocalhost} },
			wantErrs(errRequired(c0("securityContext.appArmorProfile.localhostProfile")))},
		{"apparmor field padded", func(p *v1.Pod) {
			p.Spec.SecurityContext.AppArmorProfile = &v1.AppArmorProfile{Type: v1.AppArmorProfileTypeLocalhost, LocalhostProfile: ptrTo(" p")}
		}, wantErrs(errInvalid("spec.securityContext.appArmorProfile.localhostProfile"))},
		{"apparmor annotation values", func(p *v1.Pod) {
			ann(aa, "localhost/k8s-nginx")(p)
			ann("container.apparmor.security.beta.kubernetes.io/init", "runtime/default")(p)
			ann("container.apparmor.security.beta.kubernetes.io/sidecar", "unconfined")(p)
		}, noErrors()},
		{"apparmor annotation bad value", ann(aa, "bogus"), wantErrs(errInvalid("metadata.annotations[" + aa + "]"))},
		{"apparmor annotation of no container", ann("container.apparmor.security.beta.kubernetes.io/nope", "unconfined"),
			wantErrs(errNotFound("metadata.annotations[container.apparmor.security.beta.kubernetes.io/nope]"))},
		{"apparmor annotation and field disagree", func(p *v1.Pod) {
			ann(aa, "unconfined")(p)
			p.Spec.SecurityContext.AppArmorProfile = &v1.AppArmorProfile{Type: v1.AppArmorProfileTypeRuntimeDefault}
		}, wantErrs(errForbidden(c0("securityContext.appArmorProfile.type")))},
		{"seccomp annotation and field agree", func(p *v1.Pod) {
			ann("seccomp.security.alpha.kubernetes.io/pod", "runtime/default")(p)
			p.Spec.SecurityContext.SeccompProfile = &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault}
		}, noErrors()},
		{"seccomp annotation and field disagree", func(p *v1.Pod) {
			ann("seccomp.security.alpha.kubernetes.io/pod", "runtime/default")(p)
			p.Spec.SecurityContext.SeccompProfile = &v1.SeccompProfile{Type: v1.SeccompProfileTypeUnconfined}
		}, wantErrs(errForbidden("spec.securityContext.seccompProfile.type"))},
		{"seccomp annotation alone has no effect", ann("seccomp.security.alpha.kubernetes.io/pod", "runtime/default"),
			wantErrs(errForbidden("metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]"))},
		{"seccomp annotation bad value", ann("container.seccomp.security.alpha.kubernetes.io/etcd", "strict"),
			wantErrs(errInvalid("metadata.annotations[container.seccomp.security.alpha.kubernetes.io/etcd]"))},
		{"pod deletion cost", ann("controller.kubernetes.io/pod-deletion-cost", "x"),
			wantErrs(errInvalid("metadata.annotations[controller.kubernetes.io/pod-deletion-cost]"))},
		{"sysctls", func(p *v1.Pod) {
			p.Spec.SecurityContext.Sysctls = []v1.Sysctl{{Name: "net.ipv4.ip_local_port_range", Value: "1024 65535"}, {Name: "kernel/shm_rmid_forced", Value: "1"}}
		}, noErrors()},
		{"sysctl name", func(p *v1.Pod) {
			p.Spec.SecurityContext.Sysctls = []v1.Sysctl{{Name: "Net.IPv4", Value: "1"}, {Name: ""}}
		},
			wantErrs(errInvalid("spec.securityContext.sysctls[0].name"), errRequired("spec.securityContext.sysctls[1].name"))},
		{"sysctl twice", func(p *v1.Pod) {
			p.Spec.SecurityContext.Sysctls = []v1.Sysctl{{Name: "kernel.msgmax"}, {Name: "kernel.msgmax"}}
		},
			wantErrs(errDuplicate("spec.securityContext.sysctls[1].name"))},
		{"net sysctl on the host network", func(p *v1.Pod) {
			p.Spec.HostNetwork = true
			for i := range p.Spec.Containers {
				for j := range p.Spec.Containers[i].Ports {
					p.Spec.Containers[i].Ports[j].HostPort = p.Spec.Containers[i].Ports[j].ContainerPort
				}
			}
			p.Spec.SecurityContext.Sysctls = []v1.Sysctl{{Name: "net/ipv4/ip_forward", Value: "1"}}
		}, wantErrs(errInvalid("spec.securityContext.sysctls[0].name"))},
		{"ipc sysctl with host IPC", func(p *v1.Pod) {
			p.Spec.HostIPC = true
			p.Spec.SecurityContext.Sysctls = []v1.Sysctl{{Name: "fs.mqueue.msg_max", Value: "10"}}
		}, wantErrs(errInvalid("spec.securityContext.sysctls[0].name"))},
		{"fsGroupChangePolicy", func(p *v1.Pod) {
			p.Spec.SecurityContext.FSGroupChangePolicy = ptrTo(v1.PodFSGroupChangePolicy("Never"))
		},
			wantErrs(errUnsupported("spec.securityContext.fsGroupChangePolicy"))},
		{"generation negative", func(p *v1.Pod) { p.Generation = -1 }, wantErrs(errInvalid("metadata.generation"))},
	})
}

// TestLoadKubeletReadings: YAML that the kubelet (YAML 1.1, JSON for files
// that start with '{') reads otherwise than YAML 1.2 is refused with the
// fix in the message.
func TestLoadKubeletReadings(t *testing.T) {
	const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n"
	cases := []struct {
		name string
		data string
		want []wantProblem
	}{
		{"env value yes", pod + "    env:\n    - name: A\n      value: yes\n", []wantProblem{{11, "spec.containers[0].env[0].value", `quote it ("yes")`}}},
		{"env value 1_000", pod + "    env:\n    - name: A\n      value: 1_000\n", []wantProblem{{11, "spec.containers[0].env[0].value", `quote it ("1_000")`}}},
		{"env value quoted yes", pod + "    env:\n    - name: A\n      value: 'yes'\n", nil},
		{"env value yesterday", pod + "    env:\n    - name: A\n      value: yesterday\n", nil},
		{"hostNetwork yes", pod + "  hostNetwork: yes\n", []wantProblem{{9, "spec.hostNetwork", "write true or false"}}},
		{"label key on", strings.Replace(pod, "  name: p\n", "  name: p\n  labels:\n    on: x\n", 1), []wantProblem{{6, "metadata.labels[on]", `quote it ("on")`}}},
		{"label key 0x10", strings.Replace(pod, "  name: p\n", "  name: p\n  labels:\n    0x10: x\n", 1), []wantProblem{{6, "metadata.labels[0x10]", "quote it"}}},
		{"label key 10", strings.Replace(pod, "  name: p\n", "  name: p\n  labels:\n    10: x\n", 1), nil},
		{"JSON trailing comma", "{\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n \"metadata\": {\"name\": \"p\",},\n \"spec\": {\"containers\": [{\"name\": \"c\", \"image\": \"b:1\"}]}}\n",
			[]wantProblem{{2, "", "invalid JSON"}}},
		{"JSON with a comment", "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", # comment\n}\n", []wantProblem{{1, "", "no trailing commas, comments"}}},
		{"KYAML after a marker is YAML", "---\n{apiVersion: v1, kind: Pod, metadata: {name: p,}, spec: {containers: [{name: c, image: 'b:1',}],},}\n", nil},
		{"flow YAML that does not start with a brace", "apiVersion: v1\nkind: Pod\nmetadata: {name: p,}\nspec: {containers: [{name: c, image: 'b:1',},]}\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, problems := Load("m.yaml", []byte(c.data), goldenOptions)
			checkProblems(t, problems, "m.yaml", c.want)
		})
	}
}
