package manifest

import (
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// What runner does not do. Each field here is valid for the apiserver (or
// the kubelet refuses it too); runner refuses it rather than accept it and
// ignore it, and says what to use instead. FIELDS.md lists every field of a
// Pod with what runner does with it.

// NotSupported begins the message of every field that the apiserver (and
// the kubelet) would take and runner refuses because it does not implement
// it. The differential test against the kubelet (compat/) knows these
// refusals by it.
const NotSupported = "not supported by runner: "

// FailsAtStart ends the message of a value that the kubelet takes and that
// then fails the pod when it starts (a relative hostPath, an unknown
// emptyDir medium, a host IP that is no IP): runner refuses it when it
// reads the manifest. The differential test knows these by it.
const FailsAtStart = "(the kubelet takes it, and the pod then fails when it starts)"

// refuse reports a field runner does not support: why, then what to do.
func refuse(path *field.Path, why, instead string) *field.Error {
	return field.Forbidden(path, NotSupported+why+"; "+instead)
}

// alphaField is the reason given for fields behind alpha feature gates of
// Kubernetes 1.37, which a kubelet does not honour unless told to.
const alphaField = "an alpha field of Kubernetes 1.37"

// unsupportedMeta refuses the metadata an apiserver keeps for objects it
// stores and deletes, which has no meaning for a file.
func (c *checker) unsupportedMeta() {
	m := &c.pod.ObjectMeta
	const deleteFile = "remove it: a static pod is deleted by deleting its manifest"
	if m.DeletionTimestamp != nil {
		c.add(refuse(metaPath.Child("deletionTimestamp"), "a deletion timestamp is set by an apiserver", deleteFile))
	}
	if m.DeletionGracePeriodSeconds != nil {
		c.add(refuse(metaPath.Child("deletionGracePeriodSeconds"), "a deletion grace period is set by an apiserver", deleteFile+" (spec.terminationGracePeriodSeconds sets the grace period)"))
	}
	if len(m.Finalizers) > 0 {
		c.add(refuse(metaPath.Child("finalizers"), "finalizers hold back the deletion of an API object", deleteFile))
	}
	if len(m.OwnerReferences) > 0 {
		c.add(refuse(metaPath.Child("ownerReferences"), "owner references name API objects, which static pods cannot reference", "remove them"))
	}
	if len(m.ManagedFields) > 0 {
		c.add(refuse(metaPath.Child("managedFields"), "managed fields record the writes of an apiserver", "remove them (kubectl get shows them only with --show-managed-fields)"))
	}
	if m.GenerateName != "" {
		c.add(refuse(metaPath.Child("generateName"), "static pods do not get generated names", "remove it and set metadata.name"))
	}
}

// unsupportedSpec refuses the pod-level fields runner does not implement.
func (c *checker) unsupportedSpec() {
	spec := &c.pod.Spec
	const notScheduled = "a static pod is not scheduled: it runs on the node whose manifest directory holds it"
	if len(spec.SchedulingGates) > 0 {
		c.add(refuse(specPath.Child("schedulingGates"), notScheduled+" (the kubelet refuses scheduling gates too, as a static pod has spec.nodeName)", "remove spec.schedulingGates"))
	}
	if spec.Affinity != nil {
		c.add(refuse(specPath.Child("affinity"), notScheduled, "remove spec.affinity (spec.nodeSelector is checked against this node's labels)"))
	}
	if len(spec.TopologySpreadConstraints) > 0 {
		c.add(refuse(specPath.Child("topologySpreadConstraints"), notScheduled, "remove spec.topologySpreadConstraints"))
	}
	if spec.SchedulingGroup != nil {
		c.add(refuse(specPath.Child("schedulingGroup"), alphaField+" ("+notScheduled+")", "remove spec.schedulingGroup"))
	}
	if len(spec.EvictionResponders) > 0 {
		c.add(refuse(specPath.Child("evictionResponders"), alphaField, "remove spec.evictionResponders"))
	}
	if len(spec.ReadinessGates) > 0 {
		c.add(refuse(specPath.Child("readinessGates"), "a readiness gate waits for a pod condition that a controller sets through the apiserver, so the pod would never be ready",
			"remove spec.readinessGates and use a readinessProbe"))
	}
	if spec.RuntimeClassName != nil {
		c.add(refuse(specPath.Child("runtimeClassName"), "runtime classes are API objects, and runner runs every container with the engine's default runtime",
			"remove spec.runtimeClassName (make the runtime you want Docker's default-runtime)"))
	}
	if len(spec.Overhead) > 0 {
		c.add(refuse(specPath.Child("overhead"), "the overhead is set by the apiserver from a RuntimeClass", "remove spec.overhead"))
	}
	if spec.Resources != nil {
		c.add(refuse(specPath.Child("resources"), "pod-level resources", "set resources on each container instead"))
	}
	if spec.HostUsers != nil && !*spec.HostUsers {
		c.add(refuse(specPath.Child("hostUsers"), "user namespaces (Docker gives a container no ID mapping of its own)",
			"remove spec.hostUsers or set it to true, and run the containers as a non-root user (securityContext.runAsUser)"))
	}
	if spec.SetHostnameAsFQDN != nil && *spec.SetHostnameAsFQDN {
		c.add(refuse(specPath.Child("setHostnameAsFQDN"), "runner sets the pod's short host name",
			"remove it (the fully qualified name is in the pod's /etc/hosts when spec.subdomain and --cluster-domain are set)"))
	}
	if spec.HostnameOverride != nil {
		c.add(refuse(specPath.Child("hostnameOverride"), alphaField, "set spec.hostname instead"))
	}
	if t := spec.AutomountServiceAccountToken; t != nil && *t {
		c.add(refuse(specPath.Child("automountServiceAccountToken"), "static pods have no service account, so there is no token to mount", useHostPathCreds))
	}
	if spec.OS != nil && spec.OS.Name == v1.Windows {
		c.add(refuse(specPath.Child("os").Child("name"), "runner runs Linux containers", `set spec.os.name to "linux" or leave spec.os out`))
	}
	if sc := spec.SecurityContext; sc != nil {
		p := specPath.Child("securityContext")
		c.unsupportedSecurity(sc.WindowsOptions, sc.SeccompProfile, p)
		if pol := sc.SupplementalGroupsPolicy; pol != nil && *pol == v1.SupplementalGroupsPolicyStrict {
			c.add(refuse(p.Child("supplementalGroupsPolicy"), "Strict needs a container runtime that reports the image's groups, and Docker does not",
				"use Merge (the default): the groups of the image's user are added to runAsGroup, fsGroup and supplementalGroups"))
		}
	}
}

// unsupportedContainer refuses the container fields runner does not
// implement.
func (c *checker) unsupportedContainer(ctr *v1.Container, p *field.Path) {
	if len(ctr.ResizePolicy) > 0 {
		c.add(refuse(p.Child("resizePolicy"), "resources are resized in place through the apiserver",
			"remove resizePolicy; to change resources, edit the manifest (the pod is restarted)"))
	}
	if len(ctr.RestartPolicyRules) > 0 {
		c.add(refuse(p.Child("restartPolicyRules"), "restart rules", "remove them; spec.restartPolicy says when containers restart"))
	}
	if sc := ctr.SecurityContext; sc != nil {
		psc := p.Child("securityContext")
		c.unsupportedSecurity(sc.WindowsOptions, sc.SeccompProfile, psc)
		if sc.ProcMount != nil && *sc.ProcMount == v1.UnmaskedProcMount {
			c.add(refuse(psc.Child("procMount"), "an unmasked /proc, which needs a user namespace (spec.hostUsers: false)",
				"remove procMount or set it to Default"))
		}
	}
	for i := range ctr.VolumeMounts {
		m := &ctr.VolumeMounts[i]
		mp := p.Child("volumeMounts").Index(i)
		if m.RecursiveReadOnly != nil && *m.RecursiveReadOnly == v1.RecursiveReadOnlyEnabled {
			c.add(refuse(mp.Child("recursiveReadOnly"), "recursively read-only mounts need Docker 25 or later, and runner works with 20.10",
				"use IfPossible or Disabled (mounts under a read-only mount stay writable)"))
		}
		if len(m.BindMountOptions) > 0 {
			c.add(refuse(mp.Child("bindMountOptions"), alphaField, "remove bindMountOptions"))
		}
	}
	c.unsupportedHandlers(ctr, p)
}

// unsupportedHandlers refuses the alpha fields of probe and hook actions.
func (c *checker) unsupportedHandlers(ctr *v1.Container, p *field.Path) {
	probes := []struct {
		name  string
		probe *v1.Probe
	}{{"livenessProbe", ctr.LivenessProbe}, {"readinessProbe", ctr.ReadinessProbe}, {"startupProbe", ctr.StartupProbe}}
	for _, pr := range probes {
		if pr.probe == nil {
			continue
		}
		pp := p.Child(pr.name)
		if g := pr.probe.GRPC; g != nil && g.Mode != nil {
			c.add(refuse(pp.Child("grpc").Child("mode"), alphaField, "remove it: runner probes gRPC in plain text"))
		}
		if h := pr.probe.HTTPGet; h != nil && h.Protocol != nil {
			c.add(refuse(pp.Child("httpGet").Child("protocol"), alphaField, "remove it: runner probes with HTTP/1.1"))
		}
	}
	if lc := ctr.Lifecycle; lc != nil {
		hooks := []struct {
			name string
			hook *v1.LifecycleHandler
		}{{"postStart", lc.PostStart}, {"preStop", lc.PreStop}}
		for _, h := range hooks {
			if h.hook != nil && h.hook.HTTPGet != nil && h.hook.HTTPGet.Protocol != nil {
				c.add(refuse(p.Child("lifecycle").Child(h.name).Child("httpGet").Child("protocol"), alphaField, "remove it: runner calls hooks with HTTP/1.1"))
			}
		}
	}
}

// unsupportedSecurity refuses what a pod's or a container's security context
// may hold that runner cannot apply.
func (c *checker) unsupportedSecurity(windows *v1.WindowsSecurityContextOptions, seccomp *v1.SeccompProfile, p *field.Path) {
	if windows != nil {
		c.add(refuse(p.Child("windowsOptions"), "runner runs Linux containers, and windowsOptions apply to Windows only", "remove windowsOptions"))
	}
	if seccomp != nil && seccomp.Type == v1.SeccompProfileTypeLocalhost {
		c.add(refuse(p.Child("seccompProfile").Child("type"), "seccomp profiles loaded from the node (Localhost)",
			"use RuntimeDefault (the engine's default profile) or Unconfined"))
	}
}

// Network and cloud volumes: none works without the kubelet's volume
// plugins and their credentials.
const (
	remoteVolume     = "runner mounts no network or cloud storage"
	useHostMount     = "mount it on the host (e.g. through /etc/fstab) and use a hostPath volume"
	gitRepoInstead   = "clone the repository into an emptyDir volume from an init container that runs git"
	hugePagesInstead = "use medium \"\" (disk) or Memory"
)

// isHugePages reports whether an emptyDir medium asks for huge pages
// (HugePages or HugePages-<size>).
func isHugePages(m v1.StorageMedium) bool {
	return m == v1.StorageMediumHugePages || strings.HasPrefix(string(m), string(v1.StorageMediumHugePagesPrefix))
}

// unsupportedVolume refuses the volume sources runner does not implement;
// set is the JSON name of the one source src has.
func (c *checker) unsupportedVolume(src *v1.VolumeSource, set string, p *field.Path) {
	switch {
	case src.HostPath != nil, src.EmptyDir != nil, src.DownwardAPI != nil, src.Projected != nil, src.Image != nil,
		src.Secret != nil, src.ConfigMap != nil, src.PersistentVolumeClaim != nil, src.Ephemeral != nil, src.CSI != nil:
		// implemented, or refused with what static pods cannot reference
	case src.GitRepo != nil:
		c.add(refuse(p.Child(set), "the gitRepo volume is deprecated", gitRepoInstead))
	default:
		c.add(refuse(p.Child(set), set+" volumes cannot be used: "+remoteVolume, useHostMount))
	}
	if ed := src.EmptyDir; ed != nil {
		if ed.Mode != nil {
			c.add(refuse(p.Child("emptyDir").Child("mode"), alphaField, "remove it and set the directory's mode from an init container"))
		}
		if isHugePages(ed.Medium) {
			c.add(refuse(p.Child("emptyDir").Child("medium"), "huge page volumes", hugePagesInstead))
		}
	}
	if d := src.DownwardAPI; d != nil {
		if d.DefaultUser != nil {
			c.add(refuse(p.Child("downwardAPI").Child("defaultUser"), alphaField, "remove it"))
		}
		for i := range d.Items {
			if d.Items[i].User != nil {
				c.add(refuse(p.Child("downwardAPI").Child("items").Index(i).Child("user"), alphaField, "remove it"))
			}
		}
	}
	if pr := src.Projected; pr != nil {
		if pr.DefaultUser != nil {
			c.add(refuse(p.Child("projected").Child("defaultUser"), alphaField, "remove it"))
		}
		for i := range pr.Sources {
			if d := pr.Sources[i].DownwardAPI; d != nil {
				for j := range d.Items {
					if d.Items[j].User != nil {
						c.add(refuse(p.Child("projected").Child("sources").Index(i).Child("downwardAPI").Child("items").Index(j).Child("user"), alphaField, "remove it"))
					}
				}
			}
		}
	}
}
