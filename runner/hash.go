package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"

	v1 "k8s.io/api/core/v1"
)

// hashVersion names the scheme of the hash labels (LabelContainerHash,
// LabelSandboxHash). A container or sandbox whose LabelHashVersion differs
// from it, or is missing (written by an older runner), is never replaced
// because of its hash: an upgrade of runner restarts nothing.
//
// Bump it whenever a change of runner (a new default, a field added to the
// inputs below, another encoding) changes the hash of an unchanged pod;
// TestHashGolden fails until then.
const hashVersion = "2"

// The hashes matter only for a pod whose manifest pins metadata.uid: any
// other edit of a manifest changes the pod's UID, and a new UID is a new pod.
// With a pinned UID, a container whose hash changed is replaced alone, and a
// pod whose sandbox hash changed is replaced whole (the old one fully stopped
// first, as any update).

// containerHashInput is the fixed, documented set of fields a container's
// hash covers: what its creation in the engine is made of, plus the probes
// and handlers its workers use. Nested API types are encoded with their json
// tags; fields k8s.io/api adds later are omitempty and zero, so a bump of
// k8s.io/api changes no hash.
type containerHashInput struct {
	Name                     string                      `json:"name"`
	Image                    string                      `json:"image"`
	Command                  []string                    `json:"command,omitempty"`
	Args                     []string                    `json:"args,omitempty"`
	WorkingDir               string                      `json:"workingDir,omitempty"`
	Ports                    []v1.ContainerPort          `json:"ports,omitempty"`
	Env                      []v1.EnvVar                 `json:"env,omitempty"`
	Resources                map[string]string           `json:"resources,omitempty"`
	VolumeMounts             []v1.VolumeMount            `json:"volumeMounts,omitempty"`
	VolumeDevices            []v1.VolumeDevice           `json:"volumeDevices,omitempty"`
	LivenessProbe            *v1.Probe                   `json:"livenessProbe,omitempty"`
	ReadinessProbe           *v1.Probe                   `json:"readinessProbe,omitempty"`
	StartupProbe             *v1.Probe                   `json:"startupProbe,omitempty"`
	Lifecycle                *v1.Lifecycle               `json:"lifecycle,omitempty"`
	TerminationMessagePath   string                      `json:"terminationMessagePath,omitempty"`
	TerminationMessagePolicy v1.TerminationMessagePolicy `json:"terminationMessagePolicy,omitempty"`
	ImagePullPolicy          v1.PullPolicy               `json:"imagePullPolicy,omitempty"`
	SecurityContext          *v1.SecurityContext         `json:"securityContext,omitempty"`
	Stdin                    bool                        `json:"stdin,omitempty"`
	StdinOnce                bool                        `json:"stdinOnce,omitempty"`
	TTY                      bool                        `json:"tty,omitempty"`
	RestartPolicy            *v1.ContainerRestartPolicy  `json:"restartPolicy,omitempty"`
	Pod                      containerHashPodInput       `json:"pod"`
	Annotations              map[string]string           `json:"annotations,omitempty"`
}

// containerHashPodInput are the pod-level fields that shape each container.
type containerHashPodInput struct {
	SecurityContext *v1.PodSecurityContext `json:"securityContext,omitempty"`
	Priority        *int32                 `json:"priority,omitempty"`
	HostNetwork     bool                   `json:"hostNetwork,omitempty"`
	HostPID         bool                   `json:"hostPID,omitempty"`
	HostIPC         bool                   `json:"hostIPC,omitempty"`
	ShareProcessNS  *bool                  `json:"shareProcessNamespace,omitempty"`
}

// sandboxHashInput is the fixed set of pod-level fields the sandbox hash
// covers: the sandbox's namespaces, network and DNS, its host ports (set up
// with its network) and the volumes that its pod directory holds.
type sandboxHashInput struct {
	HostNetwork           bool               `json:"hostNetwork,omitempty"`
	HostPID               bool               `json:"hostPID,omitempty"`
	HostIPC               bool               `json:"hostIPC,omitempty"`
	ShareProcessNamespace *bool              `json:"shareProcessNamespace,omitempty"`
	Hostname              string             `json:"hostname,omitempty"`
	Subdomain             string             `json:"subdomain,omitempty"`
	SetHostnameAsFQDN     *bool              `json:"setHostnameAsFQDN,omitempty"`
	DNSPolicy             v1.DNSPolicy       `json:"dnsPolicy,omitempty"`
	DNSConfig             *v1.PodDNSConfig   `json:"dnsConfig,omitempty"`
	HostAliases           []v1.HostAlias     `json:"hostAliases,omitempty"`
	Sysctls               []v1.Sysctl        `json:"sysctls,omitempty"`
	HostPorts             []v1.ContainerPort `json:"hostPorts,omitempty"`
	Volumes               []v1.Volume        `json:"volumes,omitempty"`
}

