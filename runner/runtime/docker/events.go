package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/runner-dev/runner/runner/runtime"
)

// errStreamEnded: the engine closed the event stream (e.g. it is stopping).
var errStreamEnded = errors.New("event stream ended")

// Events streams the create, start, die, oom and destroy events of containers
// whose labels include all of match, until ctx ends or the stream fails;
// other actions (exec_start, kill, attach, ...) are dropped. The error
// channel then receives exactly one value, ctx's error or the stream's, and
// both channels are closed. The caller must keep reading events until then.
// One goroutine, owned by this call, forwards the events and ends with ctx.
func (r *Runtime) Events(ctx context.Context, match map[string]string) (<-chan runtime.Event, <-chan error) {
	out := make(chan runtime.Event)
	errc := make(chan error, 1)

	streamCtx, cancel := context.WithCancel(ctx)
	args := labelFilters(match)
	args.Add("type", string(events.ContainerEventType))
	msgs, streamErrs := r.client.Events(streamCtx, events.ListOptions{Filters: args})

	go func() {
		defer close(out)
		defer close(errc)
		defer cancel() // ends the SDK's reader goroutine
		errc <- forwardEvents(ctx, msgs, streamErrs, match, out)
	}()
	return out, errc
}

// forwardEvents translates messages to out until ctx ends or the stream
// fails, and returns why it stopped. Called on Events' goroutine.
func forwardEvents(ctx context.Context, msgs <-chan events.Message, streamErrs <-chan error, match map[string]string, out chan<- runtime.Event) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-streamErrs:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err == nil || errors.Is(err, io.EOF) {
				err = errStreamEnded
			}
			return fmt.Errorf("container events: %w", err)
		case m := <-msgs:
			ev, ok := eventOf(m)
			if !ok || !labelsMatch(ev.Labels, match) {
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// eventOf translates an engine message; ok is false for actions the runtime
// does not report.
func eventOf(m events.Message) (runtime.Event, bool) {
	if m.Type != events.ContainerEventType {
		return runtime.Event{}, false
	}
	var action runtime.EventAction
	switch m.Action {
	case events.ActionCreate:
		action = runtime.EventCreate
	case events.ActionStart:
		action = runtime.EventStart
	case events.ActionDie:
		action = runtime.EventDie
	case events.ActionOOM:
		action = runtime.EventOOM
	case events.ActionDestroy:
		action = runtime.EventDestroy
	default:
		return runtime.Event{}, false
	}
	ev := runtime.Event{
		ContainerID: m.Actor.ID,
		Action:      action,
		Labels:      m.Actor.Attributes, // labels, plus name, image, exitCode...
	}
	if m.TimeNano != 0 {
		ev.Time = time.Unix(0, m.TimeNano)
	} else {
		ev.Time = time.Unix(m.Time, 0)
	}
	if action == runtime.EventDie {
		if code, err := strconv.Atoi(m.Actor.Attributes["exitCode"]); err == nil {
			ev.ExitCode = code
		}
	}
	return ev, true
}

// labelsMatch reports whether labels include all of match. The engine
// filters already; this guards against an engine that ignores a filter.
func labelsMatch(labels, match map[string]string) bool {
	for k, v := range match {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
