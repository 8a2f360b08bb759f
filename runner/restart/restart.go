// Package restart is the kubelet's restart policy and crash-loop backoff as
// pure functions: whether an exited container is restarted, and when.
package restart

import (
	"time"

	v1 "k8s.io/api/core/v1"
)

// Policy is the crash-loop backoff: the first restart is immediate, later
// ones wait Initial, doubling up to Max; a container that ran for Reset or
// longer before exiting starts over with an immediate restart.
type Policy struct {
	Initial time.Duration
	Max     time.Duration
	Reset   time.Duration
}

// DefaultPolicy is the kubelet's: 10 s doubling to 5 min, reset after 10 min.
var DefaultPolicy = Policy{Initial: 10 * time.Second, Max: 5 * time.Minute, Reset: 10 * time.Minute}

// Wanted reports whether a container that exited with code is restarted
// under the pod's restartPolicy.
func Wanted(policy v1.RestartPolicy, exitCode int) bool {
	switch policy {
	case v1.RestartPolicyAlways:
		return true
	case v1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return false
}

// WantedFor decides for one container of a pod whose pod-level policy is
// pod: a sidecar (an init container whose own restartPolicy is Always)
// always runs again; a regular init container runs again when it failed,
// unless the pod's policy is Never (the pod has then failed); an app
// container follows the pod's policy (Wanted).
func WantedFor(pod v1.RestartPolicy, container *v1.ContainerRestartPolicy, init bool, exitCode int) bool {
	if init {
		if container != nil && *container == v1.ContainerRestartPolicyAlways {
			return true
		}
		return exitCode != 0 && pod != v1.RestartPolicyNever
	}
	return Wanted(pod, exitCode)
}

// Backoff is the backoff state of one container of one pod.
type Backoff struct {
	// Delay is what the next crash will wait; zero before the first crash.
	Delay time.Duration
}

// Next decides, for a container that started at started and exited at
// exited, when its replacement may start and the backoff state after it.
func (p Policy) Next(b Backoff, started, exited time.Time) (at time.Time, next Backoff) {
	if !started.IsZero() && exited.Sub(started) >= p.Reset {
		b = Backoff{}
	}
	at = exited.Add(b.Delay)
	switch {
	case b.Delay == 0:
		next.Delay = p.Initial
	case b.Delay*2 > p.Max:
		next.Delay = p.Max
	default:
		next.Delay = b.Delay * 2
	}
	return at, next
}
