// Package fake is an in-memory pod network for unit tests of the code above
// the network seam (runner.Network, which net/podnet's Manager implements),
// beside runner/runtime/fake. It records every call, can fail the next call
// of a method with an injected error, and behaves as the Manager does where
// a caller could tell: addresses come from a PodCIDR round-robin (net/ipam's
// allocator, in memory), Attach of an attached sandbox returns its address,
// a hostPort held by another pod is refused with the Manager's message,
// Detach and Reconcile are idempotent and release what they detach, IP
// reports only attached sandboxes.
//
// What it does not model: plugins, namespaces, state files (a new Network
// starts empty).
package fake
