package runner

import (
	"sort"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/runner/runtime"
)

// Annotations of a pod's status that say where it comes from: the file or
// URL, and which version of its content runs (see manifest.VersionFrom)
// and why when it is not the current one.
const (
	AnnotationConfigOrigin        = "runner.dev/config-origin"
	AnnotationConfigVersion       = "runner.dev/config-version"
	AnnotationConfigVersionReason = "runner.dev/config-version-reason"
)

// StatusStore holds the latest status of every desired pod. The loop writes
// it; any goroutine may read it. Changed returns a channel closed at the next
// write, for waiters such as runonce.
type StatusStore struct {
	mu      sync.RWMutex
	pods    map[types.UID]*v1.Pod
	changed chan struct{}
}

func newStatusStore() *StatusStore {
	return &StatusStore{pods: map[types.UID]*v1.Pod{}, changed: make(chan struct{})}
}

func (s *StatusStore) put(uid types.UID, pod *v1.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pods[uid] = pod
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *StatusStore) delete(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pods[uid]; !ok {
		return
	}
	delete(s.pods, uid)
	close(s.changed)
	s.changed = make(chan struct{})
}

// get returns a pod's status, nil when it has none.
func (s *StatusStore) get(uid types.UID) *v1.Pod {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pods[uid]
}

// List returns the pods with their status, sorted by namespace and name.
// The pods are shared: callers must not change them.
func (s *StatusStore) List() []*v1.Pod {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*v1.Pod, 0, len(s.pods))
	for _, p := range s.pods {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return podKey(out[i]) < podKey(out[j]) })
	return out
}

// Changed returns a channel that is closed at the next change.
func (s *StatusStore) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// computeStatus derives a pod's status from what is observed, as the
// kubelet shows it: phase, conditions and container statuses with reasons.
// Pure; called on the loop goroutine.
func (r *Runner) computeStatus(v *podView, st *podState, now time.Time) *v1.Pod {
	pod := v.desired.DeepCopy()
	if o := v.origin; o.Origin != "" {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		// Which version of which manifest runs: the file's current content,
		// its last good one (the current one is invalid), a checkpoint, or
		// the last Ready one after a rollback.
		pod.Annotations[AnnotationConfigOrigin] = o.Origin
		pod.Annotations[AnnotationConfigVersion] = o.Version.From.String()
		if o.Version.Reason != "" {
			pod.Annotations[AnnotationConfigVersionReason] = o.Version.Reason
		}
	}
	sandboxes, byName := splitObserved(v.observed)
	s := &pod.Status
	s.QOSClass = qosClass(pod)
	var sb *runtime.Container
	if n := len(sandboxes); n > 0 {
		sb = sandboxes[n-1]
		s.StartTime = &metav1.Time{Time: sb.CreatedAt}
	}
	if pod.Spec.HostNetwork {
		s.PodIP = r.volumes.Node().HostIP
	} else if sb != nil && sb.State == runtime.StateRunning {
		if ip, ok := r.sandboxIP(pod, sb.ID); ok {
			s.PodIP = ip.String()
		}
	}
	if ip := r.volumes.Node().HostIP; ip != "" {
		s.HostIP = ip
		s.HostIPs = []v1.HostIP{{IP: ip}}
	}
	if s.PodIP != "" {
		s.PodIPs = []v1.PodIP{{IP: s.PodIP}}
	}

	initDone := true
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := containerStatus(c, byName[c.Name], st, v.health, now, true)
		s.InitContainerStatuses = append(s.InitContainerStatuses, cs)
		if isSidecar(c) {
			if cs.State.Running == nil {
				initDone = false
			}
		} else if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			initDone = false
		}
	}
	allReady, running, succeeded, failed, waiting := true, 0, 0, 0, 0
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cs := containerStatus(c, byName[c.Name], st, v.health, now, false)
		if !initDone && cs.State.Waiting != nil && cs.State.Waiting.Reason == reasonContainerCreating {
			cs.State.Waiting.Reason = reasonPodInitializing
		}
		s.ContainerStatuses = append(s.ContainerStatuses, cs)
		if !cs.Ready {
			allReady = false
		}
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			succeeded++
		case cs.State.Terminated != nil, cs.LastTerminationState.Terminated != nil:
			failed++ // exited, or waiting to restart after an exit
		default:
			waiting++
		}
	}
	n := len(pod.Spec.Containers)
	finished := podFinished(pod, sb, byName)
	expired := !v.deadline.IsZero() && !now.Before(v.deadline)
	switch {
	case expired:
		s.Phase = v1.PodFailed
	case finished && failed == 0 && succeeded == n:
		s.Phase = v1.PodSucceeded
	case finished:
		s.Phase = v1.PodFailed
	case !initDone || waiting > 0:
		// As the kubelet's getPhase: a container has not been started yet.
		s.Phase = v1.PodPending
	default:
		s.Phase = v1.PodRunning // every container runs, ran or is restarting
	}
	if h := v.held; h != nil {
		// Evicted: Failed, as the kubelet shows it, until admitted again;
		// not admitted yet: Pending, with why.
		s.Phase = v1.PodPending
		if h.evicted {
			s.Phase = v1.PodFailed
		}
	}
	switch se := st.syncErr; {
	case v.held != nil:
		s.Reason, s.Message = v.held.reason, v.held.message
	case expired:
		s.Reason, s.Message = ReasonDeadline, "Pod was active on the node longer than the specified deadline"
	case se.reason != "" && (se.reason != reasonFailedCreateSandbox || sb == nil || sb.State != runtime.StateRunning):
		// The last step failed and is being retried: say why.
		s.Reason, s.Message = se.reason, se.message
	}
	cond := func(t v1.PodConditionType, ok bool) v1.PodCondition {
		c := v1.PodCondition{Type: t, Status: v1.ConditionFalse}
		if ok {
			c.Status = v1.ConditionTrue
		}
		return c
	}
	ready := allReady && initDone && s.Phase == v1.PodRunning
	s.Conditions = []v1.PodCondition{
		cond(v1.PodReadyToStartContainers, sb != nil && sb.State == runtime.StateRunning),
		cond(v1.PodInitialized, initDone),
		cond(v1.ContainersReady, ready),
		cond(v1.PodReady, ready),
		cond(v1.PodScheduled, true),
	}
	return pod
}

