package runner

import (
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/runner/runtime"
)

// observedState is the loop's view of the engine: every container of this
// runner instance, indexed by pod. Owned by the loop goroutine.
type observedState struct {
	byID  map[string]*runtime.Container
	byPod map[types.UID]map[string]*runtime.Container
	// byName: namespace/name → UIDs that have containers, to hold a new pod
	// back until its predecessor is gone.
	byName map[string]map[types.UID]bool
	// touched: the sequence number (Runner.nextSeq) of the engine read that
	// last put a container; gone: of the one that removed it. A read that
	// began before either is stale for that container.
	touched map[string]uint64
	gone    map[string]uint64
}

func newObservedState() *observedState {
	return &observedState{
		byID:    map[string]*runtime.Container{},
		byPod:   map[types.UID]map[string]*runtime.Container{},
		byName:  map[string]map[types.UID]bool{},
		touched: map[string]uint64{},
		gone:    map[string]uint64{},
	}
}

func nameKeyOf(c *runtime.Container) string {
	return c.Labels[LabelPodNamespace] + "/" + c.Labels[LabelPodName]
}

// put records c, read from the engine by the read numbered seq, unless what
// is known of it is newer: it was removed after that read began, or its state
// is behind (a container only moves forward: created → running → exited).
// A record made from an event or a list lacks some details (start time,
// image ID, pid); they are taken from what is known. It returns whether
// anything changed.
func (o *observedState) put(c runtime.Container, seq uint64) bool {
	uid := podUIDOf(&c)
	if uid == "" || o.gone[c.ID] > seq {
		return false
	}
	if seq > o.touched[c.ID] {
		o.touched[c.ID] = seq
	}
	if c.State == runtime.StateCreated && (c.Error != "" || c.ExitCode != 0) {
		// The engine could not start it: it is as good as exited.
		c.State = runtime.StateExited
		if c.ExitCode == 0 {
			c.ExitCode = 128
		}
		if c.FinishedAt.IsZero() {
			c.FinishedAt = c.CreatedAt
		}
	}
	if old, ok := o.byID[c.ID]; ok {
		if c.State < old.State {
			// Behind, but it may know what the newer record lacks.
			enriched := *old
			mergeContainer(&enriched, &c)
			if sameContainer(old, &enriched) {
				return false
			}
			c = enriched
		} else {
			mergeContainer(&c, old)
			if sameContainer(old, &c) {
				return false
			}
		}
	}
	cc := c
	o.byID[c.ID] = &cc
	if o.byPod[uid] == nil {
		o.byPod[uid] = map[string]*runtime.Container{}
	}
	o.byPod[uid][c.ID] = &cc
	key := nameKeyOf(&cc)
	if o.byName[key] == nil {
		o.byName[key] = map[types.UID]bool{}
	}
	o.byName[key][uid] = true
	return true
}

// mergeContainer fills what c lacks from other, a record of the same
// container: details a list or an event does not carry.
func mergeContainer(c, other *runtime.Container) {
	if c.Name == "" {
		c.Name = other.Name
	}
	if c.Image == "" {
		c.Image = other.Image
	}
	if c.ImageID == "" {
		c.ImageID = other.ImageID
	}
	if c.Labels == nil {
		c.Labels = other.Labels
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = other.CreatedAt
	}
	if c.StartedAt.IsZero() && c.State >= runtime.StateRunning {
		c.StartedAt = other.StartedAt
	}
	if c.Pid == 0 && c.State == runtime.StateRunning && other.State == runtime.StateRunning {
		c.Pid = other.Pid
	}
}

func sameContainer(a, b *runtime.Container) bool {
	return a.State == b.State && a.ExitCode == b.ExitCode && a.Pid == b.Pid && a.OOMKilled == b.OOMKilled &&
		a.ImageID == b.ImageID && a.CreatedAt.Equal(b.CreatedAt) &&
		a.StartedAt.Equal(b.StartedAt) && a.FinishedAt.Equal(b.FinishedAt)
}

// remove forgets a container, as the read numbered seq found it gone; it
// returns its pod UID ("" if unknown).
func (o *observedState) remove(id string, seq uint64) types.UID {
	c, ok := o.byID[id]
	if seq > o.gone[id] {
		o.gone[id] = seq
	}
	if !ok {
		return ""
	}
	delete(o.byID, id)
	delete(o.touched, id)
	uid := podUIDOf(c)
	delete(o.byPod[uid], id)
	if len(o.byPod[uid]) == 0 {
		delete(o.byPod, uid)
		key := nameKeyOf(c)
		delete(o.byName[key], uid)
		if len(o.byName[key]) == 0 {
			delete(o.byName, key)
		}
	}
	return uid
}

// pod lists the containers of a pod.
func (o *observedState) pod(uid types.UID) []*runtime.Container {
	m := o.byPod[uid]
	out := make([]*runtime.Container, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	return out
}

// othersNamed reports whether pods other than uid with the same
// namespace/name still have containers.
func (o *observedState) othersNamed(key string, uid types.UID) bool {
	for u := range o.byName[key] {
		if u != uid {
			return true
		}
	}
	return false
}

// sourceOf is the manifest source (kubernetes.io/config.source) a pod's
// containers were made from, "" when they do not say.
func (o *observedState) sourceOf(uid types.UID) string {
	for _, c := range o.byPod[uid] {
		if src := c.Labels[LabelConfigSource]; src != "" {
			return src
		}
	}
	return ""
}
