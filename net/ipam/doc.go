// Package ipam hands out pod IPv4 addresses from one PodCIDR and never leaks
// them.
//
// The best-known networking failure on real nodes is the IP leak: the
// host-local IPAM plugin keeps a reservation file for every sandbox that died
// with the node or the runtime, until "no IP addresses available in range set"
// stops every new pod. This package avoids it in two ways:
//
//   - every allocation is keyed by its owner (the sandbox key) and persisted
//     before Allocate returns, so a crash never loses an address that was
//     handed out and a retried Allocate gets the same address back;
//   - Reconcile releases every allocation whose owner the caller no longer
//     knows as live, so the reconcile loop frees leaked addresses on every
//     start and periodically after.
//
// Layout of a PodCIDR, e.g. 10.218.0.0/24:
//
//	10.218.0.0    network address, never allocated
//	10.218.0.1    gateway (the bridge), never allocated
//	10.218.0.2 …  pod addresses, handed out round-robin
//	10.218.0.255  broadcast address, never allocated
//
// Round-robin means the next allocation starts after the last address handed
// out, so an address that was just released is not reused at once (late
// packets and stale conntrack entries for the old pod do not reach a new one).
package ipam
