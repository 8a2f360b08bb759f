package gc

// The container labels gc reads. They are the runner's (runner/labels.go):
// dockershim's scheme plus runner's instance and attempt labels. gc does not
// import the runner package; main's tests check that the two agree.
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"
	LabelDockerType    = "io.kubernetes.docker.type"
	LabelSandboxID     = "io.kubernetes.sandbox.id"
	LabelAttempt       = "io.runner.attempt"
	LabelInstance      = "io.runner.instance"

	TypeSandbox = "podsandbox"
)
