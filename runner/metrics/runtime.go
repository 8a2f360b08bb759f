package metrics

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// Operation types of kubelet_runtime_operations_*: the CRI's names where
// the seam's call means the same, the seam's own otherwise.
const (
	opVersion          = "version"
	opListContainers   = "list_containers"
	opContainerStatus  = "container_status"
	opCreateContainer  = "create_container"
	opStartContainer   = "start_container"
	opStopContainer    = "stop_container"
	opKillContainer    = "kill_container"
	opRemoveContainer  = "remove_container"
	opImageStatus      = "image_status"
	opListImages       = "list_images"
	opPullImage        = "pull_image"
	opImportImage      = "import_image"
	opRemoveImage      = "remove_image"
	opExecSync         = "exec_sync"
	opContainerLogs    = "container_logs"
	opContainerEvents  = "container_events"
	codeCreateError    = "CreateContainerError"
	codeRunError       = "RunContainerError"
	typeContainer      = "container"
	typeInitContainer  = "init_container"
	typeSandbox        = "podsandbox"
	labelDockerType    = "io.kubernetes.docker.type"
	labelInitContainer = "io.runner.init-container"
	// maxPendingStarts bounds the containers created and not yet started
	// that the wrapper remembers the type of.
	maxPendingStarts = 4096
)

// instrumented is a runtime.Runtime that counts and times every call.
type instrumented struct {
	runtime.Runtime
	m *Metrics
	// created: the type of each container created and not yet started.
	mu      sync.Mutex
	created map[string]string
}

// InstrumentRuntime wraps rt so that every call is counted, timed and its
// errors counted by operation type, and container and sandbox starts are
// counted as the kubelet counts them. main gives the loop the wrapper in
// place of the engine's runtime.
func (m *Metrics) InstrumentRuntime(rt runtime.Runtime) runtime.Runtime {
	return &instrumented{Runtime: rt, m: m, created: map[string]string{}}
}

// observe records one call of op that began at start.
func (r *instrumented) observe(op string, start time.Time, err error) {
	r.m.runtimeOps.WithLabelValues(op).Inc()
	r.m.runtimeDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil {
		r.m.runtimeErrors.WithLabelValues(op).Inc()
	}
}

// count records a call of a stream, whose duration means nothing.
func (r *instrumented) count(op string, err error) {
	r.m.runtimeOps.WithLabelValues(op).Inc()
	if err != nil {
		r.m.runtimeErrors.WithLabelValues(op).Inc()
	}
}

func (r *instrumented) Version(ctx context.Context) (string, error) {
	start := time.Now()
	v, err := r.Runtime.Version(ctx)
	r.observe(opVersion, start, err)
	return v, err
}

func (r *instrumented) ListContainers(ctx context.Context, match map[string]string) ([]runtime.Container, error) {
	start := time.Now()
	l, err := r.Runtime.ListContainers(ctx, match)
	r.observe(opListContainers, start, err)
	return l, err
}

func (r *instrumented) InspectContainer(ctx context.Context, id string) (runtime.Container, error) {
	start := time.Now()
	c, err := r.Runtime.InspectContainer(ctx, id)
	r.observe(opContainerStatus, start, err)
	return c, err
}

// containerType is the kubelet's container_type of a spec's labels.
func containerType(labels map[string]string) string {
	switch {
	case labels[labelDockerType] == typeSandbox:
		return typeSandbox
	case labels[labelInitContainer] == "true":
		return typeInitContainer
	}
	return typeContainer
}

func (r *instrumented) CreateContainer(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	start := time.Now()
	id, err := r.Runtime.CreateContainer(ctx, spec)
	r.observe(opCreateContainer, start, err)
	typ := containerType(spec.Labels)
	r.startAttempt(typ)
	if err != nil {
		r.startFailed(typ, codeCreateError)
		return id, err
	}
	r.mu.Lock()
	if len(r.created) < maxPendingStarts {
		r.created[id] = typ
	}
	r.mu.Unlock()
	return id, nil
}

