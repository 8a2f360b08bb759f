// Package cni attaches pod sandboxes to the pod network and detaches them,
// through libcni and the standard CNI plugins.
//
// A Plugin uses one Network for its lifetime, chosen by runner's
// --network-plugin as the dockershim kubelet's was:
//
//   - Kubenet (the default; Own): runner's own network list, generated in
//     memory; nothing of the CNI configuration directory is read.
//   - CNI (Load): a *.conflist, *.conf or *.json file of the configuration
//     directory (default /etc/cni/net.d): the one whose network has the
//     given name, else the first usable in lexical order. It keeps its own
//     IPAM (the address chosen by runner's allocator is then ignored).
//
// A Network carries its whole configuration, so that a record of an ADD can
// keep it and Open a Plugin for the DEL later, whatever is configured then.
//
// Runner's own network does per pod only what is per pod:
//
//	bridge    bridge runner0, hairpinMode; ipam "static" with the allocator's
//	          address passed per call as the "ips" capability; default route
//	          via the gateway (the bridge's address)
//	portmap   only for a pod with hostPorts: capability portMappings, snat,
//	          so hostPorts also answer on 127.0.0.1
//
// What is the same for every pod is the Node's (node.go), set up once by
// EnsureNode and repaired by it on every relist, removed by RemoveNode: the
// bridge and its address, masquerading of the PodCIDR, and the FORWARD
// accept rules for the bridge (Docker sets the FORWARD policy to DROP). An
// ADD of a pod without hostPorts runs no iptables at all.
//
// Lists of earlier runners (bridge with isGateway and ipMasq, firewall,
// portmap) recorded with their attachments still work for DEL: Detach
// recognises them and scrubs the per-pod rules they kept.
//
// The reconcile loop calls Attach after it started a sandbox's pause container
// (on /proc/<pid>/ns/net) and Detach before it removes the sandbox, also when
// the pause process is gone. Detach is idempotent and never fails for want of
// something to delete. libcni's cache (under the runner's root directory)
// keeps each ADD's result and runtime arguments so that DEL has them.
//
// DEL without a network namespace: the bridge plugin of
// containernetworking-plugins v1.1 returns early when the namespace is gone
// and leaves the pod's ipMasq chain in the nat table behind. For runner's
// lists of earlier runners Detach therefore removes that chain and the
// firewall plugin's rules of the pod's address itself; this is why
// DetachRequest carries the IP. A DEL of runner's own network without
// libcni's cache runs portmap with a placeholder mapping, which removes a
// hostPort chain the ADD may have left.
//
// Deadlines: every Attach and Detach ends within Config.Timeout, the
// rollback of a failed or cancelled Attach within Config.RollbackTimeout, and
// every iptables run of the package within 10 s (5 s of it at most waiting
// for the xtables lock). Plugins and iptables run in a process group of
// their own that is killed as a whole at the deadline, so a hung plugin, or
// a child it left behind, cannot hold a worker or runner's shutdown.
//
// A Detach is never run against the host's network namespace: a netns path
// that resolves to runner's own namespace (a /proc/<pid> path whose pid was
// reused), or to another namespace than the one Attach saw, is treated as
// gone.
package cni
