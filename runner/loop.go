package runner

import (
	"context"
	"slices"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/runner/restart"
	"github.com/runner-dev/runner/runner/runtime"
)

// loop is the state of one Run. Every field is owned by the loop goroutine.
type loop struct {
	r             *Runner
	desired       map[types.UID]*v1.Pod
	desiredByName map[string]types.UID
	// origins says where each desired pod comes from and which version of
	// it runs (for the status).
	origins map[types.UID]manifest.Pod
	// hashes of the desired pods' containers and sandboxes (podHashes),
	// computed once per pod object.
	hashes   map[types.UID]map[string]string
	observed *observedState
	pods     map[types.UID]*podState
	dirty    map[types.UID]bool
	synced   bool // the first snapshot has arrived
	// partial: the latest snapshot could not see all of its sources' input;
	// pods of those sources that it lacks are not torn down (snap.Unsure).
	partial bool
	snap    manifest.Snapshot
	// engineDown: the engine does not answer; no worker is started until
	// the watcher has a fresh list again.
	engineDown bool
	// inSync: every pod has been planned since the first snapshot and no
	// worker was busy at that moment (see checkInSync).
	inSync bool
	// dirsSwept: the directories of pods that are gone were removed once,
	// after the first complete snapshot; bg joins that work.
	dirsSwept bool
	bg        sync.WaitGroup
	running   int // workers in flight
	// probed: the containers whose probe workers run, by ID (health.go).
	probed map[string]*probed
	// ctx is Run's, for the background work the loop starts.
	ctx   context.Context
	timer *time.Timer
	// cache is the watcher's inspection cache; the loop adds what workers
	// report to it.
	cache *inspectCache
}

// run adopts what the engine holds, then applies inputs and plans the pods
// they made dirty until ctx ends. Called by Run.
func (l *loop) run(ctx context.Context, snaps <-chan manifest.Snapshot) error {
	// Subscribe before the first list, so that no event falls between them.
	stream := l.r.openEvents(ctx)
	cache := newInspectCache()
	l.cache = cache
	first, detail, err := l.r.listAll(ctx, cache, true)
	if err != nil {
		stream.close()
		return err
	}
	first.apply(l)
	l.r.reconcileNetwork(ctx, l.observed)
	l.r.log.Info("adopted containers", "count", len(first.containers), "pods", len(l.observed.byPod))

	var producers sync.WaitGroup
	prodCtx, stopProducers := context.WithCancel(ctx)
	producers.Go(func() { l.r.watch(prodCtx, cache, stream, detail) })
	producers.Go(func() { l.r.forwardSnapshots(prodCtx, snaps) })
	defer func() {
		stopProducers()
		producers.Wait()
		l.r.probes.StopAll()
		l.bg.Wait()
	}()

	l.timer = time.NewTimer(time.Hour)
	defer l.timer.Stop()
	for {
		select {
		case in := <-l.r.inbox:
			in.apply(l)
		case <-l.timer.C:
			l.wakeDue(time.Now())
		case <-ctx.Done():
			// Shutdown: let the workers finish their step, leave pods running.
			for l.running > 0 {
				(<-l.r.inbox).apply(l)
			}
			return nil
		}
		if l.synced && !l.engineDown {
			l.dispatch(ctx)
			l.checkInSync()
		}
	}
}

// checkInSync says once, in the log and by closing Runner.InSync, that the
// runner has caught up: every pod of the first snapshot planned and carried
// out, nothing left to do but pods waiting to retry. Called on the loop
// goroutine after dispatch.
func (l *loop) checkInSync() {
	if l.inSync || l.running > 0 {
		return
	}
	now := time.Now()
	for uid := range l.dirty {
		if st := l.pods[uid]; st == nil || !now.Before(st.retryAt) {
			return
		}
	}
	l.inSync = true
	l.r.log.Info("in sync: every desired pod has been planned and its steps carried out", "pods", len(l.desired))
	close(l.r.inSync)
}

