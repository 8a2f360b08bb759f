package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/runner/runtime"
)

// instanceMatch selects the containers of this runner instance.
func (r *Runner) instanceMatch() map[string]string {
	return map[string]string{LabelInstance: r.cfg.InstanceID}
}

// observedUpdate is what the watcher learnt from the engine, as an input.
type observedUpdate struct {
	containers []runtime.Container
	removed    []string
	// full: a complete list; containers not in it are gone, unless the loop
	// learnt of them from a later read.
	full bool
	// seq numbers the engine read (Runner.nextSeq, taken before it began).
	seq uint64
}

// apply folds what the watcher saw into the observed state. Called on the
// loop goroutine.
func (u observedUpdate) apply(l *loop) {
	if u.full {
		seen := make(map[string]bool, len(u.containers))
		for _, c := range u.containers {
			seen[c.ID] = true
		}
		for id := range l.observed.byID {
			if !seen[id] && l.observed.touched[id] < u.seq {
				u.removed = append(u.removed, id)
			}
		}
		// Tombstones older than a complete list are no longer needed.
		for id, seq := range l.observed.gone {
			if seq < u.seq {
				delete(l.observed.gone, id)
			}
		}
	}
	for _, c := range u.containers {
		if l.putContainer(c, u.seq) {
			l.noteNews(podUIDOf(&c), c.ID)
		}
	}
	for _, id := range u.removed {
		if uid := l.removeContainer(id, u.seq); uid != "" {
			l.noteNews(uid, id)
		}
	}
}

// noteNews records that the engine told something new about container id
// of pod uid. After a failed step a pod waits before it is planned again,
// but that pause is for the failed step, not for news of other containers:
// such news is planned at once. Echoes of the failed step's own actions
// wait. Called on the loop goroutine.
func (l *loop) noteNews(uid types.UID, id string) {
	st := l.pods[uid]
	switch {
	case st == nil:
	case st.busy:
		if st.news == nil {
			st.news = map[string]bool{}
		}
		st.news[id] = true
	case !st.retryAt.IsZero() && !st.acted[id]:
		st.urgent = true
	}
}

// engineState tells the loop that the engine stopped or started answering.
type engineState struct {
	down bool
	err  error
}

// apply stops or resumes the loop's workers. While the engine is down no
// worker starts (each would only fail); when it answers again the watcher
// has just sent a fresh list, and pods that failed meanwhile are retried at
// once rather than after their backoff. Called on the loop goroutine.
func (e engineState) apply(l *loop) {
	if e.down == l.engineDown {
		return
	}
	l.engineDown = e.down
	if e.down {
		l.r.log.Warn("the container engine does not answer; pods wait until it is back", "error", e.err)
		return
	}
	l.r.log.Info("the container engine answers again; replanning every pod")
	for uid, st := range l.pods {
		st.retryAt, st.failures = time.Time{}, 0
		l.dirty[uid] = true
		if !l.sandboxRuns(uid) {
			// Its containers died with their sandbox as the engine stopped:
			// no crash of theirs, so no crash-loop backoff (an engine
			// restarted twice within the backoff's reset would else keep
			// every pod down 10 s, then 20 s, ...).
			clear(st.backoff)
			clear(st.startBackoff)
			clear(st.notBefore)
		}
	}
}

// sandboxRuns reports whether pod uid has a running sandbox in the observed
// state. Called on the loop goroutine.
func (l *loop) sandboxRuns(uid types.UID) bool {
	for _, c := range l.observed.byPod[uid] {
		if isSandbox(c) && c.State == runtime.StateRunning {
			return true
		}
	}
	return false
}

// engineLost is the engine-down state entered from a worker's report: a
// step failed because the engine did not answer. The watcher may not know
// yet (dockerd closes its API before it has stopped its containers, while
// its event stream still reports their deaths), so the loop stops starting
// workers at once and asks the watcher to check (Runner.engineSuspect): the
// watcher then reconnects as after a broken stream, and says when the
// engine answers again, with a fresh list. Called on the loop goroutine.
func (l *loop) engineLost(err error) {
	if l.engineDown {
		return
	}
	engineState{down: true, err: err}.apply(l)
	select {
	case l.r.engineSuspect <- struct{}{}:
	default: // the watcher has not taken the last one yet
	}
}

