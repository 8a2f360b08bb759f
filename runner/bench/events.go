package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
)

// Labels runner puts on its containers that the phases read from events.
const (
	labelInstance  = "io.runner.instance"
	labelPodName   = "io.kubernetes.pod.name"
	labelContainer = "io.kubernetes.container.name"
	labelAttempt   = "io.runner.attempt"
	sandboxName    = "POD"
)

// event is one container event as the engine stamped it.
type event struct {
	id     string
	action events.Action
	at     time.Time
	attrs  map[string]string // the container's labels, plus name, image, exitCode
}

// recorder keeps every container event whose labels include one key=value,
// from the moment it was started (events the engine emitted before the
// stream was open are replayed through "since"). Safe for concurrent use.
type recorder struct {
	mu     sync.Mutex
	evs    []event
	notify chan struct{} // closed and replaced at every new event
	err    error
	done   chan struct{}
}

// startRecorder subscribes to the engine's events until ctx ends. One
// goroutine, owned by the recorder, reads the stream; wait for it with
// stop's caller cancelling ctx and then reading done.
func startRecorder(ctx context.Context, cli *client.Client, key, value string) *recorder {
	r := &recorder{notify: make(chan struct{}), done: make(chan struct{})}
	now := time.Now().Add(-time.Second)
	args := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)), filters.Arg("label", key+"="+value))
	msgs, errs := cli.Events(ctx, events.ListOptions{Filters: args, Since: fmt.Sprintf("%d.%09d", now.Unix(), now.Nanosecond())})
	go func() {
		defer close(r.done)
		for {
			select {
			case m := <-msgs:
				ev := event{id: m.Actor.ID, action: m.Action, at: time.Unix(0, m.TimeNano), attrs: m.Actor.Attributes}
				r.mu.Lock()
				r.evs = append(r.evs, ev)
				close(r.notify)
				r.notify = make(chan struct{})
				r.mu.Unlock()
			case err := <-errs:
				r.mu.Lock()
				if ctx.Err() == nil {
					r.err = fmt.Errorf("docker events: %w", err)
				}
				close(r.notify)
				r.notify = make(chan struct{})
				r.mu.Unlock()
				return
			}
		}
	}()
	return r
}

// snapshot returns the events so far (shared: do not modify).
func (r *recorder) snapshot() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.evs[:len(r.evs):len(r.evs)]
}

// wait blocks until cond holds on the events so far, the timeout passes or
// ctx ends; what names the condition in the error.
func (r *recorder) wait(ctx context.Context, timeout time.Duration, what string, cond func([]event) bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		evs, notify, err := r.evs[:len(r.evs):len(r.evs)], r.notify, r.err
		r.mu.Unlock()
		if cond(evs) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		select {
		case <-notify:
		case <-deadline.C:
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// find returns the first event matching pod (full name), container name,
// attempt ("" for any) and action.
func find(evs []event, pod, container, attempt string, action events.Action) (event, bool) {
	for _, e := range evs {
		if e.action == action && e.attrs[labelPodName] == pod && e.attrs[labelContainer] == container &&
			(attempt == "" || e.attrs[labelAttempt] == attempt) {
			return e, true
		}
	}
	return event{}, false
}

// timeline is what the events tell of one pod's first start.
type timeline struct {
	sbCreate, sbStart, appCreate, appStart time.Time
}

// timelineOf reads attempt 0 of a pod's sandbox and app container; ok is
// false until the app container has started.
func timelineOf(evs []event, pod string) (timeline, bool) {
	var tl timeline
	for _, x := range []struct {
		container string
		action    events.Action
		at        *time.Time
	}{
		{sandboxName, events.ActionCreate, &tl.sbCreate},
		{sandboxName, events.ActionStart, &tl.sbStart},
		{"app", events.ActionCreate, &tl.appCreate},
		{"app", events.ActionStart, &tl.appStart},
	} {
		e, ok := find(evs, pod, x.container, "0", x.action)
		if !ok {
			return tl, false
		}
		*x.at = e.at
	}
	return tl, true
}
