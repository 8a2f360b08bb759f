package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
)

// Subsystems of the series' names.
const (
	kubelet = "kubelet"
	runner  = "runner"
)

// PodLister is the status store as the metrics read it.
type PodLister interface {
	// List returns the pods with their status; the pods are shared and
	// must not be changed.
	List() []*v1.Pod
}

// Metrics holds runner's registry and its series. Create it with New;
// every method is safe from any goroutine.
type Metrics struct {
	registry *prometheus.Registry

	podStart      prometheus.Histogram
	podWorker     *prometheus.HistogramVec
	restartedPods *prometheus.CounterVec

	runtimeOps      *prometheus.CounterVec
	runtimeErrors   *prometheus.CounterVec
	runtimeDuration *prometheus.HistogramVec

	startedContainers       *prometheus.CounterVec
	startedContainersErrors *prometheus.CounterVec
	startedPods             prometheus.Counter
	startedPodsErrors       prometheus.Counter

	manifestProblems *prometheus.GaugeVec
	sourceErrors     *prometheus.CounterVec
	desiredPods      prometheus.Gauge
}

// Config says what the registry describes.
type Config struct {
	// Pods is the status store (kubelet_running_pods, ...); nil: those
	// series are absent.
	Pods PodLister
	// NodeName labels kubelet_node_name.
	NodeName string
}

// New makes the registry with the Go and process collectors and every
// series of this package. Called once by main.
func New(cfg Config) *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry()}
	m.podStart = prometheus.NewHistogram(prometheus.HistogramOpts{
		Subsystem: kubelet, Name: "pod_start_duration_seconds",
		Help: "Duration in seconds from runner first reading a pod's manifest (kubernetes.io/config.seen) to the pod running.",
		// The kubelet's buckets.
		Buckets: []float64{0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600},
	})
	m.podWorker = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Subsystem: kubelet, Name: "pod_worker_duration_seconds",
		Help:    "Duration in seconds of one pod worker's pass: create (the pod had no container), sync or kill.",
		Buckets: prometheus.DefBuckets,
	}, []string{"operation_type"})
	m.restartedPods = prometheus.NewCounterVec(prometheus.CounterOpts{
		Subsystem: kubelet, Name: "restarted_pods_total",
		Help: "Number of pods that were torn down and then wanted again with the same UID (a manifest removed and put back, a pinned UID's pod replaced).",
	}, []string{"static"})
	m.runtimeOps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Subsystem: kubelet, Name: "runtime_operations_total",
		Help: "Cumulative number of container engine operations by operation type.",
	}, []string{"operation_type"})
	m.runtimeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Subsystem: kubelet, Name: "runtime_operations_errors_total",
		Help: "Cumulative number of container engine operation errors by operation type.",
	}, []string{"operation_type"})
	m.runtimeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Subsystem: kubelet, Name: "runtime_operations_duration_seconds",
		Help:    "Duration in seconds of container engine operations, by operation type (streams excluded).",
		Buckets: prometheus.ExponentialBuckets(.005, 2.5, 14), // the kubelet's
	}, []string{"operation_type"})
	m.startedContainers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Subsystem: kubelet, Name: "started_containers_total",
		Help: "Cumulative number of containers started (creation attempts).",
	}, []string{"container_type"})
	m.startedContainersErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Subsystem: kubelet, Name: "started_containers_errors_total",
		Help: "Cumulative number of errors when starting containers.",
	}, []string{"container_type", "code"})
	m.startedPods = prometheus.NewCounter(prometheus.CounterOpts{
		Subsystem: kubelet, Name: "started_pods_total",
		Help: "Cumulative number of pod sandboxes started (creation attempts).",
	})
	m.startedPodsErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Subsystem: kubelet, Name: "started_pods_errors_total",
		Help: "Cumulative number of errors when starting pod sandboxes.",
	})
	m.manifestProblems = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Subsystem: runner, Name: "manifest_problems",
		Help: "Problems with the manifests (each a file:line: field: message) in the latest snapshot of each manifest source.",
	}, []string{"source"})
	m.sourceErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Subsystem: runner, Name: "manifest_source_errors_total",
		Help: "Snapshots in which a manifest source could not read all its input (missing or unreadable directory, unreachable URL).",
	}, []string{"source"})
	m.desiredPods = prometheus.NewGauge(prometheus.GaugeOpts{
		Subsystem: runner, Name: "desired_pods",
		Help: "Pods the latest snapshot of the manifest sources wants running.",
	})
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.podStart, m.podWorker, m.restartedPods,
		m.runtimeOps, m.runtimeErrors, m.runtimeDuration,
		m.startedContainers, m.startedContainersErrors, m.startedPods, m.startedPodsErrors,
		m.manifestProblems, m.sourceErrors, m.desiredPods,
	)
	if cfg.NodeName != "" {
		node := prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Subsystem: kubelet, Name: "node_name", Help: "The node's name. The count is always 1.",
		}, []string{"node"})
		node.WithLabelValues(cfg.NodeName).Set(1)
		m.registry.MustRegister(node)
	}
	if cfg.Pods != nil {
		m.AddPods(cfg.Pods)
	}
	return m
}

// AddPods adds kubelet_running_pods and kubelet_running_containers, read
// from pods at each scrape. Called once, by main, when the status store
// exists (after the runtime was instrumented).
func (m *Metrics) AddPods(pods PodLister) {
	m.registry.MustRegister(podCollector{pods})
}

// Registry is what /metrics serves.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// ObservePodWorker records one pod worker's pass (operation: create, sync
// or kill, see runner.Config.WorkerDone). The loop's workers call it, on
// their own goroutines, when they have carried out a plan.
func (m *Metrics) ObservePodWorker(operation string, took time.Duration) {
	m.podWorker.WithLabelValues(operation).Observe(took.Seconds())
}

// ObserveSnapshot records a snapshot of the manifest sources. Called by
// main for every snapshot on its way to the loop.
func (m *Metrics) ObserveSnapshot(s manifest.Snapshot) {
	src := s.Source
	if src == "" {
		src = "all"
	}
	m.manifestProblems.WithLabelValues(src).Set(float64(len(s.Problems)))
	m.sourceErrors.WithLabelValues(src) // present at 0 from the first snapshot on
	if s.Partial {
		m.sourceErrors.WithLabelValues(src).Inc()
	}
	m.desiredPods.Set(float64(len(s.Pods)))
}
