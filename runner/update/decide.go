package update

import "time"

// step is what the Guard does next for one origin.
type step int

const (
	stepNone step = iota
	// stepReady: the current content runs Ready; it becomes the last
	// Ready content.
	stepReady
	// stepStart: the current content is new (an update): its clock starts.
	stepStart
	// stepRollBack: the update did not become Ready in time; the last
	// Ready content runs again.
	stepRollBack
	// stepNoFallback: the update did not become Ready in time, but the
	// origin never ran Ready: there is nothing to roll back to.
	stepNoFallback
	// stepRetry: the origin changed after a rollback: a fresh update.
	stepRetry
)

func (s step) String() string {
	return [...]string{"none", "ready", "start", "roll back", "no fallback", "retry"}[s]
}

// origin is what decide knows of one origin.
type origin struct {
	// sum is the current content's; ready says that every pod of it is
	// Ready (or ran to completion).
	sum   string
	ready bool
	// window is the rollback time of the current content (0: none).
	window time.Duration
	// lastReady is the sum of the last Ready content ("" none).
	lastReady string
	// updating is the sum of the update in progress and since when it was
	// first seen ("" none); failed the sum of a rolled-back update ("" none);
	// told: stepNoFallback was already taken for the update in progress.
	updating string
	since    time.Time
	failed   string
	told     bool
}

// decide is the next step for an origin at now, and when to look again
// (zero: on the next change). Pure.
func decide(o origin, now time.Time) (step, time.Time) {
	switch {
	case o.failed != "" && o.sum != o.failed:
		return stepRetry, time.Time{}
	case o.failed != "":
		return stepNone, time.Time{} // rolled back; waits for a change
	case o.ready && o.sum != o.lastReady:
		return stepReady, time.Time{}
	case o.ready:
		return stepNone, time.Time{}
	case o.sum == o.lastReady:
		return stepNone, time.Time{} // the Ready content, not Ready for now: not an update
	case o.updating != o.sum:
		return stepStart, time.Time{}
	case o.window <= 0 || o.told:
		return stepNone, time.Time{}
	}
	due := o.since.Add(o.window)
	if now.Before(due) {
		return stepNone, due
	}
	if o.lastReady == "" {
		return stepNoFallback, time.Time{}
	}
	return stepRollBack, time.Time{}
}
