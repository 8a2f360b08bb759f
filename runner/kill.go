package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner/runtime"
)

// killPod tears a pod down: its app containers get their stop signal, the
// grace period and then SIGKILL, all in parallel; then the containers and
// last the sandboxes are removed. It returns the IDs it removed. Called by a
// worker for pods that are no longer desired.
func (r *Runner) killPod(ctx context.Context, log *slog.Logger, observed []*runtime.Container) ([]string, error) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, c := range observed {
		if isSandbox(c) || c.State != runtime.StateRunning {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.stopContainer(ctx, log, c, nil); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var removed []string
	for _, sandboxes := range []bool{false, true} {
		for _, c := range observed {
			if isSandbox(c) != sandboxes {
				continue
			}
			if err := r.detachNetwork(ctx, c); err != nil {
				return removed, err
			}
			if err := r.removeContainer(ctx, c.ID); err != nil {
				return removed, err
			}
			removed = append(removed, c.ID)
		}
	}
	log.Info("pod removed", "containers", len(removed))
	return removed, nil
}

// stopContainer stops one container with its pod's grace period: from the
// pod when it is still desired, else from the container's label.
func (r *Runner) stopContainer(ctx context.Context, log *slog.Logger, c *runtime.Container, pod *v1.Pod) error {
	if c.State == runtime.StateExited {
		return nil
	}
	grace := int64(30)
	if pod != nil {
		grace = gracePeriod(pod)
	} else if g, err := strconv.ParseInt(c.Labels[LabelGracePeriod], 10, 64); err == nil {
		grace = g
	}
	name := c.Labels[LabelContainerName]
	r.record(log, refOfContainer(c), EventNormal, ReasonKilling, name, "Stopping container "+name, "grace_period", grace)
	d := time.Duration(grace) * time.Second
	cctx, cancel := context.WithTimeout(ctx, d+r.cfg.CallTimeout)
	defer cancel()
	if err := r.cfg.Runtime.StopContainer(cctx, c.ID, d); err != nil {
		return fmt.Errorf("stop container %s (%s): %w", name, shortID(c.ID), err)
	}
	return nil
}

// removeContainer removes a container; one that is gone is success.
func (r *Runner) removeContainer(ctx context.Context, id string) error {
	cctx, cancel := r.call(ctx)
	defer cancel()
	if err := r.cfg.Runtime.RemoveContainer(cctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		return fmt.Errorf("remove container %s: %w", shortID(id), err)
	}
	return nil
}
