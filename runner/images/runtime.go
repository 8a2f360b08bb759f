package images

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// Config configures a Runtime.
type Config struct {
	// Runtime is the engine.
	Runtime     runtime.Runtime
	Credentials Credentials
	Limits      Limits
	// Dir, when set, is looked in before a registry.
	Dir    *Dir
	Logger *slog.Logger
	// ProgressEvery is how often a pull's progress is logged (default 5s).
	ProgressEvery time.Duration
}

// Runtime is the engine with runner's ways of getting images: its
// PullImage takes the image from a tarball of the image dir when one holds
// it, else pulls it with the registry's credentials, within the limits,
// logging the progress. Every other method is the engine's. Safe for
// concurrent use.
type Runtime struct {
	runtime.Runtime
	cfg   Config
	limit *limiter
}

// New returns a Runtime; it does no I/O.
func New(cfg Config) (*Runtime, error) {
	if cfg.Runtime == nil {
		return nil, errors.New("images: Config.Runtime is required")
	}
	if err := cfg.Limits.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 5 * time.Second
	}
	return &Runtime{Runtime: cfg.Runtime, cfg: cfg, limit: newLimiter(cfg.Limits)}, nil
}

// PullImage gets image ref: from the tarball of the image dir that holds
// it, else from its registry. opts.Auth, when nil, is taken from the
// credentials file; opts.Progress, when set, is told the progress besides
// the log. When both fail, the error names every place tried; it wraps
// runtime.ErrNotFound when the registry does not know the image. Called
// by the loop's workers and by `runner pull`, on their goroutines.
func (r *Runtime) PullImage(ctx context.Context, ref string, opts runtime.PullOptions) error {
	var tried []string
	if d := r.cfg.Dir; d != nil {
		found, err := d.Provide(ctx, ref)
		switch {
		case found && err == nil:
			if _, ierr := r.Runtime.InspectImage(ctx, ref); ierr == nil {
				return nil
			}
			tried = append(tried, "the tarball of "+d.Path()+" that names it was loaded, yet the image is not there")
		case found:
			tried = append(tried, err.Error())
		default:
			tried = append(tried, d.Describe())
		}
	}
	err := r.pull(ctx, ref, opts)
	if err == nil {
		return nil
	}
	if len(tried) == 0 {
		return err
	}
	host, _ := registryHost(ref)
	return fmt.Errorf("image %s is not present; %s; pull from %s: %w", ref, strings.Join(tried, "; "), host, err)
}

// pull pulls ref from its registry within the limits.
func (r *Runtime) pull(ctx context.Context, ref string, opts runtime.PullOptions) error {
	if opts.Auth == nil {
		auth, err := r.cfg.Credentials.For(ctx, ref)
		if err != nil {
			return err
		}
		opts.Auth = auth
	}
	release, err := r.limit.acquire(ctx)
	if err != nil {
		return fmt.Errorf("pull image %s: %w", ref, err)
	}
	defer release()
	log := r.cfg.Logger.With("image", ref)
	plog := startProgressLog(log, ref, r.cfg.ProgressEvery)
	var last runtime.PullProgress
	caller := opts.Progress
	opts.Progress = func(p runtime.PullProgress) {
		last = p
		plog.note(p)
		if caller != nil {
			caller(p)
		}
	}
	start := time.Now()
	err = r.Runtime.PullImage(ctx, ref, opts)
	plog.stop()
	if err != nil {
		return err
	}
	log.Info("pulled image", "progress", FormatProgress(last), "took", time.Since(start).Round(time.Millisecond).String(), "authenticated", opts.Auth != nil)
	return nil
}
