package main

import (
	"sort"
	"strconv"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
)

// podsFromContainers rebuilds runner's pods from their containers' labels,
// for when runner is not running: names, containers with their latest
// instance's state and restart count, the sandbox's start. What only runner
// knows (IPs, readiness by probes, backoff) is absent; a running container
// counts as ready. Sorted by namespace and name. Pure.
func podsFromContainers(cs []runtime.Container) []*v1.Pod {
	pods := map[types.UID]*v1.Pod{}
	latest := map[types.UID]map[string][]*runtime.Container{} // by container name, by attempt
	for i := range cs {
		c := &cs[i]
		uid := types.UID(c.Labels[runner.LabelPodUID])
		if uid == "" {
			continue
		}
		p := pods[uid]
		if p == nil {
			p = &v1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
				ObjectMeta: metav1.ObjectMeta{Name: c.Labels[runner.LabelPodName], Namespace: c.Labels[runner.LabelPodNamespace], UID: uid}}
			pods[uid] = p
			latest[uid] = map[string][]*runtime.Container{}
		}
		name := c.Labels[runner.LabelContainerName]
		if c.Labels[runner.LabelDockerType] == runner.TypeSandbox {
			name = runner.SandboxContainerName
		}
		latest[uid][name] = append(latest[uid][name], c)
	}
	out := make([]*v1.Pod, 0, len(pods))
	for uid, p := range pods {
		byName := latest[uid]
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names)
		sandboxUp := false
		for _, n := range names {
			inst := byName[n]
			sort.Slice(inst, func(i, j int) bool { return attemptLabel(inst[i]) < attemptLabel(inst[j]) })
			last := inst[len(inst)-1]
			if n == runner.SandboxContainerName {
				p.Status.StartTime = metaTime(last.CreatedAt)
				sandboxUp = last.State == runtime.StateRunning
				continue
			}
			cs := v1.ContainerStatus{Name: n, Image: last.Image, ImageID: last.ImageID, ContainerID: "docker://" + last.ID,
				RestartCount: int32(attemptLabel(last)), State: dockerState(last), Ready: last.State == runtime.StateRunning}
			cs.Started = ptrOf(last.State == runtime.StateRunning)
			if len(inst) > 1 {
				cs.LastTerminationState = dockerState(inst[len(inst)-2])
			}
			spec := v1.Container{Name: n, Image: last.Image}
			if last.Labels[runner.LabelInit] == "true" {
				p.Spec.InitContainers = append(p.Spec.InitContainers, spec)
				p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, cs)
			} else {
				p.Spec.Containers = append(p.Spec.Containers, spec)
				p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, cs)
			}
		}
		p.Status.Phase = fallbackPhase(p, sandboxUp)
		cond := v1.ConditionFalse
		if sandboxUp {
			cond = v1.ConditionTrue
		}
		p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReadyToStartContainers, Status: cond}}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out
}

// fallbackPhase guesses a pod's phase from its containers alone: Running
// while a container runs, Succeeded or Failed once all have exited,
// Pending else.
func fallbackPhase(p *v1.Pod, sandboxUp bool) v1.PodPhase {
	running, exited, failed := 0, 0, 0
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			exited++
			if cs.State.Terminated.ExitCode != 0 {
				failed++
			}
		}
	}
	n := len(p.Status.ContainerStatuses)
	switch {
	case running > 0 && sandboxUp:
		return v1.PodRunning
	case n > 0 && exited == n && failed == 0:
		return v1.PodSucceeded
	case n > 0 && exited == n:
		return v1.PodFailed
	}
	return v1.PodPending
}

// dockerState is an instance's state as the kubelet words it.
func dockerState(c *runtime.Container) v1.ContainerState {
	switch c.State {
	case runtime.StateRunning:
		return v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: metav1.NewTime(c.StartedAt)}}
	case runtime.StateExited:
		reason := "Error"
		switch {
		case c.OOMKilled:
			reason = "OOMKilled"
		case c.ExitCode == 0:
			reason = "Completed"
		}
		return v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: int32(c.ExitCode), Reason: reason,
			StartedAt: metav1.NewTime(c.StartedAt), FinishedAt: metav1.NewTime(c.FinishedAt), ContainerID: "docker://" + c.ID}}
	}
	return v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}
}

func attemptLabel(c *runtime.Container) int {
	n, _ := strconv.Atoi(c.Labels[runner.LabelAttempt])
	return n
}

func ptrOf[T any](v T) *T { return &v }
