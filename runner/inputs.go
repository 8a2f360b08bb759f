package runner

import (
	"context"

	"github.com/runner-dev/runner/manifest"
)

// An input is anything that reaches the loop: a snapshot of the desired
// pods, what the watcher learnt from the engine, a worker's report, a probe
// result, a question. Producers never read the loop's state: they hand an
// input to submit and the loop applies it on its own goroutine, one input at
// a time, then plans the pods it made dirty.
//
// To add a producer: define its input type in the file of its concern with
// an apply method, and submit values of it.
type input interface {
	// apply folds the input into the loop's state. Called on the loop
	// goroutine only.
	apply(l *loop)
}

// inboxSize bounds what producers may queue ahead of the loop; a full inbox
// makes them wait (the loop never waits on a producer).
const inboxSize = 256

// submit hands in to the loop. It returns false, having dropped in, when ctx
// ends first. Safe from any goroutine.
func (r *Runner) submit(ctx context.Context, in input) bool {
	select {
	case r.inbox <- in:
		return true
	case <-ctx.Done():
		return false
	}
}

// snapshotInput is a new desired state from the sources.
type snapshotInput struct{ snap manifest.Snapshot }

func (s snapshotInput) apply(l *loop) { l.applySnapshot(s.snap) }

// forwardSnapshots submits every snapshot of snaps until ctx ends or snaps
// is closed. Runs on its own goroutine, owned by Run.
func (r *Runner) forwardSnapshots(ctx context.Context, snaps <-chan manifest.Snapshot) {
	for {
		select {
		case s, ok := <-snaps:
			if !ok || !r.submit(ctx, snapshotInput{s}) {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// query runs fn on the loop goroutine and closes done after it: how other
// goroutines read the loop's state (copies only) or learn that it is alive.
type query struct {
	fn   func(l *loop)
	done chan struct{}
}

func (q query) apply(l *loop) {
	if q.fn != nil {
		q.fn(l)
	}
	close(q.done)
}

// ask runs fn on the loop goroutine and waits for it, or for ctx. It is how
// the API and the health check read what only the loop owns; fn must not
// block and must copy what it hands out.
func (r *Runner) ask(ctx context.Context, fn func(l *loop)) error {
	q := query{fn: fn, done: make(chan struct{})}
	if !r.submit(ctx, q) {
		return ctx.Err()
	}
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Ping returns once the loop has answered, or with ctx's error: a health
// check of the loop goroutine. Safe from any goroutine.
func (r *Runner) Ping(ctx context.Context) error { return r.ask(ctx, nil) }
