package runner

import (
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/runner/runtime"
)

// Labels every container runner makes carries: dockershim's scheme, so
// `docker ps` reads as users of the kubelet know it, plus the instance label
// that says which runner owns the container.
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"
	LabelDockerType    = "io.kubernetes.docker.type"
	LabelSandboxID     = "io.kubernetes.sandbox.id"
	LabelContainerHash = "annotation.io.kubernetes.container.hash"
	LabelRestartCount  = "annotation.io.kubernetes.container.restartCount"
	LabelGracePeriod   = "annotation.io.kubernetes.pod.terminationGracePeriod"
	// What tearing a container down needs after a restart of runner, when
	// its pod is no longer desired (dockershim kept the same).
	LabelPreStopHandler = "annotation.io.kubernetes.container.preStopHandler"
	LabelContainerPorts = "annotation.io.kubernetes.container.ports"
	LabelHostNetwork    = "io.runner.host-network"
	LabelAttempt        = "io.runner.attempt"
	LabelInit           = "io.runner.init-container"
	LabelInstance       = "io.runner.instance"
	// LabelConfigSource is the pod's manifest source (file, http), so that
	// a restarted runner knows whose pods it found.
	LabelConfigSource = "io.runner.config-source"
	// LabelHashVersion is the scheme of the hash labels (see hashVersion);
	// LabelSandboxHash the sandbox's hash.
	LabelHashVersion = "io.runner.hash-version"
	LabelSandboxHash = "io.runner.sandbox-hash"

	TypeSandbox   = "podsandbox"
	TypeContainer = "container"

	// SandboxContainerName is the container name of sandboxes, as dockershim had it.
	SandboxContainerName = "POD"
)

// sandboxName is k8s_POD_<pod>_<ns>_<uid>_<attempt>.
func sandboxName(pod *v1.Pod, attempt int) string {
	return containerName(SandboxContainerName, pod, attempt)
}

// containerName is k8s_<container>_<pod>_<ns>_<uid>_<attempt>.
func containerName(name string, pod *v1.Pod, attempt int) string {
	return strings.Join([]string{"k8s", name, pod.Name, pod.Namespace, string(pod.UID), strconv.Itoa(attempt)}, "_")
}

// podLabels are the labels shared by a pod's sandbox and containers.
func (r *Runner) podLabels(pod *v1.Pod) map[string]string {
	return map[string]string{
		LabelPodName:      pod.Name,
		LabelPodNamespace: pod.Namespace,
		LabelPodUID:       string(pod.UID),
		LabelInstance:     r.cfg.InstanceID,
		LabelGracePeriod:  strconv.FormatInt(gracePeriod(pod), 10),
		LabelConfigSource: pod.Annotations[manifest.AnnotationConfigSource],
	}
}

// gracePeriod is the pod's terminationGracePeriodSeconds.
func gracePeriod(pod *v1.Pod) int64 {
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		return *g
	}
	return 30
}

// podUIDOf reads a container's pod UID label.
func podUIDOf(c *runtime.Container) types.UID {
	return types.UID(c.Labels[LabelPodUID])
}

func isSandbox(c *runtime.Container) bool {
	return c.Labels[LabelDockerType] == TypeSandbox
}

// attemptOf reads a container's attempt (restart count) label.
func attemptOf(c *runtime.Container) int {
	n, _ := strconv.Atoi(c.Labels[LabelAttempt])
	return n
}
