package gc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// Config configures a Manager. Zero values take the documented defaults.
type Config struct {
	Engine  Engine  // required
	Pods    Pods    // required: the reconcile loop
	ImageFS ImageFS // required: the engine's data root
	// Reporter hears of every removal and pass; nil: nobody.
	Reporter Reporter
	Logger   *slog.Logger
	// RootDir is runner's root directory; the image records live in
	// RootDir/gc. Required.
	RootDir string
	// InstanceID is the runner's instance label: only containers carrying
	// it are collected. Required.
	InstanceID string
	// PauseImage, PinnedImages (references or IDs) and the images
	// LoadedImages lists (called once per image pass; nil: none) are never
	// removed.
	PauseImage   string
	PinnedImages []string
	LoadedImages func() []string
	Containers   ContainerPolicy
	Images       ImagePolicy
	// ContainerPeriod and ImagePeriod space the passes of Run (defaults 1m
	// and 5m, the kubelet's).
	ContainerPeriod time.Duration
	ImagePeriod     time.Duration
	// CallTimeout bounds each engine call (default 30s).
	CallTimeout time.Duration
}

// Manager collects garbage with the policies of its Config. Create it with
// New, run the periodic passes with Run; RunOnce, ReclaimDisk and the
// Collect methods are safe from any goroutine: passes never overlap.
type Manager struct {
	cfg Config
	log *slog.Logger
	// mu is held for a whole pass; it guards records.
	mu      sync.Mutex
	records *imageRecords
}

// New checks cfg and loads the image records from RootDir (an unreadable
// file is logged and replaced). Called once by main.
func New(cfg Config) (*Manager, error) {
	var errs []error
	if cfg.Engine == nil || cfg.Pods == nil || cfg.ImageFS == nil {
		errs = append(errs, errors.New("gc: Config.Engine, Pods and ImageFS are required"))
	}
	if cfg.RootDir == "" || cfg.InstanceID == "" {
		errs = append(errs, errors.New("gc: Config.RootDir and InstanceID are required"))
	}
	if err := cfg.Images.Validate(); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParsePinned(cfg.PinnedImages); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ContainerPeriod <= 0 {
		cfg.ContainerPeriod = time.Minute
	}
	if cfg.ImagePeriod <= 0 {
		cfg.ImagePeriod = 5 * time.Minute
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 30 * time.Second
	}
	m := &Manager{cfg: cfg, log: cfg.Logger.With("component", "gc")}
	records, err := loadRecords(cfg.RootDir)
	if err != nil {
		m.log.Warn("image records unreadable; every image counts as first seen now", "error", err)
	}
	m.records = records
	return m, nil
}

// Run collects containers every ContainerPeriod and images every
// ImagePeriod, each first one period after the start, until ctx ends.
// Called by main on a goroutine of its own.
func (m *Manager) Run(ctx context.Context) {
	containers := time.NewTicker(m.cfg.ContainerPeriod)
	defer containers.Stop()
	images := time.NewTicker(m.cfg.ImagePeriod)
	defer images.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-containers.C:
			m.CollectContainers(ctx)
		case <-images.C:
			m.CollectImages(ctx)
		}
	}
}

// RunOnce collects containers, then images, now.
func (m *Manager) RunOnce(ctx context.Context) error {
	c := m.CollectContainers(ctx)
	i := m.CollectImages(ctx)
	return errors.Join(c.Err, i.Err)
}

// ReclaimDisk is the eviction manager's reclaim under disk pressure:
// containers under the policy, then every unused image (still never one
// younger than the minimum age, in use or kept). It returns when both
// passes are done; an error means a pass failed, not that nothing was freed.
func (m *Manager) ReclaimDisk(ctx context.Context) error {
	c := m.CollectContainers(ctx)
	i := m.collectImages(ctx, true)
	return errors.Join(c.Err, i.Err)
}

// call returns a context for one engine call.
func (m *Manager) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.cfg.CallTimeout)
}

// CollectContainers runs one container pass and returns what it did.
func (m *Manager) CollectContainers(ctx context.Context) Pass {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := Pass{Kind: PassContainers, Started: time.Now()}
	defer m.finish(&p)

	// List before asking the loop: a container listed belongs to a pod that
	// was desired then, and still is if the loop says so after.
	cctx, cancel := m.call(ctx)
	list, err := m.cfg.Engine.ListContainers(cctx, map[string]string{LabelInstance: m.cfg.InstanceID})
	cancel()
	if err != nil {
		p.Err, p.EventReason = fmt.Errorf("container gc: %w", err), ReasonContainerGCFailed
		return p
	}
	pods, err := m.cfg.Pods.PodsForGC(ctx)
	if err != nil {
		p.Err, p.EventReason = fmt.Errorf("container gc: ask the loop for its pods: %w", err), ReasonContainerGCFailed
		return p
	}
	m.records.touch(list, p.Started)
	for _, r := range PlanContainers(list, m.cfg.InstanceID, pods, m.cfg.Containers, time.Now()) {
		cctx, cancel := m.call(ctx)
		err := m.cfg.Engine.RemoveContainer(cctx, r.ID)
		cancel()
		if !m.removed(&p, r, err) {
			break
		}
	}
	return p
}

