package update

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/manifest"
)

// AnnotationRollbackAfter sets a pod's rollback time (a Go duration, e.g.
// "90s"), overriding --rollback-after; "0" turns rollback off for it.
const AnnotationRollbackAfter = "runner.dev/rollback-after"

// ReasonRolledBack is the event reason of a rollback.
const ReasonRolledBack = "RolledBack"

// Config configures a Guard.
type Config struct {
	// RootDir holds the state (RootDir/updates/state.json).
	RootDir string
	// After is the rollback time of every pod (--rollback-after); 0: none
	// but for pods that ask with AnnotationRollbackAfter.
	After time.Duration
	// Load loads an origin's content again, as its source does (the same
	// options: the same pods, the same UIDs).
	Load func(origin string, data []byte) ([]*v1.Pod, manifest.Problems)
	// Statuses lists the pods with their status; Changed returns a channel
	// closed at the next change of it (runner's StatusStore).
	Statuses func() []*v1.Pod
	Changed  func() <-chan struct{}
	// Record is told of each rollback, with one pod of the version that
	// runs again (runner records it as an event).
	Record func(pod *v1.Pod, reason, message string)
	Logger *slog.Logger
}

// Guard passes snapshots from the sources to the loop, rolling failed
// updates back. Create it with New and run it with Run.
type Guard struct {
	cfg     Config
	log     *slog.Logger
	path    string
	origins map[string]*record
	// told: updates (origin → sum) said to have no fallback.
	told map[string]string
	// loaded caches the pods of a last Ready content, by origin.
	loaded map[string]loadedPods
}

type loadedPods struct {
	sum  string
	pods []*v1.Pod
}

// New reads the Guard's state from cfg.RootDir; one that does not read is
// logged and ignored.
func New(cfg Config) *Guard {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Guard{cfg: cfg, log: cfg.Logger.With("component", "update"), path: filepath.Join(cfg.RootDir, "updates", "state.json"),
		told: map[string]string{}, loaded: map[string]loadedPods{}}
	origins, err := loadState(g.path)
	if err != nil {
		g.log.Warn("safe updates start afresh", "error", err)
	}
	g.origins = origins
	return g
}

// Run passes every snapshot of in on to out, the contents of rolled-back
// updates replaced, and re-evaluates the updates in progress when the pods'
// statuses change or an update's time is up. Like the sources, only the
// newest snapshot waits for the receiver. It returns when ctx ends or in is
// closed. Called once, on its own goroutine.
func (g *Guard) Run(ctx context.Context, in <-chan manifest.Snapshot, out chan<- manifest.Snapshot) error {
	var (
		cur, sent, pending manifest.Snapshot
		have, synced       bool
		sendTo             chan<- manifest.Snapshot
	)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		changed := g.cfg.Changed()
		select {
		case s, ok := <-in:
			if !ok {
				return nil
			}
			cur, have = s, true
		case <-changed:
		case <-timer.C:
		case sendTo <- pending:
			sent, synced, sendTo = pending, true, nil
			continue
		case <-ctx.Done():
			return nil
		}
		if !have {
			continue
		}
		next, wake := g.evaluate(cur, time.Now())
		if !synced || !samePods(next, sent) {
			pending, sendTo = next, out
		}
		d := time.Hour
		if !wake.IsZero() {
			d = max(time.Until(wake), time.Millisecond)
		}
		timer.Reset(d)
	}
}

