// Package podnet gives pod sandboxes their network: an address from the
// PodCIDR (net/ipam), CNI ADD/DEL (net/cni) and host ports that never
// collide between pods. It keeps a record of every sandbox it attached under
// the root dir, written before CNI runs, so a runner killed at any moment
// finds, at its next start, every attachment it has to undo: no address,
// veth or iptables rule ever leaks.
//
// The reconcile loop's workers call Attach after a sandbox's pause process
// started and Detach before the sandbox is removed (also when its process is
// gone); the loop calls Reconcile once at start with the sandboxes that exist,
// and EnsureNode on every relist: runner's own network keeps what is the same
// for every pod (bridge, its addresses, masquerading, FORWARD rules) out of
// the pods' ADDs, sets it up once (Reconcile, or the first Attach) and
// repairs it when something outside runner deleted it. Uninstall (runner
// cleanup-network) detaches everything and removes it.
//
// Attach, step by step, and what undoes each step when a later one fails:
//
//	claim      record written (not ready)        forget (record removed)
//	allocate   address from the PodCIDR          release
//	CNI ADD    veth, address, routes, rules      CNI DEL (cni rolls its own failure back)
//	ready      record updated with the address   -
//
// A failed Attach leaves nothing behind. When an undo itself fails (a DEL
// that fails too), the record and the address stay, so that Detach, or
// Reconcile once the sandbox is gone, finishes the work.
//
// The network: Config.NetworkPlugin chooses runner's own (kubenet: its
// bridge, --pod-cidr, addresses from net/ipam; nothing of the CNI
// configuration directory is read) or a user's list (cni). Each record keeps
// the network of its ADD (its whole configuration, in the state file's
// "networks"), and DEL uses it: a sandbox attached under one plugin is
// detached correctly after runner restarted under the other, or after the
// user edited or removed the file.
//
// A changed --pod-cidr while pods hold addresses of the earlier one: they keep
// them, and new pods get addresses of the new range, when the earlier range is
// disjoint from the new one or the new one widens it (same first address);
// any other overlap refuses to start, with a message naming the pods and what
// to do (decideCIDRs).
//
// The Manager reaches net/ipam and net/cni through small interfaces
// (addresses, attacher, recordStore), so that its decisions are unit tested
// with failures injected at each step.
package podnet
