package docker

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/runner-dev/runner/runner/runtime"
)

// Logs copies container id's output to stdout and stderr. Without Follow it
// returns once the log so far is copied (bounded by CallTimeout); with Follow
// it returns when the container stops or ctx ends (then with ctx's error).
// Tail < 0 is the whole log, Tail 0 nothing of the past. A TTY container's
// output is one stream; all of it goes to stdout.
func (r *Runtime) Logs(ctx context.Context, id string, opts runtime.LogOptions, stdout, stderr io.Writer) error {
	op := "logs of container " + id
	fullID, tty, err := r.logShape(ctx, id)
	if err != nil {
		return wrap(op, err)
	}

	if !opts.Follow {
		var cancel context.CancelFunc
		ctx, cancel = r.call(ctx)
		defer cancel()
	}
	body, err := r.client.ContainerLogs(ctx, fullID, logsOptions(opts))
	if err != nil {
		return wrap(op, err)
	}
	defer body.Close()
	if tty {
		_, err = io.Copy(stdout, body)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, body)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// logShape returns the container's full ID and whether it was created with
// a TTY, whose log the engine does not multiplex.
func (r *Runtime) logShape(ctx context.Context, id string) (string, bool, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	info, err := r.client.ContainerInspect(ctx, id)
	if err != nil {
		return "", false, err
	}
	return info.ID, info.Config != nil && info.Config.Tty, nil
}

// logsOptions translates LogOptions into the engine's query.
func logsOptions(opts runtime.LogOptions) container.LogsOptions {
	o := container.LogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     opts.Follow,
		Timestamps: opts.Timestamps,
		Tail:       "all",
	}
	if opts.Tail >= 0 {
		o.Tail = strconv.Itoa(opts.Tail)
	}
	if !opts.Since.IsZero() {
		o.Since = fmt.Sprintf("%d.%09d", opts.Since.Unix(), opts.Since.Nanosecond())
	}
	return o
}