// evaluate takes the steps the pods' statuses call for and returns the
// snapshot for the loop and when to look again. Called by Run.
func (g *Guard) evaluate(s manifest.Snapshot, now time.Time) (manifest.Snapshot, time.Time) {
	byOrigin := map[string][]manifest.Pod{}
	for _, p := range s.Pods {
		if p.Content != nil && p.Origin != "" {
			byOrigin[p.Origin] = append(byOrigin[p.Origin], p)
		}
	}
	statuses := map[types.UID]*v1.Pod{}
	for _, p := range g.cfg.Statuses() {
		statuses[p.UID] = p
	}
	dirty := false
	var wake time.Time
	for _, o := range slices.Sorted(maps.Keys(byOrigin)) {
		pods := byOrigin[o]
		rec := g.origins[o]
		if rec == nil {
			rec = &record{}
			g.origins[o] = rec
		}
		view := origin{
			sum: contentSum(pods[0].Content), ready: allReady(pods, statuses), window: g.window(pods),
			lastReady: rec.ReadySum, updating: rec.Updating, since: rec.Since, failed: rec.Failed,
		}
		view.told = g.told[o] == view.sum
		st, due := decide(view, now)
		if st == stepRetry {
			g.log.Info("manifest changed after a rollback: its new content is a fresh update", "origin", o)
			rec.Failed, rec.FailedAt, rec.FailedReason = "", time.Time{}, ""
			view.failed = ""
			st, due = decide(view, now)
			dirty = true
		}
		if st == stepStart {
			rec.Updating, rec.Since = view.sum, now
			view.updating, view.since = view.sum, now
			dirty = true
			st, due = decide(view, now) // when its time is up
		}
		if !due.IsZero() && (wake.IsZero() || due.Before(wake)) {
			wake = due
		}
		switch st {
		case stepReady:
			if rec.Updating == view.sum {
				g.log.Info("update is Ready; it is now the version to roll back to", "origin", o, "sha256", short(view.sum))
			} else {
				g.log.Info("manifest runs Ready; this is the version to roll back to", "origin", o, "sha256", short(view.sum))
			}
			rec.ReadySum, rec.ReadyContent, rec.ReadySince = view.sum, pods[0].Content, now
			rec.Updating, rec.Since = "", time.Time{}
			dirty = true
		case stepNoFallback:
			g.told[o] = view.sum
			g.log.Warn("update is not Ready in time, but this manifest never ran Ready before: nothing to roll back to; it keeps running",
				"origin", o, "sha256", short(view.sum), "rollback_after", view.window, "why", notReady(pods, statuses))
		case stepRollBack:
			why := notReady(pods, statuses)
			rec.Failed, rec.FailedAt, rec.FailedReason = view.sum, now, why
			rec.Updating, rec.Since = "", time.Time{}
			dirty = true
			g.rolledBack(o, pods, rec, view.window)
		}
	}
	if !s.Partial {
		// Origins that are gone take their state with them.
		for o := range g.origins {
			if _, ok := byOrigin[o]; !ok {
				delete(g.origins, o)
				delete(g.loaded, o)
				dirty = true
			}
		}
	}
	if dirty {
		if err := saveState(g.path, g.origins); err != nil {
			g.log.Warn("cannot save the state of safe updates; a restart of runner forgets it", "error", err)
		}
	}
	return g.substitute(s), wake
}

// rolledBack says that origin o's update (pods) was rolled back to rec's
// Ready content: one log line and one event naming the file, both versions
// (their content hashes and the pods' config hashes) and why.
func (g *Guard) rolledBack(o string, pods []manifest.Pod, rec *record, window time.Duration) {
	back := g.readyPods(o, rec)
	msg := fmt.Sprintf("%s: update sha256:%s (%s) was not Ready within %s (%s); rolled back to sha256:%s (%s), Ready since %s",
		o, short(rec.Failed), configHashes(podsOf(pods)), window, rec.FailedReason,
		short(rec.ReadySum), configHashes(back), rec.ReadySince.Format(time.RFC3339))
	g.log.Warn("RolledBack: "+msg, "reason", ReasonRolledBack, "origin", o)
	if g.cfg.Record != nil && len(back) > 0 {
		g.cfg.Record(back[0], ReasonRolledBack, msg)
	}
}

