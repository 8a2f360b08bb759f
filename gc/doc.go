// Package gc removes what the pods of a runner leave behind: dead containers
// and sandboxes, and images nothing uses, with the kubelet's policies.
//
// Decisions are pure functions: PlanContainers (which dead containers and
// sandboxes to remove, oldest first) and PlanImages (which unused images,
// least recently used first, until the image file system is back under its
// low threshold). A Manager carries them out through the engine seam
// (runner/runtime) every ContainerPeriod and ImagePeriod, and on demand
// (RunOnce, ReclaimDisk for the eviction manager).
//
// What it must know of the reconcile loop comes through Pods, which the loop
// implements: which pods are desired, and which the loop is acting on right
// now. gc never imports the runner package.
//
//	ticker ─┐                 ┌─ Pods (the loop): desired, busy
//	RunOnce ┼─► Manager ──────┼─ ImageFS: capacity, available
//	        │     │           └─ Engine: list, remove
//	        │     ▼
//	        │  PlanContainers / PlanImages (pure)
//	        └─► Reporter: what was removed and why (logs, events, metrics)
//
// Rules that hold whatever the flags say: only containers carrying this
// runner's instance label are touched; a running container is never removed;
// nor the newest dead instance of a container of a desired pod (its logs serve
// --previous and its exit code the status), nor the newest sandbox of a
// desired pod; nothing of a pod the loop is acting on. An image used by any
// container (runner's or not, running or not), the pause image, pinned
// images and images loaded from the image directory are never removed. When
// images were last used is kept under the root directory, so it survives a
// restart.
package gc
