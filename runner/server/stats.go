package server

import (
	"net/http"
	"strconv"

	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// summary serves /stats/summary: the kubelet's Summary API.
// ?only_cpu_and_memory=true keeps cpu and memory only, as the kubelet does.
func (s *Server) summary(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if k != "only_cpu_and_memory" {
			http.Error(w, "unknown parameter "+strconv.Quote(k)+" (allowed: only_cpu_and_memory)", http.StatusBadRequest)
			return
		}
	}
	only := false
	if q.Has("only_cpu_and_memory") {
		var err error
		if only, err = strconv.ParseBool(q.Get("only_cpu_and_memory")); err != nil {
			http.Error(w, "only_cpu_and_memory: must be true or false", http.StatusBadRequest)
			return
		}
	}
	if s.cfg.Stats == nil {
		http.Error(w, "stats are not available", http.StatusServiceUnavailable)
		return
	}
	sum, err := s.cfg.Stats(r.Context())
	if err != nil {
		unavailable(w, "stats", err)
		return
	}
	if only {
		sum = cpuAndMemory(sum)
	}
	writeJSON(w, sum)
}

// cpuAndMemory is the summary with cpu and memory only. Pure.
func cpuAndMemory(in *statsapi.Summary) *statsapi.Summary {
	out := &statsapi.Summary{Node: statsapi.NodeStats{
		NodeName: in.Node.NodeName, StartTime: in.Node.StartTime, CPU: in.Node.CPU, Memory: in.Node.Memory,
	}, Pods: make([]statsapi.PodStats, 0, len(in.Pods))}
	for _, p := range in.Pods {
		ps := statsapi.PodStats{PodRef: p.PodRef, StartTime: p.StartTime, CPU: p.CPU, Memory: p.Memory}
		for _, c := range p.Containers {
			ps.Containers = append(ps.Containers, statsapi.ContainerStats{Name: c.Name, StartTime: c.StartTime, CPU: c.CPU, Memory: c.Memory})
		}
		out.Pods = append(out.Pods, ps)
	}
	return out
}

// node serves /node: the node as a v1 Node.
func (s *Server) node(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Node == nil {
		http.Error(w, "node is not available", http.StatusServiceUnavailable)
		return
	}
	n, err := s.cfg.Node(r.Context())
	if err != nil {
		unavailable(w, "node", err)
		return
	}
	writeJSON(w, n)
}