// wakeDue marks the pods whose backoff or retry time has come.
func (l *loop) wakeDue(now time.Time) {
	for uid, st := range l.pods {
		if !st.wake.IsZero() && !now.Before(st.wake) {
			st.wake = time.Time{}
			l.dirty[uid] = true
		}
	}
}

// applySnapshot replaces the desired pods. A partial snapshot keeps the
// pods it lacks. Called on the loop goroutine.
func (l *loop) applySnapshot(s manifest.Snapshot) {
	next := make(map[types.UID]*v1.Pod, len(s.Pods))
	byName := make(map[string]types.UID, len(s.Pods))
	origins := make(map[types.UID]manifest.Pod, len(s.Pods))
	for _, p := range s.Pods {
		next[p.Pod.UID] = p.Pod
		byName[podKey(p.Pod)] = p.Pod.UID
		origins[p.Pod.UID] = manifest.Pod{Origin: p.Origin, Version: p.Version}
	}
	if s.Partial {
		// A pod of a source that could not read all its input stays.
		for uid, pod := range l.desired {
			if _, ok := next[uid]; !ok && s.Unsure(pod.Annotations[manifest.AnnotationConfigSource]) {
				if _, taken := byName[podKey(pod)]; !taken {
					next[uid], byName[podKey(pod)], origins[uid] = pod, uid, l.origins[uid]
				}
			}
		}
	}
	if s.Partial != l.partial {
		if s.Partial {
			l.r.log.Warn("the manifest sources could not read all their input; their pods are not removed until they can", "sources", s.PartialSources)
		} else if l.synced {
			l.r.log.Info("the manifest sources read all their input again")
		}
	}
	l.partial, l.snap = s.Partial, s
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
	for uid, o := range origins {
		if old, ok := l.origins[uid]; ok && old.Version != o.Version {
			l.dirty[uid] = true // the status says which version runs
		}
	}
	l.desired, l.desiredByName, l.hashes, l.origins = next, byName, hashes, origins
	if !l.synced || !l.partial {
		// Pods found in the engine but not desired are torn down now (not
		// while the sources are unsure).
		for uid := range l.observed.byPod {
			if _, ok := next[uid]; !ok {
				l.dirty[uid] = true
			}
		}
	}
	l.synced = true
	for uid := range next {
		if st := l.pods[uid]; st != nil {
			st.destroyed = false
		}
	}
	if !l.partial && !l.dirsSwept {
		l.dirsSwept = true
		l.sweepPodDirs()
	}
}

// sweepPodDirs removes, in the background, the directories of pods that are
// neither desired nor in the engine: what a runner killed mid-teardown left.
// Called once, on the loop goroutine, at the first complete snapshot.
func (l *loop) sweepPodDirs() {
	keep := map[types.UID]bool{}
	for uid := range l.desired {
		keep[uid] = true
	}
	for uid := range l.observed.byPod {
		keep[uid] = true
	}
	l.bg.Go(func() {
		if err := l.r.volumes.CleanupOrphans(func(uid types.UID) bool { return keep[uid] }); err != nil {
			l.r.log.Warn("removing the directories of pods that are gone failed; tried again at the next start", "error", err)
		}
	})
}

// putContainer records what an engine read (numbered seq) found, and marks
// the pod dirty when it changed something, which it reports.
func (l *loop) putContainer(c runtime.Container, seq uint64) bool {
	if !l.observed.put(c, seq) {
		return false
	}
	uid := podUIDOf(&c)
	l.dirty[uid] = true
	if cur := l.observed.byID[c.ID]; cur != nil {
		l.noteExit(uid, cur)
		if pod := l.desired[uid]; pod != nil && cur.State == runtime.StateExited && !isSandbox(cur) {
			if st := l.podState(uid); !st.termRead[cur.ID] {
				if st.termRead == nil {
					st.termRead = map[string]bool{}
				}
				st.termRead[cur.ID] = true
				l.readTermination(pod, cur)
			}
		}
	}
	return true
}

