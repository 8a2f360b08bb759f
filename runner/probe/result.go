package probe

import (
	"fmt"
	"time"
)

// MaxOutput bounds the output a handler keeps: a command's combined
// stdout and stderr, or a response body (10 KiB, as the kubelet).
const MaxOutput = 10 << 10

// Kind is the kind of a container's probe.
type Kind int

const (
	Liveness Kind = iota
	Readiness
	Startup
)

// String is the kind as the kubelet's messages spell it: "Liveness",
// "Readiness", "Startup".
func (k Kind) String() string {
	switch k {
	case Liveness:
		return "Liveness"
	case Readiness:
		return "Readiness"
	case Startup:
		return "Startup"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// Outcome is what one run of a handler found.
type Outcome int

const (
	// Unknown: the handler could not be run (no pod IP, an unresolvable
	// named port, an engine error, its context ended). A probe does not
	// count it, as the kubelet throws such a result away.
	Unknown Outcome = iota
	// Success: exit code 0, an HTTP status 200-299, a connection, SERVING.
	Success
	// Warning counts as a success: an HTTP probe that was redirected to
	// another host, which it does not follow (as the kubelet).
	Warning
	// Failure: the check ran and failed, or timed out.
	Failure
)

func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Warning:
		return "warning"
	case Failure:
		return "failure"
	default:
		return "unknown"
	}
}

// Result is what a handler returns.
type Result struct {
	Outcome Outcome
	// Output: the command's output, the response body, or why the check
	// failed ("HTTP probe failed with statuscode: 503"); at most MaxOutput
	// bytes.
	Output string
	// Err says why the handler could not be run; set with Outcome Unknown.
	Err error
}

// Status is a probe's result after its thresholds: what the loop acts on.
type Status int

const (
	// StatusUnknown: no verdict yet (a startup probe that has not
	// succeeded: the container has not started).
	StatusUnknown Status = iota
	StatusSuccess
	StatusFailure
)

func (s Status) String() string {
	switch s {
	case StatusSuccess:
		return "success"
	case StatusFailure:
		return "failure"
	default:
		return "unknown"
	}
}

// InitialStatus is a probe's status from the start of its container until
// its thresholds say otherwise, as the kubelet's: a readiness probe fails
// (the container is not ready until the first success), a liveness probe
// succeeds, a startup probe is unknown (the container has not started).
func InitialStatus(k Kind) Status {
	switch k {
	case Readiness:
		return StatusFailure
	case Liveness:
		return StatusSuccess
	default:
		return StatusUnknown
	}
}

// Event reports one probe attempt of a container to the loop. The Manager
// sends one for every attempt that changed the probe's Status and for every
// attempt that did not succeed plainly (Failure, Warning, Unknown: the
// kubelet's Unhealthy events), and none for a container after its Stop.
type Event struct {
	ContainerID string
	Kind        Kind
	// Time is when the attempt ended.
	Time time.Time
	// Attempt is what the handler found this time.
	Attempt Result
	// Status is the probe's status after this attempt; Changed says it
	// differs from the status before (InitialStatus for the first).
	Status  Status
	Changed bool
	// TerminationGracePeriodSeconds is the probe's own grace period for the
	// kill that a liveness or startup failure calls for (nil: the pod's).
	TerminationGracePeriodSeconds *int64
}

// Reason is the kubelet's event reason for the attempt: "Unhealthy" for a
// failure or an error, "ProbeWarning" for a warning; empty for a plain
// success.
func (e Event) Reason() string {
	switch e.Attempt.Outcome {
	case Failure, Unknown:
		return "Unhealthy"
	case Warning:
		return "ProbeWarning"
	default:
		return ""
	}
}

// Message is the attempt as the kubelet words it for a container event, e.g.
// "Liveness probe failed: HTTP probe failed with statuscode: 500",
// "Readiness probe errored: ...", "Liveness probe warning: ...". Empty for a
// plain success.
func (e Event) Message() string {
	switch e.Attempt.Outcome {
	case Failure:
		return fmt.Sprintf("%s probe failed: %s", e.Kind, e.Attempt.Output)
	case Warning:
		return fmt.Sprintf("%s probe warning: %s", e.Kind, e.Attempt.Output)
	case Unknown:
		return fmt.Sprintf("%s probe errored: %v", e.Kind, e.Attempt.Err)
	default:
		return ""
	}
}
