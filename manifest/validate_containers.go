package manifest

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Field paths an env var's fieldRef may read (besides the subscripted labels
// and annotations).
var envFieldPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid",
	"spec.nodeName", "spec.serviceAccountName",
	"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
}

var (
	pullPolicies  = []v1.PullPolicy{v1.PullAlways, v1.PullIfNotPresent, v1.PullNever}
	termPolicies  = []v1.TerminationMessagePolicy{v1.TerminationMessageReadFile, v1.TerminationMessageFallbackToLogsOnError}
	protocols     = []v1.Protocol{v1.ProtocolTCP, v1.ProtocolUDP, v1.ProtocolSCTP}
	propagations  = []v1.MountPropagationMode{v1.MountPropagationNone, v1.MountPropagationHostToContainer, v1.MountPropagationBidirectional}
	containerDups = "container names must be unique across initContainers and containers"
)

// indexContainers records the names of all containers for the checks that
// refer to them (resourceFieldRef.containerName).
func (c *checker) indexContainers() {
	c.containerNames = map[string]bool{}
	for _, list := range [][]v1.Container{c.pod.Spec.InitContainers, c.pod.Spec.Containers} {
		for i := range list {
			if list[i].Name != "" {
				c.containerNames[list[i].Name] = true
			}
		}
	}
}

// isSidecar reports whether an init container keeps running beside the
// containers (restartPolicy: Always).
func isSidecar(ctr *v1.Container) bool {
	return ctr.RestartPolicy != nil && *ctr.RestartPolicy == v1.ContainerRestartPolicyAlways
}

func (c *checker) containers() {
	spec := &c.pod.Spec
	list := specPath.Child("containers")
	if len(spec.Containers) == 0 {
		c.add(field.Required(list, "a pod needs at least one container"))
	}
	seen := map[string]bool{}
	for i := range spec.Containers {
		ctr := &spec.Containers[i]
		p := list.Index(i)
		c.container(ctr, p, seen)
		if ctr.RestartPolicy != nil {
			c.add(refuse(p.Child("restartPolicy"),
				"a restart policy of its own for a container (Kubernetes 1.34 and later; on initContainers, restartPolicy: Always makes a sidecar, which runner supports)",
				"set spec.restartPolicy for the pod, or put containers that must restart differently in pods of their own"))
		}
		c.handlers(ctr, p)
	}
	list = specPath.Child("initContainers")
	for i := range spec.InitContainers {
		ctr := &spec.InitContainers[i]
		p := list.Index(i)
		c.container(ctr, p, seen)
		if rp := ctr.RestartPolicy; rp != nil && *rp != v1.ContainerRestartPolicyAlways {
			c.add(notSupported(p.Child("restartPolicy"), *rp, v1.ContainerRestartPolicyAlways))
		}
		if isSidecar(ctr) {
			c.handlers(ctr, p)
			continue
		}
		const onlySidecars = "may not be set for init containers without restartPolicy: Always (an init container runs to completion)"
		if ctr.Lifecycle != nil {
			c.add(field.Forbidden(p.Child("lifecycle"), onlySidecars))
		}
		if ctr.LivenessProbe != nil {
			c.add(field.Forbidden(p.Child("livenessProbe"), onlySidecars))
		}
		if ctr.ReadinessProbe != nil {
			c.add(field.Forbidden(p.Child("readinessProbe"), onlySidecars))
		}
		if ctr.StartupProbe != nil {
			c.add(field.Forbidden(p.Child("startupProbe"), onlySidecars))
		}
	}
}

// container checks what containers and init containers have in common.
// seen holds the names of the containers checked before.
func (c *checker) container(ctr *v1.Container, p *field.Path, seen map[string]bool) {
	switch {
	case ctr.Name == "":
		c.add(field.Required(p.Child("name"), "must be "+labelRule))
	case seen[ctr.Name]:
		c.add(dnsLabel(p.Child("name"), ctr.Name)...)
		c.add(duplicate(p.Child("name"), ctr.Name, containerDups))
	default:
		c.add(dnsLabel(p.Child("name"), ctr.Name)...)
		seen[ctr.Name] = true
	}
	switch {
	case ctr.Image == "":
		c.add(field.Required(p.Child("image"), "must name the image to run, e.g. busybox:1.36"))
	case strings.TrimSpace(ctr.Image) != ctr.Image:
		c.add(field.Invalid(p.Child("image"), ctr.Image, "must not have leading or trailing whitespace"))
	}
	if !slices.Contains(pullPolicies, ctr.ImagePullPolicy) {
		c.add(notSupported(p.Child("imagePullPolicy"), ctr.ImagePullPolicy, pullPolicies...))
	}
	if !slices.Contains(termPolicies, ctr.TerminationMessagePolicy) {
		c.add(notSupported(p.Child("terminationMessagePolicy"), ctr.TerminationMessagePolicy, termPolicies...))
	}
	c.ports(ctr, p)
	c.env(ctr, p)
	c.volumeMounts(ctr, p)
	c.resources(&ctr.Resources, p.Child("resources"))
	c.containerSecurityContext(ctr, p)
	c.unsupportedContainer(ctr, p)
}

