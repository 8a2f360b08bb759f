package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/runner-dev/runner/runner/images"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/docker"
)

// pullCommand is `runner pull IMAGE...`: get images as the daemon does
// (the image dir's tarballs first, then the registry with the credential
// file, within the pull limits), showing progress.
func pullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "get images as runner does: from a tarball of --image-dir, else from the registry with --image-credential-file, showing the progress",
		ArgsUsage: "IMAGE...",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "root-dir", EnvVars: []string{"RUNNER_ROOT_DIR"}, Value: "/var/lib/runner", Usage: "runner's root dir (its images dir is <root-dir>/images)"},
			&cli.StringFlag{Name: "docker-endpoint", EnvVars: []string{"RUNNER_DOCKER_ENDPOINT"}, Usage: "Docker engine address (default $DOCKER_HOST, else unix:///var/run/docker.sock)"},
		}, imageFlags()...),
		Action: func(c *cli.Context) error {
			if !c.Args().Present() {
				return cli.Exit("runner pull: name at least one image (see runner pull --help)", exitUsage)
			}
			engine, err := docker.New(docker.Config{Endpoint: c.String("docker-endpoint")})
			if err != nil {
				return cli.Exit(err, exitUsage)
			}
			log := slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
			imgs, err := newImageService(c, log, engine)
			if err != nil {
				return cli.Exit(err, exitUsage)
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if err := imgs.dir.Load(ctx); err != nil {
				log.Warn("image dir not read", "error", err)
			}
			if err := pullImages(ctx, imgs.runtime, c.Args().Slice(), c.App.Writer, isTerminal(c.App.Writer)); err != nil {
				return cli.Exit(err, exitFail)
			}
			return nil
		},
	}
}

// pullImages pulls refs one after the other through rt, writing the
// progress to out: on a terminal a bar redrawn in place, elsewhere a line
// every few seconds; then one line per image. It stops at the first
// failure.
func pullImages(ctx context.Context, rt runtime.Runtime, refs []string, out io.Writer, tty bool) error {
	for _, ref := range refs {
		bar := &progressBar{out: out, ref: ref, tty: tty, every: 5 * time.Second}
		if tty {
			bar.every = 100 * time.Millisecond
		}
		start := time.Now()
		err := rt.PullImage(ctx, ref, runtime.PullOptions{Progress: bar.update})
		bar.finish()
		if err != nil {
			return fmt.Errorf("pull %s: %w", ref, err)
		}
		fmt.Fprintf(out, "%s: pulled in %s\n", ref, time.Since(start).Round(100*time.Millisecond))
	}
	return nil
}

// progressBar draws a pull's progress. update is called on the pulling
// goroutine.
type progressBar struct {
	out   io.Writer
	ref   string
	tty   bool
	every time.Duration
	mu    sync.Mutex
	last  time.Time
	p     runtime.PullProgress
	drawn bool
}

func (b *progressBar) update(p runtime.PullProgress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.p = p
	if time.Since(b.last) >= b.every {
		b.drawLocked()
	}
}

// finish draws the last state (on a terminal) and ends the bar's line.
func (b *progressBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tty && b.drawn {
		b.drawLocked()
		fmt.Fprint(b.out, "\n")
	}
}

func (b *progressBar) drawLocked() {
	b.last, b.drawn = time.Now(), true
	if !b.tty {
		fmt.Fprintf(b.out, "%s: %s\n", b.ref, images.FormatProgress(b.p))
		return
	}
	fmt.Fprintf(b.out, "\r\033[K%s %s %s", b.ref, bar(b.p, 30), images.FormatProgress(b.p))
}

// bar is "[=====>    ]  45%" of width cells, by bytes (by layers while
// no size is known).
func bar(p runtime.PullProgress, width int) string {
	frac := 0.0
	switch {
	case p.Total > 0:
		frac = float64(p.Current) / float64(p.Total)
	case p.Layers > 0:
		frac = float64(p.LayersDone) / float64(p.Layers)
	}
	if p.Layers > 0 && p.LayersDone == p.Layers {
		frac = 1
	}
	frac = min(max(frac, 0), 1)
	full := int(frac * float64(width))
	s := strings.Repeat("=", full)
	if full < width {
		s += ">" + strings.Repeat(" ", width-full-1)
	}
	return fmt.Sprintf("[%s] %3d%%", s, int(frac*100))
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