// CollectImages runs one image pass and returns what it did.
func (m *Manager) CollectImages(ctx context.Context) Pass {
	return m.collectImages(ctx, false)
}

// collectImages is an image pass; all frees every unused image whatever the
// thresholds.
func (m *Manager) collectImages(ctx context.Context, all bool) Pass {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := Pass{Kind: PassImages, Started: time.Now()}
	defer m.finish(&p)
	fail := func(op string, err error) Pass {
		p.Err, p.EventReason = fmt.Errorf("image gc: %s: %w", op, err), ReasonImageGCFailed
		return p
	}

	usage, err := m.cfg.ImageFS.ImageFSUsage(ctx)
	if err != nil {
		return fail("measure the image file system", err)
	}
	p.Usage = usage
	cctx, cancel := m.call(ctx)
	images, err := m.cfg.Engine.ListImages(cctx)
	cancel()
	if err != nil {
		return fail("list images", err)
	}
	// Every container, runner's or not: an image any of them uses stays.
	cctx, cancel = m.call(ctx)
	containers, err := m.cfg.Engine.ListContainers(cctx, nil)
	cancel()
	if err != nil {
		return fail("list containers", err)
	}
	states := ImageStates(images, containers, m.keep())
	now := time.Now()
	m.records.observe(states, now)
	if err := m.records.save(); err != nil {
		m.log.Warn("image records not saved; last use is lost if runner restarts", "error", err)
	}
	plan := planImages(states, usage, m.cfg.Images, now, all)
	for _, r := range plan.Remove {
		cctx, cancel := m.call(ctx)
		err := m.cfg.Engine.RemoveImage(cctx, r.ID)
		cancel()
		if !m.removed(&p, r, err) {
			break
		}
		if err == nil {
			p.Freed += r.Bytes
		}
	}
	if plan.Err != nil && p.Err == nil {
		p.Err, p.EventReason = fmt.Errorf("image gc: %w", plan.Err), ReasonFreeDiskSpaceFailed
	}
	return p
}

// removed records the outcome of one removal and says whether the pass
// goes on: not when the engine is down or ctx has ended.
func (m *Manager) removed(p *Pass, r Removal, err error) (goOn bool) {
	switch {
	case err == nil, errors.Is(err, runtime.ErrNotFound):
		p.Removed = append(p.Removed, r)
		m.logRemoval(r)
		if m.cfg.Reporter != nil {
			m.cfg.Reporter.Removed(r)
		}
		return true
	case errors.Is(err, runtime.ErrConflict):
		// An image a container started using since the list, or a container
		// the engine is busy with: next pass.
		m.log.Debug("not removed: in use", "kind", r.Kind, "id", r.ID, "error", err)
		return true
	}
	p.Failed++
	if p.Err == nil {
		p.Err = fmt.Errorf("remove %s %s: %w", r.Kind, r.ID, err)
		p.EventReason = ReasonContainerGCFailed
		if r.Kind == KindImage {
			p.EventReason = ReasonImageGCFailed
		}
	}
	return !errors.Is(err, runtime.ErrUnavailable) && !errors.Is(err, context.Canceled)
}

func (m *Manager) logRemoval(r Removal) {
	switch r.Kind {
	case KindImage:
		m.log.Info("removed unused image", "image", r.Name, "id", r.ID, "bytes", r.Bytes, "reason", r.Reason)
	default:
		m.log.Info("removed dead "+string(r.Kind), "container", r.Name, "pod", r.Pod, "uid", r.PodUID, "reason", r.Reason)
	}
}

// finish times the pass, logs a failure and reports it.
func (m *Manager) finish(p *Pass) {
	p.Duration = time.Since(p.Started)
	if p.Err != nil {
		m.log.Warn("garbage collection failed", "pass", p.Kind, "reason", p.EventReason, "removed", len(p.Removed), "error", p.Err)
	} else {
		m.log.Debug("garbage collection done", "pass", p.Kind, "removed", len(p.Removed), "freed_bytes", p.Freed, "duration", p.Duration)
	}
	if m.cfg.Reporter != nil {
		m.cfg.Reporter.PassDone(*p)
	}
}

// keep is every reference of an image that is never removed, and why.
func (m *Manager) keep() map[string]string {
	keep := map[string]string{}
	if m.cfg.LoadedImages != nil {
		for _, r := range m.cfg.LoadedImages() {
			keep[r] = KeptLoaded
		}
	}
	for _, r := range m.cfg.PinnedImages {
		keep[r] = KeptPinned
	}
	if m.cfg.PauseImage != "" {
		keep[m.cfg.PauseImage] = KeptPause
	}
	return keep
}