// substitute is s with the pods of every rolled-back origin replaced by
// those of its last Ready content.
func (g *Guard) substitute(s manifest.Snapshot) manifest.Snapshot {
	replaced := false
	for _, p := range s.Pods {
		if rec := g.origins[p.Origin]; rec != nil && rec.Failed != "" && p.Content != nil && contentSum(p.Content) == rec.Failed {
			replaced = true
			break
		}
	}
	if !replaced {
		return s
	}
	out := s
	out.Pods = nil
	done := map[string]bool{}
	for _, p := range s.Pods {
		rec := g.origins[p.Origin]
		if rec == nil || rec.Failed == "" || p.Content == nil || contentSum(p.Content) != rec.Failed {
			out.Pods = append(out.Pods, p)
			continue
		}
		if done[p.Origin] {
			continue
		}
		done[p.Origin] = true
		version := manifest.Version{From: manifest.VersionRolledBack, GoodSince: rec.ReadySince, StaleSince: rec.FailedAt,
			Reason: "update sha256:" + short(rec.Failed) + " rolled back: " + rec.FailedReason}
		for _, pod := range g.readyPods(p.Origin, rec) {
			out.Pods = append(out.Pods, manifest.Pod{Pod: pod, Origin: p.Origin, Version: version, Content: rec.ReadyContent})
		}
	}
	sort.SliceStable(out.Pods, func(i, j int) bool {
		a, b := out.Pods[i].Pod, out.Pods[j].Pod
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	return out
}

// readyPods are the pods of o's last Ready content, loaded once per content.
func (g *Guard) readyPods(o string, rec *record) []*v1.Pod {
	if l, ok := g.loaded[o]; ok && l.sum == rec.ReadySum {
		return l.pods
	}
	pods, problems := g.cfg.Load(o, rec.ReadyContent)
	if len(problems) > 0 {
		g.log.Warn("the last Ready content of a manifest no longer loads; nothing to roll back to", "origin", o, "problems", problems.Error())
		pods = nil
	}
	g.loaded[o] = loadedPods{sum: rec.ReadySum, pods: pods}
	return pods
}

// window is the rollback time of an origin's pods: the shortest a pod asks
// for with AnnotationRollbackAfter, else Config.After.
func (g *Guard) window(pods []manifest.Pod) time.Duration {
	w, set := g.cfg.After, false
	for _, p := range pods {
		raw, ok := p.Pod.Annotations[AnnotationRollbackAfter]
		if !ok {
			continue
		}
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 {
			continue // refused by validation
		}
		if !set || d < w {
			w, set = d, true
		}
	}
	return w
}

// allReady reports whether every pod of an origin is Ready or has run to
// completion.
func allReady(pods []manifest.Pod, statuses map[types.UID]*v1.Pod) bool {
	for _, p := range pods {
		st := statuses[p.Pod.UID]
		if st == nil || !(st.Status.Phase == v1.PodSucceeded || isReady(st)) {
			return false
		}
	}
	return true
}

func isReady(p *v1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// notReady says why an origin's pods are not Ready, from their statuses:
// "pod etcd-node: container etcd CrashLoopBackOff".
func notReady(pods []manifest.Pod, statuses map[types.UID]*v1.Pod) string {
	var parts []string
	for _, p := range pods {
		st := statuses[p.Pod.UID]
		switch {
		case st == nil:
			parts = append(parts, "pod "+p.Pod.Name+": not started")
		case st.Status.Phase == v1.PodSucceeded || isReady(st):
		default:
			var why []string
			for _, cs := range append(slices.Clone(st.Status.InitContainerStatuses), st.Status.ContainerStatuses...) {
				switch {
				case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
					why = append(why, "container "+cs.Name+" "+cs.State.Waiting.Reason)
				case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0:
					why = append(why, fmt.Sprintf("container %s exited %d", cs.Name, cs.State.Terminated.ExitCode))
				case cs.State.Running != nil && !cs.Ready:
					why = append(why, "container "+cs.Name+" not ready")
				}
			}
			if len(why) == 0 {
				why = append(why, string(st.Status.Phase))
			}
			parts = append(parts, "pod "+p.Pod.Name+": "+strings.Join(why, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

func podsOf(pods []manifest.Pod) []*v1.Pod {
	out := make([]*v1.Pod, len(pods))
	for i, p := range pods {
		out[i] = p.Pod
	}
	return out
}

// configHashes names pods with their config hashes: "etcd-node config.hash 1a2b…".
func configHashes(pods []*v1.Pod) string {
	parts := make([]string, 0, len(pods))
	for _, p := range pods {
		parts = append(parts, p.Name+" config.hash "+p.Annotations[manifest.AnnotationConfigHash])
	}
	return strings.Join(parts, ", ")
}

// samePods reports whether two snapshots hand the loop the same pods.
func samePods(a, b manifest.Snapshot) bool {
	if len(a.Pods) != len(b.Pods) || a.Partial != b.Partial || len(a.Problems) != len(b.Problems) || len(a.PartialSources) != len(b.PartialSources) {
		return false
	}
	for i := range a.Pods {
		if a.Pods[i].Pod != b.Pods[i].Pod || a.Pods[i].Version != b.Pods[i].Version {
			return false
		}
	}
	for i := range a.Problems {
		if a.Problems[i] != b.Problems[i] {
			return false
		}
	}
	return true
}

func contentSum(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}
