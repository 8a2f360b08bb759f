package runner

// Benchmarks of the loop's pure parts: plan over many pods, the loop's
// planning pass (view, plan, status) and the folding of a relist. The pods
// come from manifest.Load and their containers from the fake runtime, made
// with runner's own sandbox and container specs, so the views are what the
// loop builds in production. `make bench` runs these and reports ns/op.

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// benchImage is the image of the benchmark pods; the fake has it present.
const benchImage = "runner.local/busybox:test"

// benchSizes are the pod counts every benchmark of this file runs at.
var benchSizes = []int{10, 100, 1000}

// benchPodYAML is a pod like the ones `make bench` runs on Docker: one app
// container that exits on SIGTERM, with a probe and an env var so that
// hashing and status have something to chew on.
const benchPodYAML = `apiVersion: v1
kind: Pod
metadata:
  name: bench-%d
  namespace: default
  labels: {app: bench}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: app
    image: ` + benchImage + `
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    env:
    - {name: MODE, value: bench}
    livenessProbe:
      exec: {command: ["true"]}
      periodSeconds: 10
`

// benchWorld is n pods loaded from manifests, a Runner over a fake engine,
// and (when running) every pod's sandbox and container created and started
// in that engine with runner's specs.
type benchWorld struct {
	r        *Runner
	rt       *fake.Runtime
	pods     []*v1.Pod
	observed []runtime.Container // as the engine reports them (inspect)
}

func newBenchWorld(b *testing.B, n int, running bool) *benchWorld {
	b.Helper()
	rt := fake.New()
	rt.AddImage(runtime.Image{RepoTags: []string{DefaultPauseImage}})
	rt.AddImage(runtime.Image{RepoTags: []string{benchImage}})
	r, err := New(Config{Runtime: rt, RootDir: b.TempDir(), InstanceID: "bench"})
	if err != nil {
		b.Fatalf("New: %v", err)
	}
	w := &benchWorld{r: r, rt: rt}
	seen := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range n {
		file := fmt.Sprintf("/etc/kubernetes/manifests/bench-%d.yaml", i)
		pods, problems := manifest.Load(file, fmt.Appendf(nil, benchPodYAML, i), manifest.Options{
			NodeName: "node", Source: manifest.SourceFile, Now: func() time.Time { return seen },
		})
		if len(problems) > 0 || len(pods) != 1 {
			b.Fatalf("load %s: %d pods, problems %v", file, len(pods), problems)
		}
		w.pods = append(w.pods, pods[0])
	}
	if running {
		ctx := context.Background()
		for _, pod := range w.pods {
			sb := w.createStarted(b, ctx, r.sandboxSpec(pod, 0, podHashes(pod)[sandboxHashKey]))
			hash := podHashes(pod)["app"]
			spec, err := r.containerSpec(pod, &pod.Spec.Containers[0], action{kind: actStartContainer, container: "app"}, sb, hash, nil, runtime.Image{})
			if err != nil {
				b.Fatal(err)
			}
			w.createStarted(b, ctx, spec)
		}
		list, err := rt.ListContainers(ctx, map[string]string{LabelInstance: "bench"})
		if err != nil {
			b.Fatalf("ListContainers: %v", err)
		}
		for _, c := range list {
			full, err := rt.InspectContainer(ctx, c.ID)
			if err != nil {
				b.Fatalf("InspectContainer: %v", err)
			}
			w.observed = append(w.observed, full)
		}
	}
	return w
}

// createStarted creates and starts a container in the fake engine.
func (w *benchWorld) createStarted(b *testing.B, ctx context.Context, spec runtime.ContainerSpec) string {
	b.Helper()
	id, err := w.rt.CreateContainer(ctx, spec)
	if err == nil {
		err = w.rt.StartContainer(ctx, id)
	}
	if err != nil {
		b.Fatalf("create and start %s: %v", spec.Name, err)
	}
	return id
}

// views builds plan's input for every pod, as loop.view does.
func (w *benchWorld) views() []*podView {
	byPod := map[types.UID][]*runtime.Container{}
	for i := range w.observed {
		c := &w.observed[i]
		byPod[podUIDOf(c)] = append(byPod[podUIDOf(c)], c)
	}
	out := make([]*podView, 0, len(w.pods))
	for _, pod := range w.pods {
		out = append(out, &podView{
			uid: pod.UID, desired: pod, hashes: podHashes(pod),
			observed: byPod[pod.UID], notBefore: map[string]time.Time{}, keepDead: 1,
		})
	}
	return out
}

// newLoop is a loop as Run makes it, holding the world's pods as desired
// and its containers as observed, synced.
func (w *benchWorld) newLoop() *loop {
	l := newLoop(w.r, context.Background())
	l.timer = time.NewTimer(time.Hour)
	s := manifest.Snapshot{Source: manifest.SourceFile}
	for _, p := range w.pods {
		s.Pods = append(s.Pods, manifest.Pod{Pod: p, Origin: "bench"})
	}
	l.applySnapshot(s)
	observedUpdate{full: true, containers: w.observed}.apply(l)
	clear(l.dirty)
	return l
}

// BenchmarkPlan is plan() over every pod, one op being a pass over all of
// them. steady: every pod runs (the plan is empty, the common case after a
// relist or an event); new: nothing runs yet (create sandbox and start).
func BenchmarkPlan(b *testing.B) {
	for _, state := range []string{"steady", "new"} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/pods=%d", state, n), func(b *testing.B) {
				w := newBenchWorld(b, n, state == "steady")
				views := w.views()
				now := time.Now()
				want := 0
				if state == "new" {
					want = 2
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					for _, v := range views {
						if acts, _ := plan(v, now); len(acts) != want {
							b.Fatalf("plan of %s: %d actions, want %d", v.desired.Name, len(acts), want)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/pod")
			})
		}
	}
}

// BenchmarkDispatch is the loop's whole planning pass with every pod dirty
// and running (as after a restart of runner, or a snapshot that touched
// every pod): view (hashes included), plan and status, per pod.
func BenchmarkDispatch(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			w := newBenchWorld(b, n, true)
			l := w.newLoop()
			defer l.timer.Stop()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for _, p := range w.pods {
					l.dirty[p.UID] = true
				}
				l.dispatch(ctx)
				if l.running != 0 || len(l.dirty) != 0 {
					b.Fatalf("dispatch of running pods started %d workers, left %d dirty", l.running, len(l.dirty))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/pod")
		})
	}
}

// BenchmarkRelist folds a full relist that changed nothing into the
// observed state: the loop's share of the periodic relist.
func BenchmarkRelist(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			w := newBenchWorld(b, n, true)
			l := w.newLoop()
			defer l.timer.Stop()
			u := observedUpdate{full: true, containers: w.observed}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				u.apply(l)
				if len(l.dirty) != 0 {
					b.Fatalf("an unchanged relist made %d pods dirty", len(l.dirty))
				}
			}
		})
	}
}

// BenchmarkApplySnapshot is the loop's diff of a new snapshot against the
// desired pods when nothing changed (the file source re-sends after a
// rescan only on change, so this is the cost of any change elsewhere).
func BenchmarkApplySnapshot(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			w := newBenchWorld(b, n, false)
			l := w.newLoop()
			defer l.timer.Stop()
			s := manifest.Snapshot{Source: manifest.SourceFile}
			for _, p := range w.pods {
				s.Pods = append(s.Pods, manifest.Pod{Pod: p, Origin: "bench"})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				l.applySnapshot(s)
				if len(l.dirty) != 0 {
					b.Fatalf("an unchanged snapshot made %d pods dirty", len(l.dirty))
				}
			}
		})
	}
}
