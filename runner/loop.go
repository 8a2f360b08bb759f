package runner

import (
	"context"
	"errors"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/runner/restart"
	"github.com/runner-dev/runner/runner/runtime"
)

// loop is the state of one Run. Every field is owned by the loop goroutine
// except the channels.
type loop struct {
	r             *Runner
	desired       map[types.UID]*v1.Pod
	desiredByName map[string]types.UID
	// hashes of the desired pods' containers, computed once per pod object.
	hashes   map[types.UID]map[string]string
	observed *observedState
	pods     map[types.UID]*podState
	dirty    map[types.UID]bool
	synced   bool // the first snapshot has arrived
	running  int  // workers in flight
	timer    *time.Timer

	results chan workResult     // workers → loop
	updates chan observedUpdate // watcher → loop
}

// observedUpdate is what the watcher learnt from the engine.
type observedUpdate struct {
	containers []runtime.Container
	removed    []string
	// full: a complete list; containers not in it are gone, unless the loop
	// learnt of them from a later read.
	full bool
	// seq numbers the engine read (Runner.nextSeq, taken before it began).
	seq uint64
}

func (l *loop) run(ctx context.Context, snaps <-chan manifest.Snapshot) error {
	cache := inspectCache{}
	first, err := l.r.listAll(ctx, cache)
	if err != nil {
		return err
	}
	l.applyObserved(first)
	l.r.reconcileNetwork(ctx, l.observed)
	l.r.log.Info("adopted containers", "count", len(first.containers), "pods", len(l.observed.byPod))

	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		l.r.watch(watchCtx, cache, l.updates)
	}()
	defer func() {
		stopWatch()
		<-watchDone
	}()

	l.timer = time.NewTimer(time.Hour)
	defer l.timer.Stop()
	for {
		select {
		case s, ok := <-snaps:
			if !ok {
				snaps = nil
				continue
			}
			l.applySnapshot(s)
		case u := <-l.updates:
			l.applyObserved(u)
		case res := <-l.results:
			l.applyResult(res)
		case <-l.timer.C:
			now := l.r.cfg.Now()
			for uid, st := range l.pods {
				if !st.wake.IsZero() && !now.Before(st.wake) {
					st.wake = time.Time{}
					l.dirty[uid] = true
				}
			}
		case <-ctx.Done():
			// Shutdown: let the workers finish their step, leave pods running.
			for l.running > 0 {
				l.applyResult(<-l.results)
			}
			return nil
		}
		if l.synced {
			l.dispatch(ctx)
		}
	}
}

// applySnapshot replaces the desired pods. Called on the loop goroutine.
func (l *loop) applySnapshot(s manifest.Snapshot) {
	next := make(map[types.UID]*v1.Pod, len(s.Pods))
	byName := make(map[string]types.UID, len(s.Pods))
	for _, p := range s.Pods {
		next[p.Pod.UID] = p.Pod
		byName[podKey(p.Pod)] = p.Pod.UID
	}
	for uid, pod := range next {
		if old, ok := l.desired[uid]; !ok || old != pod {
			l.dirty[uid] = true
			l.podState(uid).urgent = true
		}
	}
	for uid, pod := range l.desired {
		if _, ok := next[uid]; !ok {
			l.dirty[uid] = true
			l.podState(uid).urgent = true
			l.r.log.Info("pod removed from desired state", "pod", podKey(pod), "uid", uid)
		}
	}
	hashes := make(map[types.UID]map[string]string, len(next))
	for uid, pod := range next {
		if old, ok := l.desired[uid]; ok && old == pod && l.hashes[uid] != nil {
			hashes[uid] = l.hashes[uid]
		} else {
			hashes[uid] = podHashes(pod)
		}
	}
	l.desired, l.desiredByName, l.hashes = next, byName, hashes
	if !l.synced {
		l.synced = true
		// Pods found in the engine but not desired are torn down now.
		for uid := range l.observed.byPod {
			l.dirty[uid] = true
		}
	}
}

// applyObserved folds what the watcher saw into the observed state.
func (l *loop) applyObserved(u observedUpdate) {
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
		l.putContainer(c, u.seq)
	}
	for _, id := range u.removed {
		l.removeContainer(id, u.seq)
	}
}

func (l *loop) putContainer(c runtime.Container, seq uint64) {
	if !l.observed.put(c, seq) {
		return
	}
	uid := podUIDOf(&c)
	l.dirty[uid] = true
	l.noteExit(uid, &c)
}

func (l *loop) removeContainer(id string, seq uint64) {
	c := l.observed.byID[id]
	if c == nil {
		l.observed.remove(id, seq) // a tombstone against stale reads
		return
	}
	key := nameKeyOf(c)
	uid := l.observed.remove(id, seq)
	l.dirty[uid] = true
	if len(l.observed.byPod[uid]) == 0 {
		// A pod that is gone may have held back its successor.
		if next, ok := l.desiredByName[key]; ok {
			l.dirty[next] = true
		}
		if _, desired := l.desired[uid]; !desired {
			delete(l.pods, uid)
			l.r.status.delete(uid)
		}
	}
}

