// Package metrics is runner's Prometheus registry: the Go and process
// collectors, the kubelet's series where the meaning is the same (so that
// existing dashboards work) and runner's own.
//
// Where each series comes from, so that the loop needs no hooks but one:
//
//   - kubelet_running_pods, kubelet_running_containers{container_state}:
//     read from the status store at each scrape (Collector).
//   - kubelet_pod_start_duration_seconds, kubelet_restarted_pods_total:
//     a watcher of the status store (Watch): from the pod's
//     kubernetes.io/config.seen annotation to its first Running status, as
//     the kubelet measures it from its first sight of the pod.
//   - kubelet_runtime_operations_{total,errors_total,duration_seconds}
//     {operation_type}, kubelet_started_containers_{total,errors_total},
//     kubelet_started_pods_{total,errors_total}: an instrumented
//     runtime.Runtime (InstrumentRuntime) that the loop is given instead of
//     the engine's.
//   - kubelet_pod_worker_duration_seconds{operation_type}: the loop's one
//     hook, ObservePodWorker, called when a pod's worker has carried out its
//     plan.
//   - runner_manifest_problems{source}, runner_manifest_source_errors_total
//     {source}, runner_desired_pods: each snapshot of the sources
//     (ObserveSnapshot).
package metrics
