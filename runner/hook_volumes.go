package runner

import (
	"context"
	"strconv"
)

// volumesHook gives a pod its directory and volumes (runner/volume): the
// host side of every volume before the sandbox and each container start,
// each container instance's bind mounts (subPaths resolved inside their
// volume), and the removal of what a container or the pod left on disk.
type volumesHook struct{ r *Runner }

func (volumesHook) Name() string { return "volumes" }

func (h volumesHook) prestartSandbox(_ context.Context, s *sandboxRun) error {
	return h.r.volumes.PreparePod(s.pod)
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
