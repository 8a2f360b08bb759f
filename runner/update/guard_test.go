package update

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/manifest"
)

const origin1 = "/etc/kubernetes/manifests/etcd.yaml"

func etcdYAML(version, extra string) []byte {
	return []byte(`apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
  annotations: {` + extra + `}
spec:
  containers:
  - name: etcd
    image: runner.local/etcd:` + version + `
`)
}

// statusStore stands in for runner's StatusStore: the test says which pods
// are Ready.
type statusStore struct {
	mu      sync.Mutex
	ready   map[types.UID]bool
	changed chan struct{}
}

func newStatusStore() *statusStore {
	return &statusStore{ready: map[types.UID]bool{}, changed: make(chan struct{})}
}

func (s *statusStore) set(uid types.UID, ready bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready[uid] = ready
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *statusStore) list() []*v1.Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*v1.Pod
	for uid, r := range s.ready {
		p := &v1.Pod{}
		p.UID = uid
		cond := v1.ConditionFalse
		if r {
			cond = v1.ConditionTrue
		}
		p.Status.Phase = v1.PodRunning
		p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: cond}}
		out = append(out, p)
	}
	return out
}

func (s *statusStore) watch() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// guardWorld runs a Guard between a snapshot channel and the test.
type guardWorld struct {
	t       *testing.T
	st      *statusStore
	in      chan manifest.Snapshot
	out     chan manifest.Snapshot
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	events  []string
	latest  manifest.Snapshot
	root    string
	options manifest.Options
}

func load(opts manifest.Options) func(string, []byte) ([]*v1.Pod, manifest.Problems) {
	return func(origin string, data []byte) ([]*v1.Pod, manifest.Problems) {
		return manifest.Load(origin, data, opts)
	}
}

func startGuard(t *testing.T, root string, st *statusStore, after time.Duration) *guardWorld {
	w := &guardWorld{t: t, st: st, in: make(chan manifest.Snapshot), out: make(chan manifest.Snapshot), done: make(chan struct{}), root: root,
		options: manifest.Options{NodeName: "node1", Source: manifest.SourceFile}}
	g := New(Config{RootDir: root, After: after, Load: load(w.options), Statuses: st.list, Changed: st.watch,
		Record: func(_ *v1.Pod, reason, msg string) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.events = append(w.events, reason+": "+msg)
		}})
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go func() { defer close(w.done); _ = g.Run(ctx, w.in, w.out) }()
	go func() {
		for s := range w.out {
			w.mu.Lock()
			w.latest = s
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.stop)
	return w
}

func (w *guardWorld) stop() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
		close(w.out)
		w.cancel = nil
	}
}

// send hands the Guard the file's content, as the file source would.
func (w *guardWorld) send(content []byte) *v1.Pod {
	w.t.Helper()
	pods, problems := manifest.Load(origin1, content, w.options)
	if len(problems) > 0 {
		w.t.Fatal(problems)
	}
	w.in <- manifest.Snapshot{Source: manifest.SourceFile, Pods: []manifest.Pod{{Pod: pods[0], Origin: origin1, Content: content}}}
	synctest.Wait()
	return pods[0]
}

// running is the pod the loop would run now, and which version it is.
func (w *guardWorld) running() (types.UID, manifest.VersionFrom) {
	synctest.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.latest.Pods) != 1 {
		w.t.Fatalf("%d pods handed to the loop, want 1", len(w.latest.Pods))
	}
	return w.latest.Pods[0].Pod.UID, w.latest.Pods[0].Version.From
}

func (w *guardWorld) eventCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.events)
}

func TestGuardReadyInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStatusStore()
		w := startGuard(t, t.TempDir(), st, time.Minute)
		old := w.send(etcdYAML("3.4", ""))
		st.set(old.UID, true)
		upd := w.send(etcdYAML("3.5", ""))
		time.Sleep(30 * time.Second)
		st.set(upd.UID, true)
		time.Sleep(2 * time.Minute)
		if uid, from := w.running(); uid != upd.UID || from != manifest.VersionCurrent {
			t.Errorf("running %s (%v), want the update, current", uid, from)
		}
		if n := w.eventCount(); n != 0 {
			t.Errorf("%d events, want none", n)
		}
	})
}

func TestGuardRollsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStatusStore()
		w := startGuard(t, t.TempDir(), st, time.Minute)
		old := w.send(etcdYAML("3.4", ""))
		st.set(old.UID, true)
		upd := w.send(etcdYAML("broken", ""))
		st.set(old.UID, false) // stopped for the update
		st.set(upd.UID, false) // crash-looping, never Ready
		time.Sleep(time.Minute - time.Second)
		if uid, _ := w.running(); uid != upd.UID {
			t.Fatalf("rolled back before the rollback time")
		}
		time.Sleep(2 * time.Second)
		uid, from := w.running()
		if uid != old.UID || from != manifest.VersionRolledBack {
			t.Fatalf("running %s (%v) after the rollback time, want the last Ready version %s, rolled-back", uid, from, old.UID)
		}
		w.mu.Lock()
		ev := strings.Join(w.events, "\n")
		w.mu.Unlock()
		for _, want := range []string{ReasonRolledBack, origin1, "config.hash " + string(upd.UID), "config.hash " + string(old.UID), "was not Ready within 1m0s"} {
			if !strings.Contains(ev, want) {
				t.Errorf("event %q lacks %q", ev, want)
			}
		}
		// The failed content is not tried again while the file holds it.
		w.send(etcdYAML("broken", ""))
		if uid, _ := w.running(); uid != old.UID {
			t.Error("the failed update was tried again")
		}
		// A later edit is a fresh update.
		fix := w.send(etcdYAML("3.5", ""))
		if uid, from := w.running(); uid != fix.UID || from != manifest.VersionCurrent {
			t.Errorf("after an edit: running %s (%v), want the new content", uid, from)
		}
	})
}

func TestGuardEditDuringWindowRestartsTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStatusStore()
		w := startGuard(t, t.TempDir(), st, time.Minute)
		old := w.send(etcdYAML("3.4", ""))
		st.set(old.UID, true)
		w.send(etcdYAML("try1", ""))
		time.Sleep(50 * time.Second)
		try2 := w.send(etcdYAML("try2", ""))
		time.Sleep(50 * time.Second)
		if uid, _ := w.running(); uid != try2.UID {
			t.Fatal("the second edit's time was counted from the first")
		}
		time.Sleep(11 * time.Second)
		if uid, from := w.running(); uid != old.UID || from != manifest.VersionRolledBack {
			t.Errorf("running %s (%v), want a rollback a minute after the second edit", uid, from)
		}
	})
}

func TestGuardNeverReadyHasNoFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStatusStore()
		w := startGuard(t, t.TempDir(), st, time.Minute)
		first := w.send(etcdYAML("3.4", ""))
		st.set(first.UID, false)
		upd := w.send(etcdYAML("3.5", ""))
		time.Sleep(5 * time.Minute)
		if uid, from := w.running(); uid != upd.UID || from != manifest.VersionCurrent {
			t.Errorf("running %s (%v); with nothing Ready before there is nothing to roll back to", uid, from)
		}
	})
}

func TestGuardAnnotationOptsIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newStatusStore()
		w := startGuard(t, t.TempDir(), st, 0)
		old := w.send(etcdYAML("3.4", ""))
		st.set(old.UID, true)
		w.send(etcdYAML("broken", AnnotationRollbackAfter+": 30s"))
		time.Sleep(31 * time.Second)
		if uid, from := w.running(); uid != old.UID || from != manifest.VersionRolledBack {
			t.Errorf("running %s (%v), want the rollback the annotation asks for", uid, from)
		}
	})
}

// TestGuardRestartInTheMiddle: a runner restarted during an update keeps
// the update's clock, and one restarted after a rollback does not retry
// the failed content.
func TestGuardRestartInTheMiddle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := t.TempDir()
		st := newStatusStore()
		w := startGuard(t, root, st, time.Minute)
		old := w.send(etcdYAML("3.4", ""))
		st.set(old.UID, true)
		w.send(etcdYAML("broken", ""))
		time.Sleep(40 * time.Second)
		w.stop()

		w2 := startGuard(t, root, st, time.Minute)
		w2.send(etcdYAML("broken", ""))
		time.Sleep(21 * time.Second)
		if uid, from := w2.running(); uid != old.UID || from != manifest.VersionRolledBack {
			t.Fatalf("running %s (%v) a minute after the update began, across a restart; want the rollback", uid, from)
		}
		w2.stop()

		w3 := startGuard(t, root, st, time.Minute)
		w3.send(etcdYAML("broken", ""))
		if uid, _ := w3.running(); uid != old.UID {
			t.Error("a restarted runner retried the rolled-back content")
		}
	})
}
