package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// eventLog reads an Events stream and remembers what it saw.
type eventLog struct {
	h      *harness
	events <-chan runtime.Event
	errs   <-chan error
	seen   []runtime.Event
}

// await reads events until one of container id with action arrives and
// returns it, failing the test after waitTimeout.
func (l *eventLog) await(id string, action runtime.EventAction) runtime.Event {
	l.h.t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case ev, ok := <-l.events:
			if !ok {
				l.h.t.Fatalf("event stream closed waiting for %s of %s: %v", action, id, <-l.errs)
			}
			l.seen = append(l.seen, ev)
			if ev.ContainerID == id && ev.Action == action {
				return ev
			}
		case <-timeout:
			l.h.t.Fatalf("no %s event of %s within %v; saw %v", action, id, waitTimeout, l.seen)
		}
	}
}

// actions lists the actions seen for container id, in order.
func (l *eventLog) actions(id string) []runtime.EventAction {
	var out []runtime.EventAction
	for _, ev := range l.seen {
		if ev.ContainerID == id {
			out = append(out, ev.Action)
		}
	}
	return out
}

// testEvents watches one container's life through Events: create, start,
// die with its exit code, destroy; and no events of a container whose
// labels do not match.
func testEvents(h *harness) {
	ctx, cancel := context.WithCancel(h.ctx())
	defer cancel()
	match := h.labels()
	match["watch"] = "yes"
	events, errs := h.rt.Events(ctx, match)
	log := &eventLog{h: h, events: events, errs: errs}

	other := h.spec("other", "sh", "-c", "exit 1")
	other.Labels["watch"] = "no"
	otherID := h.create(other)

	spec := h.spec("watched", "sh", "-c", "exit 7")
	spec.Labels["watch"] = "yes"
	before := time.Now().Add(-time.Minute)
	id := h.create(spec)
	if err := h.rt.StartContainer(h.ctx(), otherID); err != nil {
		h.t.Fatalf("StartContainer(other): %v", err)
	}
	if err := h.rt.StartContainer(h.ctx(), id); err != nil {
		h.t.Fatalf("StartContainer: %v", err)
	}
	h.acts(otherID, "", "", 1)
	h.acts(id, "", "", 7)

	created := log.await(id, runtime.EventCreate)
	log.await(id, runtime.EventStart)
	die := log.await(id, runtime.EventDie)
	if die.ExitCode != 7 {
		h.t.Errorf("die event exit code %d, want 7", die.ExitCode)
	}
	for _, ev := range []runtime.Event{created, die} {
		if !hasLabels(ev.Labels, match) {
			h.t.Errorf("%s event labels %v, want to include %v", ev.Action, ev.Labels, match)
		}
		if ev.Time.Before(before) || ev.Time.After(time.Now().Add(time.Minute)) {
			h.t.Errorf("%s event time %v, want about now", ev.Action, ev.Time)
		}
	}

	if err := h.rt.RemoveContainer(h.ctx(), id); err != nil {
		h.t.Fatalf("RemoveContainer: %v", err)
	}
	log.await(id, runtime.EventDestroy)
	want := []runtime.EventAction{runtime.EventCreate, runtime.EventStart, runtime.EventDie, runtime.EventDestroy}
	if got := log.actions(id); fmt.Sprint(got) != fmt.Sprint(want) {
		h.t.Errorf("events of the container %v, want %v", got, want)
	}
	if got := log.actions(otherID); len(got) != 0 {
		h.t.Errorf("events of a container not matching: %v, want none", got)
	}
}

// testEventsCancel: when the context ends, the error channel gets exactly
// the context's error and both channels close.
func testEventsCancel(h *harness) {
	ctx, cancel := context.WithCancel(h.ctx())
	events, errs := h.rt.Events(ctx, h.labels())
	cancel()

	timeout := time.After(waitTimeout)
	for events != nil || errs != nil {
		select {
		case _, ok := <-events:
			if !ok {
				events = nil
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if !errors.Is(err, context.Canceled) {
				h.t.Errorf("Events error after cancel: %v, want context.Canceled", err)
			}
			if _, ok := <-errs; ok {
				h.t.Errorf("Events sent a second error")
			}
			errs = nil
		case <-timeout:
			h.t.Fatalf("Events channels not closed within %v of cancel", waitTimeout)
		}
	}
}
