package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
)

// instanceMatch selects the containers of this runner instance.
func (r *Runner) instanceMatch() map[string]string {
	return map[string]string{LabelInstance: r.cfg.InstanceID}
}

// inspectCache remembers the last inspection of each container, so a relist
// inspects only the containers that are new or whose state changed: in a
// steady state a relist is one engine call, whatever the number of pods.
// Owned by one goroutine at a time (the loop at start, then the watcher).
type inspectCache map[string]runtime.Container

// listAll lists every container of this instance and returns the full
// observed state, inspecting what the cache does not already know. Called
// at start by the loop and by the watcher's relist.
func (r *Runner) listAll(ctx context.Context, cache inspectCache) (observedUpdate, error) {
	seq := r.nextSeq()
	cctx, cancel := r.call(ctx)
	list, err := r.cfg.Runtime.ListContainers(cctx, r.instanceMatch())
	cancel()
	if err != nil {
		return observedUpdate{}, fmt.Errorf("list containers of instance %s: %w", r.cfg.InstanceID, err)
	}
	u := observedUpdate{full: true, seq: seq, containers: make([]runtime.Container, 0, len(list))}
	listed := make(map[string]bool, len(list))
	for _, c := range list {
		listed[c.ID] = true
		if known, ok := cache[c.ID]; ok && known.State == c.State {
			u.containers = append(u.containers, known)
			continue
		}
		full, err := r.inspect(ctx, c.ID)
		if errors.Is(err, runtime.ErrNotFound) {
			delete(cache, c.ID)
			continue
		}
		if err != nil {
			return observedUpdate{}, err
		}
		cache[c.ID] = full
		u.containers = append(u.containers, full)
	}
	for id := range cache {
		if !listed[id] {
			delete(cache, id)
		}
	}
	return u, nil
}

func (r *Runner) inspect(ctx context.Context, id string) (runtime.Container, error) {
	cctx, cancel := r.call(ctx)
	defer cancel()
	c, err := r.cfg.Runtime.InspectContainer(cctx, id)
	if err != nil {
		return c, fmt.Errorf("inspect container %s: %w", id, err)
	}
	return c, nil
}

// watch follows the engine's events for this instance and relists every
// SyncFrequency, sending what it learns to updates until ctx ends. When the
// event stream breaks (dockerd restarted) it reconnects and relists, since
// events may have been missed. Runs on its own goroutine, owned by Run.
func (r *Runner) watch(ctx context.Context, cache inspectCache, updates chan<- observedUpdate) {
	send := func(u observedUpdate) bool {
		select {
		case updates <- u:
			return true
		case <-ctx.Done():
			return false
		}
	}
	relist := time.NewTicker(r.cfg.SyncFrequency)
	defer relist.Stop()
	retry := 250 * time.Millisecond
	for ctx.Err() == nil {
		streamCtx, cancel := context.WithCancel(ctx)
		events, errc := r.cfg.Runtime.Events(streamCtx, r.instanceMatch())
		resync := func() bool {
			u, err := r.listAll(ctx, cache)
			if err != nil {
				r.log.Warn("relist failed", "error", err)
				return true
			}
			return send(u)
		}
		if !resync() {
			cancel()
			return
		}
	stream:
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					break stream
				}
				retry = 250 * time.Millisecond
				u, ok := r.eventUpdate(ctx, ev)
				for _, c := range u.containers {
					cache[c.ID] = c
				}
				for _, id := range u.removed {
					delete(cache, id)
				}
				if ok && !send(u) {
					break stream
				}
			case err := <-errc:
				if ctx.Err() == nil {
					r.log.Warn("engine event stream ended; reconnecting", "error", err)
				}
				break stream
			case <-relist.C:
				if !resync() {
					break stream
				}
			case <-ctx.Done():
				break stream
			}
		}
		cancel()
		// Drain so the runtime's stream goroutine can exit.
		for range events {
		}
		select {
		case <-time.After(retry):
		case <-ctx.Done():
		}
		retry = min(retry*2, 5*time.Second)
	}
}

// eventUpdate turns an event into an observed update: the container as it
// is now, or its removal.
func (r *Runner) eventUpdate(ctx context.Context, ev runtime.Event) (observedUpdate, bool) {
	seq := r.nextSeq()
	switch ev.Action {
	case runtime.EventDestroy:
		return observedUpdate{removed: []string{ev.ContainerID}, seq: seq}, true
	case runtime.EventStart, runtime.EventDie:
		// (A create needs no look: this runner's workers report the
		// containers they create, and a relist finds any other.)
		c, err := r.inspect(ctx, ev.ContainerID)
		if errors.Is(err, runtime.ErrNotFound) {
			return observedUpdate{removed: []string{ev.ContainerID}, seq: seq}, true
		}
		if err != nil {
			if ctx.Err() != nil {
				return observedUpdate{}, false // shutting down
			}
			r.log.Warn("inspect after event failed", "container_id", ev.ContainerID, "event", ev.Action, "error", err)
			return observedUpdate{}, false
		}
		return observedUpdate{containers: []runtime.Container{c}, seq: seq}, true
	}
	return observedUpdate{}, false
}
