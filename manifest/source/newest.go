package source

import (
	"log/slog"
	"time"

	"github.com/runner-dev/runner/manifest"
)

// newest is the snapshot that waits for a source's receiver: only the
// newest one waits, so a slow receiver never blocks the source, and one that
// tells the receiver nothing new after what it has is not sent. Used by the
// Run loop of File, HTTP and Merge, on its goroutine:
//
//	select {
//	case n.ch() <- n.pending:
//		n.taken()
//	...
//	}
type newest struct {
	out     chan<- manifest.Snapshot
	pending manifest.Snapshot
	waiting bool
	sent    manifest.Snapshot // what the receiver has, once given
	given   bool
}

// offer makes snap the snapshot to send, unless the receiver has the same
// already (then nothing waits).
func (n *newest) offer(snap manifest.Snapshot) {
	if n.given && sameSnapshot(snap, n.sent) {
		n.waiting = false
		return
	}
	n.pending, n.waiting = snap, true
}

// ch is out while a snapshot waits, else nil (never ready in a select).
func (n *newest) ch() chan<- manifest.Snapshot {
	if n.waiting {
		return n.out
	}
	return nil
}

// taken records that the receiver took the pending snapshot.
func (n *newest) taken() {
	n.sent, n.given, n.waiting = n.pending, true, false
}

// sourceDefaults fills in what the configs of File and HTTP share: the
// loader (manifest.Load), the logger (discard), the clock (time.Now), and
// the options' source and clock.
func sourceDefaults(load *LoadFunc, logger **slog.Logger, now *func() time.Time, opts *manifest.Options, source string) {
	if *load == nil {
		*load = manifest.Load
	}
	if *logger == nil {
		*logger = slog.New(slog.DiscardHandler)
	}
	if *now == nil {
		*now = time.Now
	}
	if opts.Source == "" {
		opts.Source = source
	}
	if opts.Now == nil {
		opts.Now = *now
	}
}
