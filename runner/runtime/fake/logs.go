package fake

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// timestampLayout is Docker's fixed-width RFC 3339 with nanoseconds.
const timestampLayout = "2006-01-02T15:04:05.000000000Z07:00"

// logLine is one line of a container's output, with its newline.
type logLine struct {
	stderr bool
	text   string
	time   time.Time
}

// WriteLog appends output to container id's log, as its process would write
// it: stdout first, then stderr, each split into lines. The container may be
// in any state.
func (r *Runtime) WriteLog(id, stdout, stderr string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.findLocked(id)
	if err != nil {
		return fmt.Errorf("write log of container %s: %w", id, err)
	}
	now := r.now()
	for _, s := range []struct {
		text   string
		stderr bool
	}{{stdout, false}, {stderr, true}} {
		for _, line := range strings.SplitAfter(s.text, "\n") {
			if line != "" {
				c.logs = append(c.logs, logLine{stderr: s.stderr, text: line, time: now})
			}
		}
	}
	c.notifyLocked()
	return nil
}

// Logs copies the log of container id. With Follow it then waits for more
// lines until the container is no longer running, is removed, or ctx ends
// (then returning ctx's error).
func (r *Runtime) Logs(ctx context.Context, id string, opts runtime.LogOptions, stdout, stderr io.Writer) error {
	op := "logs of container " + id
	r.mu.Lock()
	if err := r.recordLocked("Logs", id); err != nil {
		r.mu.Unlock()
		return err
	}
	c, err := r.findLocked(id)
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}

	r.mu.Lock()
	lines := selectLines(c.logs, opts)
	next := len(c.logs)
	more, changed := opts.Follow && r.followableLocked(c), c.changed
	r.mu.Unlock()
	for {
		if err := writeLines(lines, opts.Timestamps, stdout, stderr); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if !more {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", op, ctx.Err())
		case <-changed:
		}
		r.mu.Lock()
		lines = sinceOf(c.logs[next:], opts.Since)
		next = len(c.logs)
		more, changed = r.followableLocked(c), c.changed
		r.mu.Unlock()
	}
}

// followableLocked reports whether a follower of c should wait for more:
// it still runs and exists. The caller holds r.mu.
func (r *Runtime) followableLocked(c *fakeContainer) bool {
	return c.State == runtime.StateRunning && r.containers[c.ID] == c
}

// selectLines applies Since, then Tail (< 0: all).
func selectLines(all []logLine, opts runtime.LogOptions) []logLine {
	lines := sinceOf(all, opts.Since)
	if opts.Tail >= 0 && len(lines) > opts.Tail {
		lines = lines[len(lines)-opts.Tail:]
	}
	return lines
}

// sinceOf copies the lines not older than since (zero: all).
func sinceOf(lines []logLine, since time.Time) []logLine {
	var out []logLine
	for _, l := range lines {
		if since.IsZero() || !l.time.Before(since) {
			out = append(out, l)
		}
	}
	return out
}

// writeLines writes lines to their stream, with Docker's timestamp prefix
// when asked.
func writeLines(lines []logLine, timestamps bool, stdout, stderr io.Writer) error {
	for _, l := range lines {
		w := stdout
		if l.stderr {
			w = stderr
		}
		text := l.text
		if timestamps {
			text = l.time.UTC().Format(timestampLayout) + " " + text
		}
		if _, err := io.WriteString(w, text); err != nil {
			return err
		}
	}
	return nil
}