// inspectCache remembers the last inspection of each container, so a relist
// inspects only the containers that are new or whose state changed: in a
// steady state a relist is one engine call, whatever the number of pods.
// The watcher keeps it, and the loop adds what workers report (containers
// they made and started), so that a relist does not inspect them either.
// Safe for concurrent use.
type inspectCache struct {
	mu sync.Mutex
	m  map[string]runtime.Container
}

func newInspectCache() *inspectCache { return &inspectCache{m: map[string]runtime.Container{}} }

func (c *inspectCache) get(id string) (runtime.Container, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[id]
	return v, ok
}

func (c *inspectCache) put(v runtime.Container) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[v.ID] = v
}

func (c *inspectCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// keepOnly forgets every container not in listed.
func (c *inspectCache) keepOnly(listed map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.m {
		if !listed[id] {
			delete(c.m, id)
		}
	}
}

// merge updates a known container with what an event told (c lacks what
// the event did not carry).
func (c *inspectCache) merge(v runtime.Container) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if known, ok := c.m[v.ID]; ok {
		mergeContainer(&v, &known)
		c.m[v.ID] = v
	}
}

// listAll lists every container of this instance and returns the full
// observed state, inspecting what the cache does not already know. With
// lazy, a running container is adopted from the list alone (its labels and
// state are there) and its ID returned in detail, for an inspection later:
// a restarted runner adopts its pods at the cost of one list. Called at
// start by the loop and by the watcher's relists.
func (r *Runner) listAll(ctx context.Context, cache *inspectCache, lazy bool) (u observedUpdate, detail []string, err error) {
	seq := r.nextSeq()
	cctx, cancel := r.call(ctx)
	list, err := r.cfg.Runtime.ListContainers(cctx, r.instanceMatch())
	cancel()
	if err != nil {
		return u, nil, fmt.Errorf("list containers of instance %s: %w", r.cfg.InstanceID, err)
	}
	u = observedUpdate{full: true, seq: seq, containers: make([]runtime.Container, 0, len(list))}
	listed := make(map[string]bool, len(list))
	for _, c := range list {
		listed[c.ID] = true
		if known, ok := cache.get(c.ID); ok && known.State == c.State {
			u.containers = append(u.containers, known)
			continue
		}
		if lazy && c.State == runtime.StateRunning {
			cache.put(c)
			u.containers = append(u.containers, c)
			detail = append(detail, c.ID)
			continue
		}
		full, err := r.inspect(ctx, c.ID)
		if errors.Is(err, runtime.ErrNotFound) {
			cache.forget(c.ID)
			continue
		}
		if err != nil {
			return observedUpdate{}, nil, err
		}
		cache.put(full)
		u.containers = append(u.containers, full)
	}
	cache.keepOnly(listed)
	return u, detail, nil
}

func (r *Runner) inspect(ctx context.Context, id string) (runtime.Container, error) {
	cctx, cancel := r.call(ctx)
	defer cancel()
	c, err := r.cfg.Runtime.InspectContainer(cctx, id)
	if err != nil {
		return c, fmt.Errorf("inspect container %s: %w", id, err)
	}
	return c, nil
}

// eventStream is one subscription to the engine's events.
type eventStream struct {
	events <-chan runtime.Event
	errc   <-chan error
	cancel context.CancelFunc
}

// openEvents subscribes to the events of this instance's containers.
func (r *Runner) openEvents(ctx context.Context) *eventStream {
	sctx, cancel := context.WithCancel(ctx)
	events, errc := r.cfg.Runtime.Events(sctx, r.instanceMatch())
	return &eventStream{events: events, errc: errc, cancel: cancel}
}

// close ends the subscription and waits for the runtime's stream goroutine.
func (s *eventStream) close() {
	s.cancel()
	for range s.events {
	}
}

