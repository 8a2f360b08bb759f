package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	v1 "k8s.io/api/core/v1"
)

var (
	runningPodsDesc = prometheus.NewDesc(kubelet+"_running_pods",
		"Number of pods that have a running pod sandbox.", nil, nil)
	runningContainersDesc = prometheus.NewDesc(kubelet+"_running_containers",
		"Number of containers the engine holds for runner's pods, by state.", []string{"container_state"}, nil)
)

// Container states of kubelet_running_containers, as the kubelet names them.
const (
	stateRunning = "running"
	stateExited  = "exited"
	stateCreated = "created"
)

// podCollector reads the status store at each scrape.
type podCollector struct{ pods PodLister }

func (c podCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- runningPodsDesc
	ch <- runningContainersDesc
}

func (c podCollector) Collect(ch chan<- prometheus.Metric) {
	running, states := countPods(c.pods.List())
	ch <- prometheus.MustNewConstMetric(runningPodsDesc, prometheus.GaugeValue, float64(running))
	for _, s := range []string{stateRunning, stateExited, stateCreated} {
		ch <- prometheus.MustNewConstMetric(runningContainersDesc, prometheus.GaugeValue, float64(states[s]), s)
	}
}

// countPods counts the pods whose sandbox runs (their
// PodReadyToStartContainers condition) and the containers the engine holds
// for them by state: each container's current instance, and the instance
// before it when that one is still kept (its last termination state).
// Pure.
func countPods(pods []*v1.Pod) (running int, states map[string]int) {
	states = map[string]int{}
	for _, p := range pods {
		for _, c := range p.Status.Conditions {
			if c.Type == v1.PodReadyToStartContainers && c.Status == v1.ConditionTrue {
				running++
			}
		}
		for _, list := range [][]v1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
			for i := range list {
				cs := &list[i]
				switch {
				case cs.State.Running != nil:
					states[stateRunning]++
				case cs.State.Terminated != nil:
					states[stateExited]++
				case cs.ContainerID != "" && cs.State.Waiting != nil:
					// Waiting with an instance: exited and waiting to
					// restart, or created and not started yet.
					if cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.ContainerID == cs.ContainerID {
						states[stateExited]++
					} else {
						states[stateCreated]++
					}
				}
				if t := cs.LastTerminationState.Terminated; t != nil && t.ContainerID != "" && t.ContainerID != cs.ContainerID {
					states[stateExited]++
				}
			}
		}
	}
	return running, states
}