func (r *instrumented) startAttempt(typ string) {
	if typ == typeSandbox {
		r.m.startedPods.Inc()
	} else {
		r.m.startedContainers.WithLabelValues(typ).Inc()
	}
}

func (r *instrumented) startFailed(typ, code string) {
	if typ == typeSandbox {
		r.m.startedPodsErrors.Inc()
	} else {
		r.m.startedContainersErrors.WithLabelValues(typ, code).Inc()
	}
}

// takeCreated forgets and returns the type of a created container.
func (r *instrumented) takeCreated(id string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	typ, ok := r.created[id]
	delete(r.created, id)
	return typ, ok
}

func (r *instrumented) StartContainer(ctx context.Context, id string) error {
	start := time.Now()
	err := r.Runtime.StartContainer(ctx, id)
	r.observe(opStartContainer, start, err)
	if typ, ok := r.takeCreated(id); ok && err != nil {
		r.startFailed(typ, codeRunError)
	}
	return err
}

func (r *instrumented) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	start := time.Now()
	err := r.Runtime.StopContainer(ctx, id, grace)
	r.observe(opStopContainer, start, err)
	return err
}

func (r *instrumented) KillContainer(ctx context.Context, id, signal string) error {
	start := time.Now()
	err := r.Runtime.KillContainer(ctx, id, signal)
	r.observe(opKillContainer, start, err)
	return err
}

func (r *instrumented) RemoveContainer(ctx context.Context, id string) error {
	start := time.Now()
	err := r.Runtime.RemoveContainer(ctx, id)
	r.observe(opRemoveContainer, start, err)
	r.takeCreated(id)
	return err
}

func (r *instrumented) InspectImage(ctx context.Context, ref string) (runtime.Image, error) {
	start := time.Now()
	img, err := r.Runtime.InspectImage(ctx, ref)
	r.observe(opImageStatus, start, err)
	return img, err
}

func (r *instrumented) ListImages(ctx context.Context) ([]runtime.Image, error) {
	start := time.Now()
	l, err := r.Runtime.ListImages(ctx)
	r.observe(opListImages, start, err)
	return l, err
}

func (r *instrumented) PullImage(ctx context.Context, ref string, opts runtime.PullOptions) error {
	start := time.Now()
	err := r.Runtime.PullImage(ctx, ref, opts)
	r.observe(opPullImage, start, err)
	return err
}

func (r *instrumented) ImportImage(ctx context.Context, ref string, rootfs io.Reader, changes []string) error {
	start := time.Now()
	err := r.Runtime.ImportImage(ctx, ref, rootfs, changes)
	r.observe(opImportImage, start, err)
	return err
}

func (r *instrumented) RemoveImage(ctx context.Context, id string) error {
	start := time.Now()
	err := r.Runtime.RemoveImage(ctx, id)
	r.observe(opRemoveImage, start, err)
	return err
}

func (r *instrumented) Exec(ctx context.Context, id string, cmd []string) (runtime.ExecResult, error) {
	start := time.Now()
	res, err := r.Runtime.Exec(ctx, id, cmd)
	r.observe(opExecSync, start, err)
	return res, err
}

func (r *instrumented) Logs(ctx context.Context, id string, opts runtime.LogOptions, stdout, stderr io.Writer) error {
	start := time.Now()
	err := r.Runtime.Logs(ctx, id, opts, stdout, stderr)
	if opts.Follow {
		r.count(opContainerLogs, err)
	} else {
		r.observe(opContainerLogs, start, err)
	}
	return err
}

func (r *instrumented) Events(ctx context.Context, match map[string]string) (<-chan runtime.Event, <-chan error) {
	// A stream: counted when opened; its end is not an operation's error.
	r.count(opContainerEvents, nil)
	return r.Runtime.Events(ctx, match)
}