// Reconnection to an engine that stopped answering: 250 ms doubling to 2 s,
// so that a restarted engine is seen within 2 s without a storm of calls.
const (
	reconnectInitial = 250 * time.Millisecond
	reconnectMax     = 2 * time.Second
)

// watch follows the engine's events for this instance on stream (which it
// owns from then on), first inspects the containers adopted lazily (detail),
// and relists every SyncFrequency, submitting what it learns until ctx ends.
// When the stream breaks (dockerd restarted) it subscribes again and
// relists, since events may have been missed; while the engine does not
// answer it says so once (engineState) and retries calmly. Runs on its own
// goroutine, owned by Run.
func (r *Runner) watch(ctx context.Context, cache *inspectCache, stream *eventStream, detail []string) {
	defer func() { stream.close() }()
	relist := time.NewTicker(r.cfg.SyncFrequency)
	defer relist.Stop()
	if !r.fillDetails(ctx, cache, detail) {
		return
	}
	oom := map[string]bool{}
	check := &suspicion{}
	defer check.disarm()
	for {
		r.follow(ctx, cache, stream, relist.C, oom, check)
		stream.close()
		if ctx.Err() != nil {
			return
		}
		var ok bool
		if stream, ok = r.reconnect(ctx, cache); !ok {
			return
		}
		// A fresh stream: the engine came back for real.
		check.disarm()
		check.wait = 0
	}
}

// suspicion is the watcher's check of a worker's report that the engine
// does not answer (engineLost) while the event stream goes on. A call that
// then succeeds is weak evidence: dockerd closes its listener first and
// serves the connections it has until it exits, so the check waits
// reconnectMax before its call and doubles the wait (to suspectMax) each
// time the engine passed the check but workers found it gone again. Owned
// by the watcher.
type suspicion struct {
	wait  time.Duration // before the next check; 0: reconnectMax
	timer *time.Timer   // armed while a check is due
}

// suspectMax bounds the wait of a suspicion's check.
const suspectMax = 30 * time.Second

// arm schedules a check unless one is due.
func (s *suspicion) arm() {
	if s.timer != nil {
		return
	}
	if s.wait == 0 {
		s.wait = reconnectMax
	}
	s.timer = time.NewTimer(s.wait)
	s.wait = min(s.wait*2, suspectMax)
}

// due fires when the check is due; nil (never) when none is armed.
func (s *suspicion) due() <-chan time.Time {
	if s.timer == nil {
		return nil
	}
	return s.timer.C
}

func (s *suspicion) disarm() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

// follow submits what the events of stream and the relists tell until the
// stream ends, a relist fails, or ctx ends. Called by watch.
func (r *Runner) follow(ctx context.Context, cache *inspectCache, stream *eventStream, relist <-chan time.Time, oom map[string]bool, check *suspicion) {
	for {
		select {
		case ev, ok := <-stream.events:
			if !ok {
				return
			}
			u, ok := eventUpdate(ev, oom, r.nextSeq())
			if !ok {
				continue
			}
			for _, c := range u.containers {
				cache.merge(c)
			}
			for _, id := range u.removed {
				cache.forget(id)
			}
			if !r.submit(ctx, u) {
				return
			}
		case err := <-stream.errc:
			if ctx.Err() == nil {
				r.log.Warn("engine event stream ended; reconnecting", "error", err)
			}
			return
		case <-r.engineSuspect:
			check.arm()
		case <-check.due():
			// A worker found the engine gone (engineLost): reconnect unless
			// it answers.
			check.timer = nil
			if err := r.answers(ctx); err != nil {
				return
			}
			if !r.submit(ctx, engineState{down: false}) {
				return
			}
		case <-relist:
			r.ensureNode(ctx)
			u, _, err := r.listAll(ctx, cache, false)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Warn("relist failed; reconnecting", "error", err)
				}
				return
			}
			if !r.submit(ctx, u) {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// reconnect subscribes again and relists until the engine answers, and
// submits the fresh list. It returns false when ctx ends first.
func (r *Runner) reconnect(ctx context.Context, cache *inspectCache) (*eventStream, bool) {
	down := false
	for wait := reconnectInitial; ; wait = min(wait*2, reconnectMax) {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, false
		}
		// One cheap call tells whether the engine answers; only then
		// subscribe and take the full list (no event falls between them).
		if err := r.answers(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, false
			}
			if !down {
				down = true
				if !r.submit(ctx, engineState{down: true, err: err}) {
					return nil, false
				}
			}
			continue
		}
		stream := r.openEvents(ctx)
		u, _, err := r.listAll(ctx, cache, false)
		if err == nil {
			// Up also when this reconnect saw no failure: the loop may be
			// down from a worker's report (engineLost).
			if !r.submit(ctx, u) || !r.submit(ctx, engineState{down: false}) {
				stream.close()
				return nil, false
			}
			return stream, true
		}
		stream.close()
		if ctx.Err() != nil {
			return nil, false
		}
		if !down {
			down = true
			if !r.submit(ctx, engineState{down: true, err: err}) {
				return nil, false
			}
		}
	}
}

