package fake

import (
	"context"
	"maps"
	"strconv"
	"sync"

	"github.com/runner-dev/runner/runner/runtime"
)

// subscriber is one Events stream. Its queue is unbounded, so emitting
// never blocks the fake on a slow reader.
type subscriber struct {
	match map[string]string

	mu     sync.Mutex
	queue  []runtime.Event
	err    error         // set by CloseEvents
	wake   chan struct{} // capacity 1: something was queued or err set
	closed bool          // err is set
}

// push queues ev and wakes the stream's goroutine.
func (s *subscriber) push(ev runtime.Event) {
	s.mu.Lock()
	s.queue = append(s.queue, ev)
	s.mu.Unlock()
	s.signal()
}

// fail ends the stream with err once the queue is delivered.
func (s *subscriber) fail(err error) {
	s.mu.Lock()
	if !s.closed {
		s.closed, s.err = true, err
	}
	s.mu.Unlock()
	s.signal()
}

func (s *subscriber) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// take empties the queue and tells whether the stream was failed, and with
// which error.
func (s *subscriber) take() (queue []runtime.Event, failed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	queue, s.queue = s.queue, nil
	return queue, s.closed, s.err
}

// Events streams the create, start, die, oom and destroy events of
// containers whose labels include all of match, from the moment of the call
// until ctx ends or CloseEvents fails the stream. The error channel then
// receives exactly one value and both channels are closed. An error
// injected with FailNext ends the stream at once with that error. One
// goroutine per stream, ending with it.
func (r *Runtime) Events(ctx context.Context, match map[string]string) (<-chan runtime.Event, <-chan error) {
	out := make(chan runtime.Event)
	errc := make(chan error, 1)

	r.mu.Lock()
	if err := r.recordLocked("Events", matchArg(match)); err != nil {
		r.mu.Unlock()
		errc <- err
		close(errc)
		close(out)
		return out, errc
	}
	sub := &subscriber{match: maps.Clone(match), wake: make(chan struct{}, 1)}
	r.subs[sub] = struct{}{}
	r.mu.Unlock()

	go func() {
		defer close(out)
		defer close(errc)
		err := sub.deliver(ctx, out)
		r.mu.Lock()
		delete(r.subs, sub)
		r.mu.Unlock()
		errc <- err
	}()
	return out, errc
}

// deliver sends queued events to out until ctx ends or the stream fails,
// and returns why. Called on the stream's goroutine.
func (s *subscriber) deliver(ctx context.Context, out chan<- runtime.Event) error {
	for {
		queue, failed, err := s.take()
		for _, ev := range queue {
			select {
			case out <- ev:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if failed {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.wake:
		}
	}
}

// CloseEvents ends every open Events stream with err (after the events
// already queued), as a restarting engine would.
func (r *Runtime) CloseEvents(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for sub := range r.subs {
		sub.fail(err)
	}
}

// emitLocked sends an event about c to the matching subscribers. Like
// Docker's, its labels are the container's plus "name" and "image", and
// "exitCode" for die. The caller holds r.mu.
func (r *Runtime) emitLocked(c *fakeContainer, action runtime.EventAction, exitCode int) {
	if len(r.subs) == 0 {
		return
	}
	attrs := maps.Clone(c.Labels)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["name"] = c.Name
	attrs["image"] = c.Image
	if action == runtime.EventDie {
		attrs["exitCode"] = strconv.Itoa(exitCode)
	}
	ev := runtime.Event{
		ContainerID: c.ID,
		Action:      action,
		ExitCode:    exitCode,
		Time:        r.now(),
	}
	for sub := range r.subs {
		if labelsMatch(c.Labels, sub.match) {
			e := ev
			e.Labels = maps.Clone(attrs)
			sub.push(e)
		}
	}
}
