package docker

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/runner-dev/runner/runner/runtime"
)

// ListContainers lists containers in every state whose labels include all of
// match. It reads the engine's list, so each Container carries ID, Name,
// Image, ImageID, Labels, State and CreatedAt only; InspectContainer gives
// the rest (Pid, ExitCode, OOMKilled, Error, StartedAt, FinishedAt).
func (r *Runtime) ListContainers(ctx context.Context, match map[string]string) ([]runtime.Container, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	list, err := r.client.ContainerList(ctx, container.ListOptions{All: true, Filters: labelFilters(match)})
	if err != nil {
		return nil, wrap("list containers", err)
	}
	out := make([]runtime.Container, 0, len(list))
	for _, s := range list {
		c := runtime.Container{
			ID:        s.ID,
			Image:     s.Image,
			ImageID:   s.ImageID,
			Labels:    s.Labels,
			State:     stateOf(s.State),
			CreatedAt: time.Unix(s.Created, 0),
		}
		if len(s.Names) > 0 {
			c.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		out = append(out, c)
	}
	return out, nil
}

// labelFilters turns match into the engine's "label=key=value" filters.
func labelFilters(match map[string]string) filters.Args {
	args := filters.NewArgs()
	for k, v := range match {
		args.Add("label", k+"="+v)
	}
	return args
}

// InspectContainer returns what the engine knows of container id (an ID, an
// unambiguous ID prefix or a name).
func (r *Runtime) InspectContainer(ctx context.Context, id string) (runtime.Container, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	info, err := r.client.ContainerInspect(ctx, id)
	if err != nil {
		return runtime.Container{}, wrap("inspect container "+id, err)
	}
	return containerOf(info), nil
}

// containerOf translates an inspect response.
func containerOf(info container.InspectResponse) runtime.Container {
	var c runtime.Container
	if info.ContainerJSONBase != nil {
		c.ID = info.ID
		c.Name = strings.TrimPrefix(info.Name, "/")
		c.ImageID = info.Image
		c.CreatedAt = parseTime(info.Created)
		if s := info.State; s != nil {
			c.State = stateOf(s.Status)
			if c.State == runtime.StateRunning {
				c.Pid = s.Pid
			}
			c.ExitCode = s.ExitCode
			c.OOMKilled = s.OOMKilled
			c.Error = s.Error
			c.StartedAt = parseTime(s.StartedAt)
			c.FinishedAt = parseTime(s.FinishedAt)
		}
	}
	if info.Config != nil {
		c.Image = info.Config.Image
		c.Labels = info.Config.Labels
	}
	return c
}

// stateOf maps Docker's status words. A paused or restarting container still
// has its processes, so it counts as running; a dead or half-removed one as
// exited.
func stateOf(status container.ContainerState) runtime.State {
	switch status {
	case container.StateCreated:
		return runtime.StateCreated
	case container.StateRunning, container.StatePaused, container.StateRestarting:
		return runtime.StateRunning
	case container.StateExited, container.StateDead, container.StateRemoving:
		return runtime.StateExited
	default:
		return runtime.StateUnknown
	}
}

// parseTime reads the engine's RFC 3339 timestamps; Docker's "never"
// (0001-01-01T00:00:00Z) and anything unreadable become the zero time.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// CreateContainer creates a container from spec (see createConfig for how
// fields map) and returns its ID. A taken name is runtime.ErrConflict, a
// missing image runtime.ErrNotFound.
func (r *Runtime) CreateContainer(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	op := "create container " + spec.Name
	cfg, host, err := createConfig(spec)
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	ctx, cancel := r.call(ctx)
	defer cancel()
	resp, err := r.client.ContainerCreate(ctx, cfg, host, nil, nil, spec.Name)
	if err != nil {
		return "", wrap(op, err)
	}
	return resp.ID, nil
}

// StartContainer starts a created or exited container; starting a running
// one is success.
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	ctx, cancel := r.call(ctx)
	defer cancel()
	if err := r.client.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return wrap("start container "+id, err)
	}
	return nil
}

// StopContainer sends the container's stop signal (set at create, else the
// image's, else SIGTERM), waits up to grace (rounded up to whole seconds, the
// engine's unit), then kills it. Gone or not running is success. The call may
// last grace plus CallTimeout.
func (r *Runtime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	seconds := graceSeconds(grace)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second+r.callTimeout)
	defer cancel()
	err := r.client.ContainerStop(ctx, id, container.StopOptions{Timeout: &seconds})
	if err != nil && !isNotFound(err) {
		return wrap("stop container "+id, err)
	}
	return nil
}

// graceSeconds rounds grace up to whole seconds, at least 0.
func graceSeconds(grace time.Duration) int {
	if grace <= 0 {
		return 0
	}
	s := math.Ceil(grace.Seconds())
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(s)
}

// KillContainer sends signal to the container's main process. A container
// that is not running is runtime.ErrConflict.
func (r *Runtime) KillContainer(ctx context.Context, id, signal string) error {
	ctx, cancel := r.call(ctx)
	defer cancel()
	if err := r.client.ContainerKill(ctx, id, signal); err != nil {
		return wrap(fmt.Sprintf("kill container %s with %s", id, signal), err)
	}
	return nil
}

// RemoveContainer removes a container, running or not, with its anonymous
// volumes. Gone is success.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	ctx, cancel := r.call(ctx)
	defer cancel()
	err := r.client.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !isNotFound(err) {
		return wrap("remove container "+id, err)
	}
	return nil
}

// ExportContainer streams the container's root file system as a tarball.
// The context bounds the whole stream, not one call: exports can be large.
func (r *Runtime) ExportContainer(ctx context.Context, id string) (io.ReadCloser, error) {
	rc, err := r.client.ContainerExport(ctx, id)
	if err != nil {
		return nil, wrap("export container "+id, err)
	}
	return rc, nil
}
