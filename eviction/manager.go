package eviction

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Config configures a Manager. Zero values take the documented defaults.
type Config struct {
	Source Source // required
	Loop   Loop   // required: the reconcile loop
	// Reclaimer frees disk under disk pressure before a pod is evicted;
	// nil: none.
	Reclaimer Reclaimer
	Reporter  Reporter
	Logger    *slog.Logger
	// Thresholds, from ParseThresholds.
	Thresholds []Threshold
	// PressureTransitionPeriod is how long a condition stays True after its
	// last threshold was met (--eviction-pressure-transition-period,
	// default 5m); pods held for it start again only after that.
	PressureTransitionPeriod time.Duration
	// MaxPodGracePeriod caps, in seconds, a pod's grace period when it is
	// evicted for a soft threshold (--eviction-max-pod-grace-period; the
	// kubelet's default 0 stops at once; negative: the pod's own).
	MaxPodGracePeriod int64
	// MonitoringInterval spaces the signal readings
	// (--eviction-monitoring-interval, default 10s).
	MonitoringInterval time.Duration
	// PriorityClasses resolves priorityClassName besides the system classes
	// (--priority-class).
	PriorityClasses map[string]int32
	// PodsDir is <root-dir>/pods, where the pods' emptyDir volumes are: a
	// pod whose disk emptyDir outgrows its sizeLimit is evicted, as the
	// kubelet does. Empty: no such check.
	PodsDir string
}

// Manager watches the signals and acts on them. Create it with New and run
// Run on a goroutine of its own; Admit, Priority and Conditions are safe
// from any goroutine.
type Manager struct {
	cfg Config
	log *slog.Logger

	// mu guards what Admit reads: the evaluation state, the conditions
	// that are True and the pods evicted under them.
	mu       sync.Mutex
	state    State
	pressure map[v1.NodeConditionType]bool
	evicted  map[types.UID]v1.NodeConditionType

	// warnMu guards warned: the unknown priority classes already logged.
	warnMu sync.Mutex
	warned map[string]bool

	// lastErr is the last source error logged, lastAct the thresholds last
	// logged as met, noVictim whether "no pod to evict" was logged since
	// (Run's goroutine only): each is logged once per change.
	lastErr  string
	lastAct  string
	noVictim bool
}

// podCleanupTimeout is how long Evict may take beyond the pod's grace
// period (the kubelet waits as long for an evicted pod's cleanup).
const podCleanupTimeout = 30 * time.Second

