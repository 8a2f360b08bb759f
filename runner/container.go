package runner

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
)

// findSpec finds a container of the pod spec by name.
func findSpec(pod *v1.Pod, name string) (*v1.Container, bool) {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i], true
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i], false
		}
	}
	return nil, false
}

// startContainer makes a container's image present, creates the container
// in the pod's sandbox and starts it. It returns the container as it is now
// (none when it could not be created) and, on failure, the waiting reason
// kubectl would show; a container that was created but failed to start is
// kept, its state (the engine's error, exit code 128) being the status and
// the reason for the backoff. Called by a worker.
func (r *Runner) startContainer(ctx context.Context, log *slog.Logger, pod *v1.Pod, a action, sandboxID, hash string) (c seen, w waitingReason, err error) {
	spec0, _ := findSpec(pod, a.container)
	if spec0 == nil {
		return c, w, fmt.Errorf("container %s is not in the pod spec", a.container)
	}
	img, reason, err := r.ensureImage(ctx, log, pod, spec0)
	if err != nil {
		return c, waitingReason{reason: reason, message: err.Error()}, err
	}
	spec, err := r.containerSpec(pod, spec0, a, sandboxID, hash)
	if err == nil {
		err = r.prepareMounts(pod, spec0, a.attempt)
	}
	if err != nil {
		return c, waitingReason{reason: reasonCreateError, message: err.Error()}, err
	}
	cctx, cancel := r.call(ctx)
	id, err := r.cfg.Runtime.CreateContainer(cctx, spec)
	cancel()
	if err != nil {
		err = fmt.Errorf("create container %s of pod %s: %w", spec0.Name, podKey(pod), err)
		return c, waitingReason{reason: reasonCreateError, message: err.Error()}, err
	}
	r.record(log, refOf(pod), EventNormal, ReasonCreated, spec0.Name, "Created container "+spec0.Name, "container_id", shortID(id), "attempt", a.attempt)
	cctx, cancel = r.call(ctx)
	err = r.cfg.Runtime.StartContainer(cctx, id)
	cancel()
	if err != nil {
		err = fmt.Errorf("start container %s of pod %s: %w", spec0.Name, podKey(pod), err)
		seq := r.nextSeq()
		if failed, ierr := r.inspect(context.WithoutCancel(ctx), id); ierr == nil {
			c = seen{c: failed, seq: seq}
		}
		return c, waitingReason{reason: reasonRunError, message: err.Error()}, err
	}
	r.record(log, refOf(pod), EventNormal, ReasonStarted, spec0.Name, "Started container "+spec0.Name, "container_id", shortID(id))
	return seen{c: started(id, spec, img.ID, time.Now()), seq: r.nextSeq()}, waitingReason{}, nil
}

// containerDir is where a container instance's files live.
func (r *Runner) containerDir(pod *v1.Pod, name string, attempt int) string {
	return filepath.Join(r.podDir(pod.UID), "containers", name, strconv.Itoa(attempt))
}

// prepareMounts creates what the container's mounts need on the host:
// emptyDir directories, hostPath DirectoryOrCreate/FileOrCreate, the
// termination-log file.
func (r *Runner) prepareMounts(pod *v1.Pod, c *v1.Container, attempt int) error {
	dir := r.containerDir(pod, c.Name, attempt)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create container directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "termination-log"), nil, 0o666); err != nil {
		return fmt.Errorf("create termination-log: %w", err)
	}
	for _, vm := range c.VolumeMounts {
		vol := findVolume(pod, vm.Name)
		if vol == nil {
			continue
		}
		if err := r.prepareVolume(pod, vol); err != nil {
			return fmt.Errorf("volume %s: %w", vol.Name, err)
		}
	}
	return nil
}

func findVolume(pod *v1.Pod, name string) *v1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}
