package eviction

import (
	"time"

	v1 "k8s.io/api/core/v1"
)

// Signal names what a threshold watches, in the kubelet's words.
type Signal string

const (
	// SignalMemoryAvailable: memory capacity minus the working set of the
	// root cgroup (usage minus inactive file pages), as the kubelet
	// computes it.
	SignalMemoryAvailable Signal = "memory.available"
	// SignalNodeFsAvailable and SignalNodeFsInodesFree: the file system of
	// runner's root directory (pod directories, emptyDir volumes).
	SignalNodeFsAvailable  Signal = "nodefs.available"
	SignalNodeFsInodesFree Signal = "nodefs.inodesFree"
	// SignalImageFsAvailable and SignalImageFsInodesFree: the file system
	// of the engine's data root (images, writable layers, container logs).
	SignalImageFsAvailable  Signal = "imagefs.available"
	SignalImageFsInodesFree Signal = "imagefs.inodesFree"
	// SignalPIDAvailable: the kernel's PID limit minus the processes
	// running.
	SignalPIDAvailable Signal = "pid.available"
)

// Signals are every signal runner watches, memory first.
var Signals = []Signal{
	SignalMemoryAvailable, SignalNodeFsAvailable, SignalNodeFsInodesFree,
	SignalImageFsAvailable, SignalImageFsInodesFree, SignalPIDAvailable,
}

// ConditionOf is the node condition a signal's pressure sets.
func ConditionOf(s Signal) v1.NodeConditionType {
	switch s {
	case SignalMemoryAvailable:
		return v1.NodeMemoryPressure
	case SignalPIDAvailable:
		return v1.NodePIDPressure
	}
	return v1.NodeDiskPressure
}

// resourceOf is what a signal's pressure is short of, for messages.
func resourceOf(s Signal) string {
	switch s {
	case SignalMemoryAvailable:
		return "memory"
	case SignalNodeFsAvailable, SignalImageFsAvailable:
		return "ephemeral-storage"
	case SignalNodeFsInodesFree, SignalImageFsInodesFree:
		return "inodes"
	}
	return "pids"
}

// isDisk reports whether garbage collection can relieve s.
func isDisk(s Signal) bool { return ConditionOf(s) == v1.NodeDiskPressure }

// Observation is one signal's reading: what is available of what capacity
// (bytes, inodes or PIDs).
type Observation struct {
	Available int64
	Capacity  int64
}

// Snapshot is one reading of the signals. A signal the source could not
// measure is absent, and its thresholds are never met.
type Snapshot struct {
	Time   time.Time
	Values map[Signal]Observation
}

// PodUsage is what one pod uses, for ranking. Zero is unknown or none.
type PodUsage struct {
	// Memory is the working set of its containers, in bytes.
	Memory int64
	// Processes counts its containers' processes.
	Processes int64
	// NodeFS is what it holds on the node file system (emptyDir volumes,
	// pod files); ImageFS on the engine's (writable layers, logs). When
	// both are one file system, both hold the sum.
	NodeFS, ImageFS DiskUse
}

// DiskUse is bytes and inodes on one file system.
type DiskUse struct {
	Bytes  int64
	Inodes int64
}