func (c *checker) ports(ctr *v1.Container, p *field.Path) {
	names := map[string]bool{}
	for i, port := range ctr.Ports {
		pp := p.Child("ports").Index(i)
		if port.Name != "" {
			msgs := validation.IsValidPortName(port.Name)
			switch {
			case len(msgs) > 0:
				c.add(invalidEach(pp.Child("name"), port.Name, prefixEach("must be an IANA_SVC_NAME: ", msgs))...)
			case names[port.Name]:
				c.add(duplicate(pp.Child("name"), port.Name, "port names must be unique within the container"))
			default:
				names[port.Name] = true
			}
		}
		if port.ContainerPort == 0 {
			c.add(field.Required(pp.Child("containerPort"), "must be a port number between 1 and 65535"))
		} else {
			c.add(invalidEach(pp.Child("containerPort"), port.ContainerPort, validation.IsValidPortNum(int(port.ContainerPort)))...)
		}
		c.add(invalidEach(pp.Child("hostPort"), port.HostPort, validation.IsInRange(int(port.HostPort), 0, 65535))...)
		if c.pod.Spec.HostNetwork && port.HostPort != 0 && port.HostPort != port.ContainerPort {
			c.add(field.Invalid(pp.Child("hostPort"), port.HostPort,
				fmt.Sprintf("must be 0 or equal to containerPort (%d) when hostNetwork is true", port.ContainerPort)))
		}
		if !slices.Contains(protocols, port.Protocol) {
			c.add(notSupported(pp.Child("protocol"), port.Protocol, protocols...))
		}
		if port.HostIP != "" {
			for _, e := range validation.IsValidIP(pp.Child("hostIP"), port.HostIP) {
				e.Detail += " " + FailsAtStart
				c.add(e)
			}
		}
	}
}

// hostPorts reports a host port (with its protocol and host IP) that two
// containers running at the same time both claim: the containers and the
// sidecars among them, and each init container with the sidecars started
// before it. Init containers run one at a time, so they may share a port
// with each other and with the containers, as the apiserver allows.
func (c *checker) hostPorts() {
	spec := &c.pod.Spec
	running := map[string]bool{}
	for i := range spec.InitContainers {
		ctr := &spec.InitContainers[i]
		p := specPath.Child("initContainers").Index(i)
		if isSidecar(ctr) {
			c.claimHostPorts(ctr, p, running)
		} else {
			c.claimHostPorts(ctr, p, maps.Clone(running))
		}
	}
	for i := range spec.Containers {
		c.claimHostPorts(&spec.Containers[i], specPath.Child("containers").Index(i), running)
	}
}

func (c *checker) claimHostPorts(ctr *v1.Container, p *field.Path, taken map[string]bool) {
	for i, port := range ctr.Ports {
		if port.HostPort == 0 {
			continue
		}
		ip := port.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		key := fmt.Sprintf("%s/%s/%d", port.Protocol, ip, port.HostPort)
		if taken[key] {
			c.add(duplicate(p.Child("ports").Index(i).Child("hostPort"), key,
				"each protocol/hostIP/hostPort may be claimed once among the containers that run at the same time"))
		}
		taken[key] = true
	}
}

func (c *checker) env(ctr *v1.Container, p *field.Path) {
	for i := range ctr.Env {
		ev := &ctr.Env[i]
		ep := p.Child("env").Index(i)
		if ev.Name == "" {
			c.add(field.Required(ep.Child("name"), "must be an environment variable name, e.g. MY_VAR"))
		} else {
			c.add(invalidEach(ep.Child("name"), ev.Name, validation.IsRelaxedEnvVarName(ev.Name))...)
		}
		if ev.ValueFrom != nil {
			c.envSource(ev, ep.Child("valueFrom"))
		}
	}
	if len(ctr.EnvFrom) > 0 {
		c.add(forbidAPI(p.Child("envFrom"), "envFrom (it reads config maps and secrets)", "list each variable under env with a value"))
	}
}

