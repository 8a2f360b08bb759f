// Package eviction protects the node from running out of memory, disk or
// PIDs as the kubelet does: it watches signals against thresholds, reclaims
// disk through garbage collection, evicts one pod at a time ranked by QoS,
// priority and usage, reports the node conditions MemoryPressure,
// DiskPressure and PIDPressure, and decides which pods may start. Unlike the
// kubelet it brings evicted and waiting pods back once the node has been out
// of pressure for the transition period: a manifest on disk is desired
// state.
//
// Every decision is a pure function over a snapshot of signals: Evaluate
// (thresholds met, grace periods, minimum reclaim, conditions with their
// transition period), Rank (who goes first) and admit (who may start). A
// Manager runs them every MonitoringInterval on its own goroutine, reading a
// Source (cadvisor through runner/stats, or HostSource: statfs, /proc and
// cgroup files) and handing its decisions to the Loop, which the reconcile
// loop implements:
//
//	Source ──signals──► Manager ──Evaluate──► conditions ──► Loop.SetNodeConditions
//	                      │  disk: Reclaimer.ReclaimDisk (gc), measure again
//	                      │  Rank(Loop.ActivePods, Source.PodUsage)
//	                      └────────────────► Loop.Evict (one pod an interval)
//	Loop ──Admit(pod)──► Manager (any goroutine): start now, or wait and why
//
// Thresholds have the kubelet's syntax and defaults (ParseThresholds). A pod's
// priority is its spec.priority, else its priorityClassName resolved by
// runner (system-node-critical, system-cluster-critical, --priority-class),
// else 0. Pods at or above 2000000000 are critical: never evicted, and
// admitted under any pressure.
package eviction