// answers is one cheap call (a list of this instance's containers) that
// tells whether the engine answers.
func (r *Runner) answers(ctx context.Context) error {
	cctx, cancel := r.call(ctx)
	defer cancel()
	_, err := r.cfg.Runtime.ListContainers(cctx, r.instanceMatch())
	return err
}

// fillDetails inspects the containers adopted from the list alone and
// submits them in one update. It returns false when ctx ended.
func (r *Runner) fillDetails(ctx context.Context, cache *inspectCache, ids []string) bool {
	if len(ids) == 0 {
		return true
	}
	u := observedUpdate{seq: r.nextSeq()}
	for _, id := range ids {
		c, err := r.inspect(ctx, id)
		switch {
		case err == nil:
			cache.put(c)
			u.containers = append(u.containers, c)
		case errors.Is(err, runtime.ErrNotFound):
			cache.forget(id)
			u.removed = append(u.removed, id)
		case ctx.Err() != nil:
			return false
		default:
			r.log.Warn("inspect of an adopted container failed; the next relist tries again", "container_id", shortID(id), "error", err)
			cache.forget(id)
		}
	}
	return r.submit(ctx, u)
}

// eventUpdate turns an event into an observed update without a look at the
// engine: a destroy removes the container; a die carries the exit code, the
// time and (in the event's attributes) the container's labels, name and
// image; an oom marks the die to come. Starts are reported by the workers
// that make them (a container started by hand is found by the next relist).
func eventUpdate(ev runtime.Event, oom map[string]bool, seq uint64) (observedUpdate, bool) {
	switch ev.Action {
	case runtime.EventDestroy:
		delete(oom, ev.ContainerID)
		return observedUpdate{removed: []string{ev.ContainerID}, seq: seq}, true
	case runtime.EventOOM:
		oom[ev.ContainerID] = true
	case runtime.EventDie:
		labels := make(map[string]string, len(ev.Labels))
		for k, v := range ev.Labels {
			switch k {
			case "name", "image", "exitCode", "signal", "execDuration":
			default:
				labels[k] = v
			}
		}
		c := runtime.Container{
			ID: ev.ContainerID, Name: ev.Labels["name"], Image: ev.Labels["image"], Labels: labels,
			State: runtime.StateExited, ExitCode: ev.ExitCode, FinishedAt: ev.Time, OOMKilled: oom[ev.ContainerID],
		}
		delete(oom, ev.ContainerID)
		return observedUpdate{containers: []runtime.Container{c}, seq: seq}, true
	}
	return observedUpdate{}, false
}

// ensureNode has the network check (and repair) its once-per-node set-up,
// logging a failure once per change of it. Called by the watcher at each
// relist.
func (r *Runner) ensureNode(ctx context.Context) {
	if r.cfg.Network == nil {
		return
	}
	err := r.cfg.Network.EnsureNode(ctx)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg != r.nodeErr && ctx.Err() == nil {
		if err != nil {
			r.log.Warn("the pod network's node set-up cannot be checked or repaired; retried at the next relist", "error", err)
		} else {
			r.log.Info("the pod network's node set-up is in place again")
		}
	}
	r.nodeErr = msg
}
