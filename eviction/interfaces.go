package eviction

import (
	"context"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Source measures the signals and the pods' usage. runner/stats implements
// it with cadvisor; HostSource with statfs, /proc and cgroup files. Its
// methods are called on the Manager's goroutine.
type Source interface {
	// Signals reads every signal it can; one it cannot is left out.
	Signals(ctx context.Context) (Snapshot, error)
	// PodUsage reads what each running pod uses, by UID. Called only when
	// a pod is to be evicted.
	PodUsage(ctx context.Context) (map[types.UID]PodUsage, error)
}

// Loop is what the Manager hands its decisions to: the reconcile loop
// implements it. Its methods are called on the Manager's goroutine (Run),
// never with the Manager's lock held, so the loop may call Admit from
// within them or after.
type Loop interface {
	// ActivePods returns copies of the pods the loop has admitted and runs
	// (the candidates for eviction): not those it holds or that finished.
	ActivePods(ctx context.Context) ([]*v1.Pod, error)
	// Evict stops e.Pod with e.GracePeriod (seconds; 0: kill at once),
	// shows it as phase Failed, reason e.Reason, message e.Message, and
	// holds it: it is started again only when Admit admits it. Evict returns
	// once the pod's containers are stopped, or with ctx's error.
	Evict(ctx context.Context, e Eviction) error
	// SetNodeConditions hands over the node conditions when one changed
	// status (and once at the start). The loop shows them (status, API,
	// metrics) and asks Admit again for every pod it holds.
	SetNodeConditions(ctx context.Context, conds []v1.NodeCondition)
}

// Reclaimer frees disk before any pod is evicted for it; gc's Manager
// implements it. Called on the Manager's goroutine.
type Reclaimer interface {
	ReclaimDisk(ctx context.Context) error
}

// Reporter hears of every eviction, for events and metrics. Called on the
// Manager's goroutine; it must not block.
type Reporter interface {
	Evicted(e Eviction)
}