// containerStatus is one container's status from its instances (sorted by
// attempt), the pod's waiting reasons and backoff, and its probes' view
// (health: probed containers by ID).
func containerStatus(c *v1.Container, instances []*runtime.Container, st *podState, health map[string]health, now time.Time, init bool) v1.ContainerStatus {
	cs := v1.ContainerStatus{Name: c.Name, Image: c.Image}
	if n := len(instances); n > 0 {
		last := instances[n-1]
		cs.ContainerID = "docker://" + last.ID
		cs.ImageID = last.ImageID
		cs.RestartCount = int32(attemptOf(last))
		cs.State = instanceState(last, st.termMessages)
		cs.Started = ptr(last.State == runtime.StateRunning)
		if n > 1 {
			cs.LastTerminationState = instanceState(instances[n-2], st.termMessages)
		}
		if t, ok := st.notBefore[c.Name]; ok && last.State == runtime.StateExited && now.Before(t) {
			// Waiting to restart: the exit just seen becomes the last state.
			cs.LastTerminationState = cs.State
			cs.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{
				Reason:  reasonCrashLoopBackOff,
				Message: "back-off " + t.Sub(now).Round(time.Second).String() + " restarting failed container=" + c.Name,
			}}
		}
		// As the kubelet reports it: an app container or a sidecar is ready
		// when it runs (and, with probes, once its startup probe succeeded
		// and its readiness probe says so), a regular init container once it
		// has succeeded.
		cs.Ready = last.State == runtime.StateRunning
		if h, probed := health[last.ID]; probed && last.State == runtime.StateRunning {
			cs.Started, cs.Ready = ptr(h.started), h.ready
		}
		if init && !isSidecar(c) {
			cs.Ready = last.State == runtime.StateExited && last.ExitCode == 0
		}
	} else {
		cs.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: reasonContainerCreating}}
	}
	if w, ok := st.waiting[c.Name]; ok && w.reason != "" && (len(instances) == 0 || instances[len(instances)-1].State != runtime.StateRunning) {
		reason := w.reason
		if t, ok := st.notBefore[c.Name]; ok && now.Before(t) && reason == reasonErrImagePull {
			reason = reasonImagePullBackOff
		}
		cs.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: reason, Message: w.message}}
	}
	return cs
}

// instanceState is the state of one container instance; messages holds
// the termination messages read back, by container ID.
func instanceState(c *runtime.Container, messages map[string]string) v1.ContainerState {
	switch c.State {
	case runtime.StateRunning:
		return v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: metav1.Time{Time: c.StartedAt}}}
	case runtime.StateExited:
		reason := reasonError
		switch {
		case c.OOMKilled:
			reason = reasonOOMKilled
		case c.ExitCode == 0:
			reason = reasonCompleted
		}
		msg := c.Error
		if m := messages[c.ID]; m != "" {
			msg = m
		}
		return v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
			ExitCode: int32(c.ExitCode), Reason: reason, Message: msg,
			StartedAt: metav1.Time{Time: c.StartedAt}, FinishedAt: metav1.Time{Time: c.FinishedAt},
			ContainerID: "docker://" + c.ID,
		}}
	}
	return v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: reasonContainerCreating}}
}

func ptr[T any](v T) *T { return &v }
