package runner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
)

// volumesHook gives a pod its directory and volumes (runner/volume): the
// host side of every volume before the sandbox and each container start,
// each container instance's bind mounts (subPaths resolved inside their
// volume), and the removal of what a container or the pod left on disk.
type volumesHook struct{ r *Runner }

func (volumesHook) Name() string { return "volumes" }

func (h volumesHook) prestartSandbox(ctx context.Context, s *sandboxRun) error {
	for i := range s.pod.Spec.Volumes {
		if vol := &s.pod.Spec.Volumes[i]; vol.Image != nil {
			if err := h.r.writeImageVolume(ctx, s, vol); err != nil {
				return fmt.Errorf("image volume %s: %w", vol.Name, err)
			}
		}
	}
	return h.r.volumes.PreparePod(s.pod)
}

// writeImageVolume fills an image volume with the root file system of its
// image, pulled per its pullPolicy: a container made from the image (never
// started) is exported and removed. Skipped when the volume holds that
// image already. Called by the volumes hook before the sandbox is created.
func (r *Runner) writeImageVolume(ctx context.Context, s *sandboxRun, vol *v1.Volume) error {
	src := vol.Image
	img, _, err := r.ensureImage(ctx, s.log, s.pod, &v1.Container{Name: "volume " + vol.Name, Image: src.Reference, ImagePullPolicy: src.PullPolicy})
	if err != nil {
		return err
	}
	if r.volumes.ImageVolumeCurrent(s.pod, vol, img.ID) {
		return nil
	}
	labels := r.podLabels(s.pod)
	labels[LabelContainerName] = "image-volume-" + vol.Name
	labels[LabelDockerType] = TypeContainer
	cctx, cancel := r.call(ctx)
	id, err := r.cfg.Runtime.CreateContainer(cctx, runtime.ContainerSpec{
		Name: containerName("image-volume-"+vol.Name, s.pod, 0), Image: src.Reference, Labels: labels,
		Entrypoint: []string{"/image-volume-is-never-started"}, Cmd: []string{}, NetworkMode: "none",
	})
	cancel()
	if err != nil {
		return fmt.Errorf("create a container of image %s to export it: %w", src.Reference, err)
	}
	defer func() {
		tctx, cancel := teardownCtx(ctx, r.cfg.CallTimeout)
		defer cancel()
		if err := r.cfg.Runtime.RemoveContainer(tctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			s.log.Warn("the container exported for an image volume was not removed; the pod's next plan removes it", "volume", vol.Name, "error", err)
		}
	}()
	ectx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	rc, err := r.cfg.Runtime.ExportContainer(ectx, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := r.volumes.WriteImageVolume(s.pod, vol, img.ID, rc); err != nil {
		return err
	}
	s.log.Info("image volume written", "volume", vol.Name, "image", src.Reference, "image_id", img.ID)
	return nil
}

func (h volumesHook) prestartContainer(_ context.Context, c *containerRun) error {
	// Again: downwardAPI files follow the pod, and a volume of a pod whose
	// sandbox was adopted may not have been prepared by this process.
	if err := h.r.volumes.PreparePod(c.pod); err != nil {
		return err
	}
	mounts, err := h.r.volumes.PrepareContainer(c.pod, c.spec, c.env, c.attempt)
	if err != nil {
		return err
	}
	c.create.Mounts = append(c.create.Mounts, mounts...)
	return nil
}

func (h volumesHook) destroyContainer(_ context.Context, c *containerRun) error {
	return h.r.volumes.CleanupContainer(c.ref.uid, c.name, c.attempt)
}

func (h volumesHook) destroyPod(_ context.Context, s *sandboxRun) error {
	return h.r.volumes.CleanupPod(s.ref.uid)
}

// instanceOf names the container instance c of the engine: its container
// name and attempt, from its labels.
func instanceOf(labels map[string]string) (name string, attempt int) {
	n, _ := strconv.Atoi(labels[LabelAttempt])
	return labels[LabelContainerName], n
}