// sandboxHashKey is the key of the sandbox's hash in podHashes' map: a
// container may not be named so (container names are lower-case DNS labels).
const sandboxHashKey = SandboxContainerName

// podHashes hashes a pod: every container by name, and the sandbox under
// sandboxHashKey. Computed once per desired pod object by the loop.
func podHashes(pod *v1.Pod) map[string]string {
	h := make(map[string]string, len(pod.Spec.InitContainers)+len(pod.Spec.Containers)+1)
	for _, list := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			h[list[i].Name] = containerHash(pod, &list[i])
		}
	}
	h[sandboxHashKey] = sandboxHash(pod)
	return h
}

// containerHash is the hash of one container of pod.
func containerHash(pod *v1.Pod, c *v1.Container) string {
	in := containerHashInput{
		Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args, WorkingDir: c.WorkingDir,
		Ports: c.Ports, Env: c.Env, Resources: resourceStrings(c.Resources),
		VolumeMounts: c.VolumeMounts, VolumeDevices: c.VolumeDevices,
		LivenessProbe: c.LivenessProbe, ReadinessProbe: c.ReadinessProbe, StartupProbe: c.StartupProbe,
		Lifecycle: c.Lifecycle, TerminationMessagePath: c.TerminationMessagePath,
		TerminationMessagePolicy: c.TerminationMessagePolicy, ImagePullPolicy: c.ImagePullPolicy,
		SecurityContext: c.SecurityContext, Stdin: c.Stdin, StdinOnce: c.StdinOnce, TTY: c.TTY,
		RestartPolicy: c.RestartPolicy,
		Pod: containerHashPodInput{
			SecurityContext: pod.Spec.SecurityContext, Priority: pod.Spec.Priority,
			HostNetwork: pod.Spec.HostNetwork, HostPID: pod.Spec.HostPID, HostIPC: pod.Spec.HostIPC,
			ShareProcessNS: pod.Spec.ShareProcessNamespace,
		},
		Annotations: containerAnnotations(pod, c.Name),
	}
	return hashJSON(in)
}

// sandboxHash is the hash of pod's sandbox.
func sandboxHash(pod *v1.Pod) string {
	in := sandboxHashInput{
		HostNetwork: pod.Spec.HostNetwork, HostPID: pod.Spec.HostPID, HostIPC: pod.Spec.HostIPC,
		ShareProcessNamespace: pod.Spec.ShareProcessNamespace,
		Hostname:              pod.Spec.Hostname, Subdomain: pod.Spec.Subdomain, SetHostnameAsFQDN: pod.Spec.SetHostnameAsFQDN,
		DNSPolicy: pod.Spec.DNSPolicy, DNSConfig: pod.Spec.DNSConfig, HostAliases: pod.Spec.HostAliases,
		Volumes: pod.Spec.Volumes,
	}
	if sc := pod.Spec.SecurityContext; sc != nil {
		in.Sysctls = sc.Sysctls
	}
	for _, list := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			for _, p := range c.Ports {
				if p.HostPort != 0 {
					in.HostPorts = append(in.HostPorts, p)
				}
			}
		}
	}
	return hashJSON(in)
}

// containerAnnotations are the pod annotations addressed to one container
// (AppArmor's per-container annotation); the other annotations shape no
// container.
func containerAnnotations(pod *v1.Pod, name string) map[string]string {
	const apparmor = "container.apparmor.security.beta.kubernetes.io/"
	if v, ok := pod.Annotations[apparmor+name]; ok {
		return map[string]string{apparmor + name: v}
	}
	return nil
}

// resourceStrings renders requests and limits canonically ("limits.cpu" →
// "500m"), so equal quantities written differently ("0.5", "500m") hash the
// same.
func resourceStrings(r v1.ResourceRequirements) map[string]string {
	if len(r.Limits) == 0 && len(r.Requests) == 0 {
		return nil
	}
	out := map[string]string{}
	for prefix, list := range map[string]v1.ResourceList{"limits.": r.Limits, "requests.": r.Requests} {
		names := make([]string, 0, len(list))
		for n := range list {
			names = append(names, string(n))
		}
		sort.Strings(names)
		for _, n := range names {
			q := list[v1.ResourceName(n)]
			out[prefix+n] = q.String()
		}
	}
	return out
}

func hashJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		// Only unsupported values (channels, funcs) fail to encode, and the
		// inputs hold none.
		panic("runner: hash input does not encode: " + err.Error())
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// hashChanged reports whether a container or sandbox was made from another
// version of its spec than want: only when its label is of this hashVersion
// (an older runner's label says nothing we can compare).
func hashChanged(labels map[string]string, key, want string) bool {
	return labels[LabelHashVersion] == hashVersion && labels[key] != want
}
