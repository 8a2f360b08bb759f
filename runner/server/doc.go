// Package server is runner's read-only HTTP API, in the kubelet's read-only
// port's shape so that its clients work unchanged:
//
//	GET /pods                  v1 PodList of every pod runner runs, with full status
//	GET /healthz[?verbose]     ok, or 500 naming the failing check (loop, docker, sources)
//	GET /metrics               Prometheus: runner's and the kubelet's series
//	GET /metrics/cadvisor      Prometheus: cadvisor's per-container series
//	GET /stats/summary         the kubelet's Summary API (?only_cpu_and_memory=true)
//	GET /events                the last 1,000 events, oldest first (JSON)
//	GET /node                  a v1 Node: identity, addresses, capacity
//	GET /containerLogs/{namespace}/{pod}/{container}
//	                           ?follow, previous, tailLines, timestamps, sinceSeconds
//
// Nothing on it changes state or runs a command: every other method gets
// 405, every other path 404. Path parameters must be the DNS names
// Kubernetes allows (a name with "/", "..", or "%2F" in it is refused with
// 400 before anything is looked up), and a container is found only among
// the pods' statuses, never by an ID or path the client gives.
package server
