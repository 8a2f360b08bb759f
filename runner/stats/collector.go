package stats

import (
	"github.com/google/cadvisor/lib/metrics"
	cadvisor "github.com/google/cadvisor/lib/model"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
)

// Collector is cadvisor's own Prometheus collector (container_cpu_usage_
// seconds_total, container_memory_working_set_bytes, ...) over every
// container cadvisor samples, labelled as the kubelet's /metrics/cadvisor
// labels them: id (cgroup), name, image, and the pod, namespace and
// container they belong to ("" for the root cgroup and foreign
// containers). Each scrape reads the latest sample; it measures nothing
// itself. The API registers it once.
func (p *Provider) Collector() prometheus.Collector {
	return metrics.NewPrometheusCollector(p.manager, containerLabels, metricsSet, clock.RealClock{},
		cadvisor.RequestOptions{IdType: cadvisor.TypeName, Count: 1, Recursive: true})
}

// MachineCollector is cadvisor's machine_* series (cores, memory).
func (p *Provider) MachineCollector() prometheus.Collector {
	return metrics.NewPrometheusMachineCollector(p.manager, metricsSet)
}

// containerLabels gives every series the same label names, empty when a
// container has no such label (Prometheus wants one set per family).
func containerLabels(c *cadvisor.ContainerInfo) map[string]string {
	name := ""
	if len(c.Aliases) > 0 {
		name = c.Aliases[0]
	}
	return map[string]string{
		metrics.LabelID:    c.Name,
		metrics.LabelName:  name,
		metrics.LabelImage: c.Spec.Image,
		"pod":              c.Spec.Labels["io.kubernetes.pod.name"],
		"namespace":        c.Spec.Labels["io.kubernetes.pod.namespace"],
		"container":        c.Spec.Labels[labelContainerName],
	}
}