// removeContainer forgets a container the engine no longer has; it returns
// its pod's UID, "" when it was not known.
func (l *loop) removeContainer(id string, seq uint64) types.UID {
	c := l.observed.byID[id]
	if c == nil {
		l.observed.remove(id, seq) // a tombstone against stale reads
		return ""
	}
	key := nameKeyOf(c)
	uid := l.observed.remove(id, seq)
	l.dirty[uid] = true
	if len(l.observed.byPod[uid]) == 0 {
		// A pod that is gone may have held back its successor.
		if next, ok := l.desiredByName[key]; ok {
			l.dirty[next] = true
		}
	}
	return uid
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
	if now := time.Now(); at.After(now) {
		l.r.record(log, refOf(pod), EventWarning, ReasonBackOff, name, "Back-off restarting failed container "+name, "restart_in", at.Sub(now).Round(time.Millisecond).String())
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
// to the bound, in the order of the pods' UIDs. Called on the loop
// goroutine after every input.
func (l *loop) dispatch(ctx context.Context) {
	now := time.Now()
	uids := make([]types.UID, 0, len(l.dirty))
	for uid := range l.dirty {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	for _, uid := range uids {
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
		if l.desired[uid] == nil && l.partial && l.snap.Unsure(l.observed.sourceOf(uid)) {
			continue // not torn down while its source is unsure
		}
		st.retryAt, st.urgent = time.Time{}, false
		delete(l.dirty, uid)
		v := l.view(uid)
		l.admit(uid, st, v)
		v.held = st.held
		noteStopped(st, v)
		l.syncProbes(uid, v)
		v.health = l.healthOf(uid)
		acts, wake := plan(v, now)
		st.wake = wake
		if !v.deadline.IsZero() && !now.Before(v.deadline) && !st.deadlineSaid {
			st.deadlineSaid = true
			l.r.record(l.r.podLogger(v.desired), refOf(v.desired), EventNormal, ReasonDeadline, "", "Pod was active on the node longer than the specified deadline")
		}
		if v.desired != nil {
			l.r.status.put(uid, l.r.computeStatus(v, st, now))
		}
		if v.desired == nil && len(acts) == 0 && !st.destroyed {
			// Gone from the engine, but the pod's directory may be left.
			acts = []action{{kind: actKillPod, reason: "remove what the pod left on the host"}}
		}
		if len(acts) > 0 {
			st.busy = true
			l.running++
			order := workOrder{uid: uid, pod: v.desired, observed: v.observed, actions: acts, hashes: v.hashes}
			go l.r.work(ctx, order)
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
	v := &podView{uid: uid, desired: l.desired[uid], observed: l.observed.pod(uid), notBefore: st.notBefore, unhealthy: st.unhealthy,
		origin: l.origins[uid], keepDead: l.r.cfg.MaxDeadPerContainer}
	if v.desired != nil {
		if st.startedAt.IsZero() {
			st.startedAt = time.Now()
			for _, c := range v.observed {
				if isSandbox(c) && !c.CreatedAt.IsZero() && c.CreatedAt.Before(st.startedAt) {
					st.startedAt = c.CreatedAt
				}
			}
		}
		v.deadline = deadline(v.desired, st.startedAt)
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

// resetTimer arms the timer for the earliest wake or retry to come.
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
	d := time.Hour
	if !next.IsZero() {
		d = max(next.Sub(now), time.Millisecond)
	}
	l.timer.Reset(d)
}

// restartWanted reports whether container name of pod, having exited with
// exitCode, is to run again.
func restartWanted(pod *v1.Pod, name string, exitCode int) bool {
	c, init := findSpec(pod, name)
	if c == nil {
		return false
	}
	return restart.WantedFor(pod.Spec.RestartPolicy, c.RestartPolicy, init, exitCode)
}