func (c *checker) envSource(ev *v1.EnvVar, p *field.Path) {
	vf := ev.ValueFrom
	if ev.Value != "" {
		c.add(field.Forbidden(p, "may not be set together with value; set one of value or valueFrom"))
	}
	var set []string
	if vf.FieldRef != nil {
		set = append(set, "fieldRef")
		c.fieldRef(vf.FieldRef, p.Child("fieldRef"), envFieldPaths)
	}
	if vf.ResourceFieldRef != nil {
		set = append(set, "resourceFieldRef")
		c.resourceFieldRef(vf.ResourceFieldRef, p.Child("resourceFieldRef"), false)
	}
	if vf.FileKeyRef != nil {
		set = append(set, "fileKeyRef")
		c.add(refuse(p.Child("fileKeyRef"), "env from a file (fileKeyRef)",
			"set env[].value, or have the container read the file itself (e.g. command: [sh, -c, '. /vars/env && exec app'])"))
	}
	if vf.ConfigMapKeyRef != nil {
		set = append(set, "configMapKeyRef")
		c.add(forbidAPI(p.Child("configMapKeyRef"), "a configMapKeyRef", useEnvValue))
	}
	if vf.SecretKeyRef != nil {
		set = append(set, "secretKeyRef")
		c.add(forbidAPI(p.Child("secretKeyRef"), "a secretKeyRef", useEnvValue))
	}
	switch {
	case len(set) == 0:
		c.add(field.Required(p, "must set one of fieldRef, resourceFieldRef or fileKeyRef"))
	case len(set) > 1:
		c.add(field.Forbidden(p, "may set only one of fieldRef, resourceFieldRef or fileKeyRef; found "+strings.Join(set, ", ")))
	}
}

func (c *checker) volumeMounts(ctr *v1.Container, p *field.Path) {
	mountPaths := map[string]bool{}
	for i := range ctr.VolumeMounts {
		m := &ctr.VolumeMounts[i]
		mp := p.Child("volumeMounts").Index(i)
		switch {
		case m.Name == "":
			c.add(field.Required(mp.Child("name"), c.declaredVolumes()))
		case c.volumeNames[m.Name] == nil:
			c.add(notFound(mp.Child("name"), m.Name, c.declaredVolumes()))
		}
		switch {
		case m.MountPath == "":
			c.add(field.Required(mp.Child("mountPath"), "must be an absolute path in the container, e.g. /data"))
		case mountPaths[m.MountPath]:
			c.add(field.Invalid(mp.Child("mountPath"), m.MountPath, "must be unique within the container"))
		case !path.IsAbs(m.MountPath):
			c.add(field.Invalid(mp.Child("mountPath"), m.MountPath, "must be an absolute path in the container, e.g. /data "+FailsAtStart))
		}
		c.recursiveReadOnly(m, mp.Child("recursiveReadOnly"))
		mountPaths[m.MountPath] = true
		if m.SubPath != "" {
			c.add(relativePath(mp.Child("subPath"), m.SubPath)...)
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				c.add(field.Invalid(mp.Child("subPathExpr"), m.SubPathExpr, "may not be set together with subPath; set one of them"))
			}
			c.add(relativePath(mp.Child("subPathExpr"), m.SubPathExpr)...)
		}
		if mprop := m.MountPropagation; mprop != nil {
			privileged := ctr.SecurityContext != nil && ctr.SecurityContext.Privileged != nil && *ctr.SecurityContext.Privileged
			switch {
			case !slices.Contains(propagations, *mprop):
				c.add(notSupported(mp.Child("mountPropagation"), *mprop, propagations...))
			case *mprop == v1.MountPropagationBidirectional && !privileged:
				c.add(field.Forbidden(mp.Child("mountPropagation"),
					"Bidirectional mount propagation is available only to privileged containers (securityContext.privileged: true); use HostToContainer or None"))
			}
		}
	}
	if len(ctr.VolumeDevices) > 0 {
		c.add(field.Forbidden(p.Child("volumeDevices"),
			"raw block devices need a persistentVolumeClaim or ephemeral volume, which static pods cannot use; mount the device with a hostPath volume of type BlockDevice"))
	}
}

var recursiveReadOnlyModes = []v1.RecursiveReadOnlyMode{v1.RecursiveReadOnlyDisabled, v1.RecursiveReadOnlyEnabled, v1.RecursiveReadOnlyIfPossible}

// recursiveReadOnly checks a mount's recursiveReadOnly: a known mode, and
// Enabled or IfPossible only on a read-only mount without propagation.
func (c *checker) recursiveReadOnly(m *v1.VolumeMount, p *field.Path) {
	switch rro := m.RecursiveReadOnly; {
	case rro == nil, *rro == v1.RecursiveReadOnlyDisabled:
	case *rro == v1.RecursiveReadOnlyEnabled, *rro == v1.RecursiveReadOnlyIfPossible:
		if !m.ReadOnly {
			c.add(field.Forbidden(p, "may be "+string(*rro)+" only when readOnly is true; set readOnly: true"))
		}
		if m.MountPropagation != nil && *m.MountPropagation != v1.MountPropagationNone {
			c.add(field.Forbidden(p, "may be "+string(*rro)+" only when mountPropagation is None; leave mountPropagation out"))
		}
	default:
		c.add(notSupported(p, *rro, recursiveReadOnlyModes...))
	}
}

// declaredVolumes says what a volume mount's name may be.
func (c *checker) declaredVolumes() string {
	if len(c.volumeNames) == 0 {
		return "must be the name of a volume in spec.volumes, and this pod declares none"
	}
	return "must be the name of a volume in spec.volumes: " + quoteList(sortedKeys(c.volumeNames))
}
