// Package podnet gives pod sandboxes their network: an address from the
// PodCIDR (net/ipam), CNI ADD/DEL (net/cni) and host ports that never
// collide between pods. It keeps a record of every sandbox it attached under
// the root dir, written before CNI runs, so a runner killed at any moment
// finds, at its next start, every attachment it has to undo: no address,
// veth or iptables rule ever leaks.
//
// The reconcile loop's workers call Attach after a sandbox's pause process
// started and Detach before the sandbox is removed (also when its process is
// gone); the loop calls Reconcile once at start with the sandboxes that exist.
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
// The Manager reaches net/ipam and net/cni through small interfaces
// (addresses, attacher, recordStore), so that its decisions are unit tested
// with failures injected at each step.
package podnet
