package metrics

import (
	"context"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/manifest"
)

// StatusSource is the status store as Watch follows it.
type StatusSource interface {
	PodLister
	// Changed returns a channel closed at the next change.
	Changed() <-chan struct{}
}

// Watch follows the status store until ctx ends, recording each pod's
// start duration (once per UID) and the pods that come back with a UID that
// was torn down. It runs on its own goroutine, started and joined by main.
func (m *Metrics) Watch(ctx context.Context, statuses StatusSource) {
	w := newStartWatch()
	for {
		changed := statuses.Changed()
		for _, d := range w.update(statuses.List(), time.Now()) {
			if d.restarted {
				m.restartedPods.WithLabelValues("true").Inc()
			}
			if d.started > 0 {
				m.podStart.Observe(d.started.Seconds())
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// startWatch remembers, per UID, whether its start was measured, and
// which UIDs left the store and when (for goneMemory).
type startWatch struct {
	measured map[types.UID]bool
	present  map[types.UID]bool
	gone     map[types.UID]time.Time
}

// goneMemory is how long a UID that left the store is remembered.
const goneMemory = time.Hour

func newStartWatch() *startWatch {
	return &startWatch{measured: map[types.UID]bool{}, present: map[types.UID]bool{}, gone: map[types.UID]time.Time{}}
}

// startEvent is what one update found for one pod.
type startEvent struct {
	uid       types.UID
	started   time.Duration // > 0: the pod runs for the first time, after this long
	restarted bool
}

// update folds the store's pods in at now. A pod starts when its phase is
// first Running; its start is measured from its config.seen annotation,
// unless one of its containers was already running before that (a pod
// adopted by a restarted runner). Pure but for the state it keeps; called
// on Watch's goroutine.
func (w *startWatch) update(pods []*v1.Pod, now time.Time) []startEvent {
	var out []startEvent
	seen := make(map[types.UID]bool, len(pods))
	for _, p := range pods {
		seen[p.UID] = true
		ev := startEvent{uid: p.UID}
		if _, ok := w.gone[p.UID]; ok {
			delete(w.gone, p.UID)
			ev.restarted = true
		}
		if !w.measured[p.UID] && p.Status.Phase == v1.PodRunning {
			w.measured[p.UID] = true
			if at, ok := seenAt(p); ok && !runningBefore(p, at) && now.After(at) {
				ev.started = now.Sub(at)
			}
		}
		if ev.started > 0 || ev.restarted {
			out = append(out, ev)
		}
	}
	for uid := range w.present {
		if !seen[uid] {
			w.gone[uid] = now
			delete(w.measured, uid)
		}
	}
	for uid, at := range w.gone {
		if now.Sub(at) > goneMemory {
			delete(w.gone, uid)
		}
	}
	w.present = seen
	return out
}

func seenAt(p *v1.Pod) (time.Time, bool) {
	s, ok := p.Annotations[manifest.AnnotationConfigSeen]
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// runningBefore: a container of p started before t.
func runningBefore(p *v1.Pod, t time.Time) bool {
	for _, cs := range p.Status.ContainerStatuses {
		if r := cs.State.Running; r != nil && r.StartedAt.Time.Before(t) {
			return true
		}
	}
	return false
}
