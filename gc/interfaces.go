package gc

import (
	"context"

	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/runner/runtime"
)

// Engine is the part of the engine seam gc acts through; runtime.Runtime
// implements it.
type Engine interface {
	ListContainers(ctx context.Context, match map[string]string) ([]runtime.Container, error)
	RemoveContainer(ctx context.Context, id string) error
	ListImages(ctx context.Context) ([]runtime.Image, error)
	RemoveImage(ctx context.Context, id string) error
}

// Pods is what gc needs from the reconcile loop, which implements it.
type Pods interface {
	// PodsForGC returns a copy of the loop's view of its pods, taken at one
	// instant. Called by the Manager on its own goroutine (or the caller's,
	// for RunOnce), once per container pass, after the containers were
	// listed; it may wait for the loop, at most until ctx ends.
	PodsForGC(ctx context.Context) (PodSet, error)
}

// PodSet is the loop's view of its pods for one container GC pass.
type PodSet struct {
	// Known is false until the loop has its first complete desired state;
	// until then no pod counts as gone, so only the limits apply.
	Known bool
	// Desired holds the UID of every pod the loop keeps, including pods it
	// keeps from the last good content of a manifest that no longer reads.
	Desired map[types.UID]bool
	// Busy holds the UID of every pod a worker is acting on now: gc leaves
	// all of their containers alone for this pass.
	Busy map[types.UID]bool
}

// ImageFS measures the file system of the engine's data root, where images
// live. runner/stats implements it with cadvisor; StatfsImageFS with
// statfs(2).
type ImageFS interface {
	// ImageFSUsage is called by the Manager once per image pass, on the
	// goroutine of that pass.
	ImageFSUsage(ctx context.Context) (FSUsage, error)
}

// FSUsage is a file system's size and free space, in bytes.
type FSUsage struct {
	Capacity  int64
	Available int64
}

// UsedPercent is the share of the file system in use, rounded down, as the
// kubelet computes it: 100 - available*100/capacity.
func (u FSUsage) UsedPercent() int {
	if u.Capacity <= 0 {
		return 0
	}
	return 100 - int(u.Available*100/u.Capacity)
}

// Reporter hears what gc did: the loop records events and metrics from it.
// Its methods are called on the goroutine of the pass and must not block.
type Reporter interface {
	// Removed is called after each successful removal.
	Removed(r Removal)
	// PassDone is called at the end of every pass, failed or not.
	PassDone(p Pass)
}
