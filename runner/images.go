package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/pause"
	"github.com/runner-dev/runner/runner/runtime"
)

// DefaultPauseImage is runner's own sandbox image, imported when absent from
// the pause program embedded in runner (or from the runner executable).
const DefaultPauseImage = "runner.local/pause:" + pause.Version

// Waiting reasons, as kubectl shows them.
const (
	reasonContainerCreating = "ContainerCreating"
	reasonPodInitializing   = "PodInitializing"
	reasonCrashLoopBackOff  = "CrashLoopBackOff"
	reasonErrImagePull      = "ErrImagePull"
	reasonImagePullBackOff  = "ImagePullBackOff"
	reasonErrImageNeverPull = "ErrImageNeverPull"
	reasonCreateError       = "CreateContainerError"
	reasonCreateConfigError = "CreateContainerConfigError"
	reasonRunError          = "RunContainerError"
	reasonCompleted         = "Completed"
	reasonError             = "Error"
	reasonOOMKilled         = "OOMKilled"
)

// ensurePauseImage makes sure the sandbox image is present, importing
// runner's own when it is the default. Called by workers; serialised.
func (r *Runner) ensurePauseImage(ctx context.Context, log *slog.Logger) error {
	r.pauseMu.Lock()
	defer r.pauseMu.Unlock()
	if r.pauseReady {
		return nil
	}
	cctx, cancel := r.call(ctx)
	_, err := r.cfg.Runtime.InspectImage(cctx, r.cfg.PauseImage)
	cancel()
	switch {
	case err == nil:
	case errors.Is(err, runtime.ErrNotFound) && r.cfg.PauseImage == DefaultPauseImage:
		if err := r.importPause(ctx); err != nil {
			return err
		}
		log.Info("imported the pause image", "image", r.cfg.PauseImage)
	case errors.Is(err, runtime.ErrNotFound):
		cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		err = r.cfg.Runtime.PullImage(cctx, r.cfg.PauseImage, runtime.PullOptions{})
		cancel()
		if err != nil {
			return fmt.Errorf("pull pod infra image %s: %w", r.cfg.PauseImage, err)
		}
	default:
		return fmt.Errorf("inspect pod infra image %s: %w", r.cfg.PauseImage, err)
	}
	r.pauseReady = true
	return nil
}

// importPause imports runner's own sandbox image, made by pause.WriteRootfs
// (the embedded pause program, or this executable with what it links).
func (r *Runner) importPause(ctx context.Context) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(pause.WriteRootfs(pw)) }()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	err := r.cfg.Runtime.ImportImage(cctx, r.cfg.PauseImage, pr, []string{`ENTRYPOINT ["` + pause.Path + `"]`})
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("import pause image %s: %w", r.cfg.PauseImage, err)
	}
	return nil
}

// ensureImage makes a container's image present per its imagePullPolicy and
// returns it; on failure it gives the waiting reason kubectl would show.
func (r *Runner) ensureImage(ctx context.Context, log *slog.Logger, pod *v1.Pod, c *v1.Container) (runtime.Image, string, error) {
	inspect := func() (runtime.Image, error) {
		cctx, cancel := r.call(ctx)
		defer cancel()
		return r.cfg.Runtime.InspectImage(cctx, c.Image)
	}
	img, err := inspect()
	present := err == nil
	if err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return img, reasonErrImagePull, fmt.Errorf("inspect image %s: %w", c.Image, err)
	}
	switch {
	case c.ImagePullPolicy == v1.PullNever && !present:
		return img, reasonErrImageNeverPull, fmt.Errorf("container image %q is not present with pull policy of Never", c.Image)
	case c.ImagePullPolicy == v1.PullNever, c.ImagePullPolicy == v1.PullIfNotPresent && present:
		return img, "", nil
	}
	r.record(log, refOf(pod), EventNormal, ReasonPulling, c.Name, fmt.Sprintf("Pulling image %q", c.Image))
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	err = r.cfg.Runtime.PullImage(cctx, c.Image, runtime.PullOptions{})
	cancel()
	if err != nil {
		if present {
			// Offline with pull policy Always: run what we have rather than
			// nothing, and say so.
			log.Warn("pull failed; using the image present locally", "container", c.Name, "image", c.Image, "error", err)
			return img, "", nil
		}
		return img, reasonErrImagePull, fmt.Errorf("pull image %s: %w", c.Image, err)
	}
	r.record(log, refOf(pod), EventNormal, ReasonPulled, c.Name, fmt.Sprintf("Successfully pulled image %q in %s", c.Image, time.Since(start).Round(time.Millisecond)))
	img, err = inspect()
	if err != nil {
		return img, reasonErrImagePull, fmt.Errorf("inspect image %s after pull: %w", c.Image, err)
	}
	return img, "", nil
}
