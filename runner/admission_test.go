package runner

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/eviction"
	"github.com/runner-dev/runner/runner/runtime"
)

// gate admits pods while open.
type gate struct{ open atomic.Bool }

func (g *gate) Admit(*v1.Pod) eviction.Admission {
	if g.open.Load() {
		return eviction.Admission{Admit: true}
	}
	return eviction.Admission{Reason: "NodePressure", Message: "the node has condition DiskPressure"}
}

func TestAdmissionHoldsAndEvicts(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		g := &gate{}
		h := startRunner(t, rt, Config{Admitter: g})
		pod := loadPod(t, podYAML("web", "", "app"))
		h.send(pod)
		synctest.Wait()
		if st := h.status(pod); st == nil || st.Status.Phase != v1.PodPending || st.Status.Reason != "NodePressure" {
			t.Fatalf("status %+v, want Pending with the admission's reason", st)
		}
		if _, ok := latestOf(t, rt, pod, "app"); ok {
			t.Fatal("a pod that is not admitted was started")
		}
		g.open.Store(true)
		h.r.SetNodeConditions(context.Background(), nil)
		waitFor(t, "the pod to run once admitted", func() bool { return running(t, rt, pod, "app") })

		active, err := h.r.ActivePods(context.Background())
		if err != nil || len(active) != 1 || active[0].UID != pod.UID {
			t.Fatalf("ActivePods = %d pods, %v; want the running pod", len(active), err)
		}
		g.open.Store(false)
		done := make(chan error, 1)
		go func() {
			done <- h.r.Evict(context.Background(), eviction.Eviction{Pod: pod, Reason: ReasonEvicted, Message: "The node was low on resource: memory."})
		}()
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Evict: %v", err)
			}
		default:
			t.Fatal("Evict did not return once the pod was stopped")
		}
		st := h.status(pod)
		if st.Status.Phase != v1.PodFailed || st.Status.Reason != ReasonEvicted {
			t.Errorf("after eviction: phase %s reason %q, want Failed Evicted", st.Status.Phase, st.Status.Reason)
		}
		for _, c := range podContainers(t, rt, pod) {
			if c.State == runtime.StateRunning {
				t.Errorf("%s still runs after the eviction", c.Name)
			}
		}
		if active, _ := h.r.ActivePods(context.Background()); len(active) != 0 {
			t.Errorf("an evicted pod is still active")
		}
		g.open.Store(true)
		h.r.SetNodeConditions(context.Background(), nil)
		waitFor(t, "the evicted pod to run again", func() bool { return running(t, rt, pod, "app") && h.phaseIs(pod, v1.PodRunning) })
	})
}

func TestAdmissionMaxPods(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{MaxPods: 2})
		a, b, c := loadPod(t, podYAML("a", "", "app")), loadPod(t, podYAML("b", "", "app")), loadPod(t, podYAML("c", "", "app"))
		h.send(a, b, c)
		synctest.Wait()
		waiting := 0
		for _, p := range []*v1.Pod{a, b, c} {
			if st := h.status(p); st.Status.Reason == ReasonOutOfPods {
				waiting++
			}
		}
		if waiting != 1 {
			t.Fatalf("%d pods wait for OutOfpods, want 1 of 3 with --max-pods 2", waiting)
		}
		h.send(a, c)
		waitFor(t, "the waiting pod to start once a place is free", func() bool {
			return running(t, rt, a, "app") && running(t, rt, c, "app")
		})
	})
}

func TestPodsForGC(t *testing.T) {
	bubble(t, func(t *testing.T) {
		rt := newFakeRuntime()
		h := startRunner(t, rt, Config{})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		set, err := h.r.PodsForGC(ctx)
		if err != nil || set.Known {
			t.Fatalf("before the first snapshot: %+v, %v; want not Known", set, err)
		}
		pod := loadPod(t, podYAML("web", "", "app"))
		h.send(pod)
		waitFor(t, "the pod to run", func() bool { return running(t, rt, pod, "app") })
		set, err = h.r.PodsForGC(ctx)
		if err != nil || !set.Known || !set.Desired[pod.UID] || len(set.Busy) != 0 {
			t.Errorf("PodsForGC = %+v, %v; want known, the pod desired, none busy", set, err)
		}
	})
}