// New checks cfg; it does no I/O.
func New(cfg Config) (*Manager, error) {
	if cfg.Source == nil || cfg.Loop == nil {
		return nil, errors.New("eviction: Config.Source and Loop are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PressureTransitionPeriod <= 0 {
		cfg.PressureTransitionPeriod = 5 * time.Minute
	}
	if cfg.MonitoringInterval <= 0 {
		cfg.MonitoringInterval = 10 * time.Second
	}
	return &Manager{
		cfg: cfg, log: cfg.Logger.With("component", "eviction"),
		pressure: map[v1.NodeConditionType]bool{}, evicted: map[types.UID]v1.NodeConditionType{},
		warned: map[string]bool{},
	}, nil
}

// Run reads the signals at once and then every MonitoringInterval, and acts
// on them, until ctx ends. Called by main on a goroutine of its own.
func (m *Manager) Run(ctx context.Context) {
	tick := time.NewTicker(m.cfg.MonitoringInterval)
	defer tick.Stop()
	for {
		m.Synchronize(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Synchronize is one monitoring step: read the signals, evaluate them, hand
// changed conditions to the loop, and for the first threshold past its
// grace period reclaim disk (for a disk signal) or evict one pod. It
// returns the eviction it made, if any. Called by Run, and by tests.
func (m *Manager) Synchronize(ctx context.Context) *Eviction {
	snap, err := m.signals(ctx)
	if err != nil {
		return nil
	}
	m.mu.Lock()
	state, ev := Evaluate(m.state, m.cfg.Thresholds, snap, snap.Time, m.cfg.PressureTransitionPeriod)
	m.state = state
	m.pressure = pressures(ev.Conditions)
	for uid, c := range m.evicted {
		if !m.pressure[c] && c != conditionLocalStorage {
			delete(m.evicted, uid)
		}
	}
	m.mu.Unlock()
	if ev.Changed {
		for _, c := range ev.Conditions {
			m.log.Info("node condition", "condition", c.Type, "status", c.Status, "since", c.LastTransitionTime.Time)
		}
		m.cfg.Loop.SetNodeConditions(ctx, ev.Conditions)
	}
	if len(ev.Act) == 0 {
		m.lastAct, m.noVictim = "", false
		return m.localStorage(ctx)
	}
	t := ev.Act[0]
	if act := t.String(); act != m.lastAct {
		m.log.Warn("eviction threshold met", "threshold", act, "reading", describe(t, snap))
		m.lastAct = act
	}
	if isDisk(t.Signal) && m.cfg.Reclaimer != nil && m.reclaimed(ctx, t) {
		return nil
	}
	return m.evictOne(ctx, t, snap)
}

// localStorage evicts a pod whose disk emptyDir outgrew its sizeLimit.
// Called by Synchronize when no threshold calls for an eviction.
func (m *Manager) localStorage(ctx context.Context) *Eviction {
	if m.cfg.PodsDir == "" {
		return nil
	}
	pods, err := m.cfg.Loop.ActivePods(ctx)
	if err != nil {
		return nil
	}
	e, ok := overLimit(ctx, pods, m.cfg.PodsDir)
	if !ok {
		return nil
	}
	m.evict(ctx, e)
	return &e
}

// signals reads the source, logging a failure once per change.
func (m *Manager) signals(ctx context.Context) (Snapshot, error) {
	cctx, cancel := context.WithTimeout(ctx, m.cfg.MonitoringInterval)
	snap, err := m.cfg.Source.Signals(cctx)
	cancel()
	if err != nil {
		if msg := err.Error(); msg != m.lastErr && ctx.Err() == nil {
			m.log.Warn("cannot read the eviction signals", "error", err)
			m.lastErr = msg
		}
		return snap, err
	}
	m.lastErr = ""
	if snap.Time.IsZero() {
		snap.Time = time.Now()
	}
	return snap, nil
}

// reclaimed frees disk through garbage collection and reports whether that
// was enough: no threshold is met any more, minimum reclaim included.
func (m *Manager) reclaimed(ctx context.Context, t Threshold) bool {
	m.log.Info("reclaiming disk through garbage collection before evicting", "signal", t.Signal)
	if err := m.cfg.Reclaimer.ReclaimDisk(ctx); err != nil {
		m.log.Warn("garbage collection under disk pressure failed", "error", err)
	}
	snap, err := m.signals(ctx)
	if err != nil {
		return false
	}
	if len(thresholdsMet(m.cfg.Thresholds, snap, true)) == 0 {
		m.log.Info("garbage collection relieved the pressure; no pod evicted", "signal", t.Signal)
		return true
	}
	return false
}

// evictOne ranks the active pods for t and evicts the first that is not
// critical.
func (m *Manager) evictOne(ctx context.Context, t Threshold, snap Snapshot) *Eviction {
	pods, err := m.cfg.Loop.ActivePods(ctx)
	if err != nil {
		m.log.Warn("cannot list the pods to evict one", "error", err)
		return nil
	}
	usage, err := m.cfg.Source.PodUsage(ctx)
	if err != nil {
		m.log.Warn("pods' usage unknown; ranking by priority alone", "error", err)
	}
	ranked := Rank(t.Signal, Candidates(pods, usage, m.Priority))
	e, ok := Choose(t, snap, ranked, m.cfg.MaxPodGracePeriod)
	if !ok {
		if !m.noVictim {
			m.log.Warn("no pod to evict: every running pod is critical", "signal", t.Signal, "pods", len(pods))
			m.noVictim = true
		}
		return nil
	}
	m.noVictim = false
	m.evict(ctx, e)
	return &e
}

// evict stops the pod of e through the loop and reports it.
func (m *Manager) evict(ctx context.Context, e Eviction) {
	log := m.log.With("pod", e.Pod.Namespace+"/"+e.Pod.Name, "uid", e.Pod.UID)
	log.Warn("evicting pod", "signal", e.Signal, "grace_period", e.GracePeriod, "message", e.Message)
	m.mu.Lock()
	m.evicted[e.Pod.UID] = e.Condition
	m.mu.Unlock()
	ectx, cancel := context.WithTimeout(ctx, time.Duration(e.GracePeriod)*time.Second+podCleanupTimeout)
	err := m.cfg.Loop.Evict(ectx, e)
	cancel()
	if err != nil {
		log.Warn("eviction did not finish", "error", err)
	}
	if m.cfg.Reporter != nil {
		m.cfg.Reporter.Evicted(e)
	}
}

// Admit says whether pod may start now. The loop calls it, on its own
// goroutine, before it starts a pod that is not running: a new one, or one
// it holds (after SetNodeConditions). A pod the manager evicted waits until
// the condition it was evicted under has cleared.
func (m *Manager) Admit(pod *v1.Pod) Admission {
	priority := m.Priority(pod)
	m.mu.Lock()
	defer m.mu.Unlock()
	a := admit(pod, priority, m.pressure, m.evicted[pod.UID])
	if a.Admit {
		delete(m.evicted, pod.UID)
	}
	return a
}

// Conditions are the node conditions as last evaluated (nil before the
// first reading).
func (m *Manager) Conditions() []v1.NodeCondition {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.Conditions()
}

// Priority is pod's priority (PodPriority with the configured classes); an
// unknown class counts as 0, with one warning per class name.
func (m *Manager) Priority(pod *v1.Pod) int32 {
	p, known := PodPriority(pod, m.cfg.PriorityClasses)
	if !known {
		name := pod.Spec.PriorityClassName
		m.warnMu.Lock()
		first := !m.warned[name]
		m.warned[name] = true
		m.warnMu.Unlock()
		if first {
			m.log.Warn("unknown priority class: priority 0 (define it with --priority-class NAME=VALUE)",
				"priority_class", name, "pod", pod.Namespace+"/"+pod.Name)
		}
	}
	return p
}
