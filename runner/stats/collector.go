package stats

import (
	"context"
	"time"

	"github.com/google/cadvisor/lib/metrics"
	cadvisor "github.com/google/cadvisor/lib/model"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
)

// Collector is cadvisor's own Prometheus collector (container_cpu_usage_
// seconds_total, container_memory_working_set_bytes, ...) over the root
// cgroup and runner's running containers, labelled as the kubelet's
// /metrics/cadvisor labels them: id (cgroup), name, image, and the pod,
// namespace and container they belong to ("" for the root cgroup). Each
// scrape samples the containers (see sampler). The API registers it once.
func (p *Provider) Collector() prometheus.Collector {
	return metrics.NewPrometheusCollector(collectorSource{p}, containerLabels, metricsSet, clock.RealClock{},
		cadvisor.RequestOptions{IdType: cadvisor.TypeName, Count: 1, Recursive: true})
}

// collectorSource is what cadvisor's collector reads at each scrape: the
// root cgroup and runner's containers, sampled then.
type collectorSource struct{ p *Provider }

func (c collectorSource) GetRequestedContainersInfo(string, cadvisor.RequestOptions) (map[string]*cadvisor.ContainerInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var imageFs *cadvisor.FsInfo
	if fs, err := c.p.ImageFs(); err == nil {
		imageFs = &fs
	}
	infos, err := c.p.containers(ctx, 1, imageFs)
	if err != nil {
		return nil, err
	}
	for _, ci := range infos {
		if n := len(ci.Stats); n > 1 {
			ci.Stats = ci.Stats[n-1:]
		}
	}
	return infos, nil
}

func (c collectorSource) GetVersionInfo() (*cadvisor.VersionInfo, error) {
	return c.p.manager.GetVersionInfo()
}

func (c collectorSource) GetMachineInfo() (*cadvisor.MachineInfo, error) {
	return c.p.manager.GetMachineInfo()
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
