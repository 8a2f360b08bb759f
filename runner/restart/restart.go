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