// noteExit starts or extends the crash-loop backoff of a container that has
// exited, once per container instance.
func (l *loop) noteExit(uid types.UID, c *runtime.Container) {
	pod := l.desired[uid]
	if pod == nil || isSandbox(c) || c.State != runtime.StateExited {
		return
	}
	st := l.podState(uid)
	name := c.Labels[LabelContainerName]
	if st.seenExit[name] == c.ID || attemptOf(c) < l.latestAttempt(uid, name) {
		return
	}
	st.seenExit[name] = c.ID
	if !restartWanted(pod, name, c.ExitCode) {
		return
	}
	at, next := l.r.cfg.Backoff.Next(st.backoff[name], c.StartedAt, c.FinishedAt)
	st.backoff[name] = next
	st.notBefore[name] = at
	log := l.r.podLogger(pod)
	log.Info("container exited", "container", name, "exit_code", c.ExitCode, "oom_killed", c.OOMKilled)
	if now := l.r.cfg.Now(); at.After(now) {
		log.Warn("BackOff", "reason", "BackOff", "container", name, "restart_in", at.Sub(now).Round(time.Millisecond).String())
	}
}

func (l *loop) latestAttempt(uid types.UID, name string) int {
	n := -1
	for _, c := range l.observed.byPod[uid] {
		if !isSandbox(c) && c.Labels[LabelContainerName] == name && attemptOf(c) > n {
			n = attemptOf(c)
		}
	}
	return n
}

func (l *loop) podState(uid types.UID) *podState {
	st := l.pods[uid]
	if st == nil {
		st = newPodState()
		l.pods[uid] = st
	}
	return st
}

// dispatch plans every dirty pod that has no worker and starts workers up
// to the bound. Called on the loop goroutine after every input.
func (l *loop) dispatch(ctx context.Context) {
	now := l.r.cfg.Now()
	for uid := range l.dirty {
		st := l.podState(uid)
		if st.busy {
			continue // planned again when its worker reports
		}
		if l.running >= l.r.cfg.MaxParallel {
			break
		}
		if now.Before(st.retryAt) && !st.urgent {
			continue // after a failure; the timer brings it back
		}
		st.retryAt, st.urgent = time.Time{}, false
		delete(l.dirty, uid)
		v := l.view(uid)
		acts, wake := plan(v, now)
		st.wake = wake
		if v.desired != nil {
			l.r.status.put(uid, l.r.computeStatus(v, st, now))
		}
		if len(acts) > 0 {
			st.busy = true
			l.running++
			go l.r.work(ctx, workOrder{uid: uid, pod: v.desired, observed: v.observed, actions: acts, hashes: v.hashes}, l.results)
		} else if v.desired == nil {
			delete(l.pods, uid)
			l.r.status.delete(uid)
		}
	}
	l.resetTimer(now)
}

// view builds plan's input for a pod.
func (l *loop) view(uid types.UID) *podView {
	st := l.podState(uid)
	v := &podView{uid: uid, desired: l.desired[uid], observed: l.observed.pod(uid), notBefore: st.notBefore}
	if v.desired != nil {
		v.hashes = l.hashes[uid]
		v.blocked = l.observed.othersNamed(podKey(v.desired), uid)
		if l.r.podNetworked(v.desired) {
			v.netReady = map[string]bool{}
			for _, c := range v.observed {
				if isSandbox(c) && c.State == runtime.StateRunning {
					_, v.netReady[c.ID] = l.r.cfg.Network.IP(c.ID)
				}
			}
		}
	}
	return v
}

func (l *loop) resetTimer(now time.Time) {
	var next time.Time
	for uid, st := range l.pods {
		for _, t := range []time.Time{st.wake, st.retryAt} {
			if t.IsZero() || (t.Equal(st.retryAt) && !l.dirty[uid]) {
				continue
			}
			if next.IsZero() || t.Before(next) {
				next = t
			}
		}
	}
	if !l.timer.Stop() {
		select {
		case <-l.timer.C:
		default:
		}
	}
	d := time.Hour
	if !next.IsZero() {
		d = max(next.Sub(now), time.Millisecond)
	}
	l.timer.Reset(d)
}

// applyResult folds a worker's report into the loop's state.
func (l *loop) applyResult(res workResult) {
	l.running--
	st := l.podState(res.uid)
	st.busy = false
	l.dirty[res.uid] = true
	for name, w := range res.waiting {
		if w.reason == "" {
			delete(st.waiting, name)
		} else {
			st.waiting[name] = w
		}
	}
	now := l.r.cfg.Now()
	for _, name := range res.pullFailed {
		_, next := l.r.cfg.Backoff.Next(st.pullBackoff[name], now, now)
		st.pullBackoff[name] = next
		st.notBefore[name] = now.Add(next.Delay)
	}
	st.sandboxErr = res.sandboxErr
	for _, c := range res.containers {
		l.putContainer(c, res.seq)
	}
	for _, id := range res.removed {
		l.removeContainer(id, res.seq)
	}
	if res.err != nil && !errors.Is(res.err, context.Canceled) {
		if pod := l.desired[res.uid]; pod != nil {
			l.r.podLogger(pod).Warn("sync failed", "error", res.err)
		} else {
			l.r.log.Warn("teardown failed", "uid", res.uid, "error", res.err)
		}
		// Retry after a short pause rather than spinning on the echoes of
		// the failed step; what changed meanwhile stays dirty and is seen
		// then, a change of the desired pod at once.
		st.retryAt = now.Add(time.Second)
	}
}

func restartWanted(pod *v1.Pod, name string, exitCode int) bool {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return exitCode != 0 && pod.Spec.RestartPolicy != v1.RestartPolicyNever || isSidecar(&pod.Spec.InitContainers[i])
		}
	}
	return restart.Wanted(pod.Spec.RestartPolicy, exitCode)
}
