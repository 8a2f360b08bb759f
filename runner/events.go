package runner

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/runner/runtime"
)

// Event reasons, as the kubelet records them (kubectl describe and the
// API's /events show them; runner's log carries them under "reason").
const (
	ReasonPulling         = "Pulling"
	ReasonPulled          = "Pulled"
	ReasonCreated         = "Created"
	ReasonStarted         = "Started"
	ReasonKilling         = "Killing"
	ReasonBackOff         = "BackOff"
	ReasonFailed          = "Failed"
	ReasonUnhealthy       = "Unhealthy"
	ReasonSandboxChanged  = "SandboxChanged"
	ReasonEvicted         = "Evicted"
	ReasonFailedPostStart = "FailedPostStartHook"
	ReasonFailedPreStop   = "FailedPreStopHook"
	ReasonDeadline        = "DeadlineExceeded"
)

// Event types.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// Event is one thing that happened to a pod or one of its containers.
// Repeats of the same event are folded into one, counted.
type Event struct {
	Type      string    `json:"type"` // EventNormal or EventWarning
	Reason    string    `json:"reason"`
	Pod       string    `json:"pod"` // namespace/name
	PodUID    types.UID `json:"podUID"`
	Container string    `json:"container,omitempty"`
	Message   string    `json:"message"`
	FirstTime time.Time `json:"firstTimestamp"`
	LastTime  time.Time `json:"lastTimestamp"`
	Count     int       `json:"count"`
}

// maxEvents is how many events the log keeps; foldWindow how far back a
// repeat is looked for.
const (
	maxEvents  = 1000
	foldWindow = 64
)

// eventLog keeps the latest events. Safe for concurrent use.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (e *eventLog) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := len(e.events) - 1; i >= max(0, len(e.events)-foldWindow); i-- {
		old := &e.events[i]
		if old.PodUID == ev.PodUID && old.Container == ev.Container && old.Reason == ev.Reason && old.Message == ev.Message {
			old.Count++
			old.LastTime = ev.LastTime
			// Keep the log ordered by last time: move it to the end.
			moved := *old
			e.events = append(slices.Delete(e.events, i, i+1), moved)
			return
		}
	}
	if len(e.events) >= maxEvents {
		e.events = slices.Delete(e.events, 0, len(e.events)-maxEvents+1)
	}
	e.events = append(e.events, ev)
}

// Events returns a copy of the latest events, oldest first. Safe from any
// goroutine.
func (r *Runner) Events() []Event {
	r.events.mu.Lock()
	defer r.events.mu.Unlock()
	return slices.Clone(r.events.events)
}

// podRef names the pod an event is about.
type podRef struct {
	key string // namespace/name
	uid types.UID
}

func refOf(pod *v1.Pod) podRef { return podRef{key: podKey(pod), uid: pod.UID} }

// refOfContainer names the pod of a container from its labels (for pods
// that are no longer desired).
func refOfContainer(c *runtime.Container) podRef {
	return podRef{key: nameKeyOf(c), uid: podUIDOf(c)}
}

// record notes an event of a pod (container "" for the pod itself) and
// logs it on log with the event's reason and any further attributes. Safe
// from any goroutine.
func (r *Runner) record(log *slog.Logger, pod podRef, typ, reason, container, message string, attrs ...any) {
	now := time.Now()
	ev := Event{Type: typ, Reason: reason, Pod: pod.key, PodUID: pod.uid, Container: container, Message: message,
		FirstTime: now, LastTime: now, Count: 1}
	r.events.add(ev)
	args := append([]any{"reason", reason}, attrs...)
	if container != "" {
		args = append(args, "container", container)
	}
	if typ == EventWarning {
		log.Warn(message, args...)
	} else {
		log.Info(message, args...)
	}
}

// RecordEvent records an event about pod (its container when container is
// set) that happened outside the loop, e.g. a rollback of safe updates;
// the caller logs it. Safe from any goroutine.
func (r *Runner) RecordEvent(pod *v1.Pod, typ, reason, container, message string) {
	now := time.Now()
	r.events.add(Event{Type: typ, Reason: reason, Pod: podKey(pod), PodUID: pod.UID, Container: container, Message: message,
		FirstTime: now, LastTime: now, Count: 1})
}
