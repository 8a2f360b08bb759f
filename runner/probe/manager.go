package probe

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
)

// Prober runs a probe's handler once: *Handlers in production, a stand-in
// in tests of the workers.
type Prober interface {
	Probe(ctx context.Context, t Target, ph *v1.ProbeHandler, timeout time.Duration) Result
}

// Config configures a Manager.
type Config struct {
	// Prober runs the probes (a *Handlers); nil: Handlers with no runtime
	// (exec probes then return Unknown).
	Prober Prober
	// Report receives the events; nil: they are dropped. It is called on
	// the workers' goroutines, concurrently for different probes, must not
	// call Stop or StopAll (they wait for the worker calling it), and must
	// return promptly once ctx is done (the container's probes are being
	// stopped), e.g.
	//
	//	func(ctx context.Context, ev probe.Event) {
	//		select {
	//		case loopInput <- ev:
	//		case <-ctx.Done():
	//		}
	//	}
	Report func(ctx context.Context, ev Event)
	// Logger gets debug lines of every attempt; nil: none.
	Logger *slog.Logger
}

// Container is what the Manager needs to probe a running container.
type Container struct {
	Target
	// StartedAt is when the container started (the engine's); the initial
	// delays count from it, so a container adopted after a restart of
	// runner is not probed later than it would have been. Zero: now.
	StartedAt time.Time
	// The container's probes; nil: none of that kind.
	Liveness, Readiness, Startup *v1.Probe
}

// Manager runs the probe workers of the running containers: one goroutine
// per container and probe kind, from Start to Stop. The caller (the loop)
// starts a container's probes when it has started it or adopted it running,
// and stops them when the container stops, is replaced, or is about to be
// killed. Safe for concurrent use.
type Manager struct {
	cfg     Config
	created time.Time
	// jitter picks the first delay of a worker made within one period of
	// the manager's creation; tests replace it.
	jitter func(period time.Duration) time.Duration

	mu     sync.Mutex
	groups map[string]*group // by container ID
}

// group is the workers of one container.
type group struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// New returns a Manager with no containers.
func New(cfg Config) *Manager {
	if cfg.Prober == nil {
		cfg.Prober = NewHandlers(HandlersConfig{})
	}
	if cfg.Report == nil {
		cfg.Report = func(context.Context, Event) {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{
		cfg:     cfg,
		created: time.Now(),
		jitter:  func(period time.Duration) time.Duration { return rand.N(period) },
		groups:  map[string]*group{},
	}
}

// Start starts the workers of c's probes, and does nothing when c has no
// probe or its workers run already. While c has a startup probe that has
// not succeeded, its liveness and readiness probes do not run.
//
// Each worker probes first after the probe's initialDelaySeconds from
// c.StartedAt and then every periodSeconds. Within the first period after New
// (runner has just started and adopts its running containers at once), the
// first probe is also put off by a random part of the period, so that they
// do not probe in lock-step; later containers start at their own times.
func (m *Manager) Start(c Container) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, running := m.groups[c.ContainerID]; running {
		return
	}
	if c.Liveness == nil && c.Readiness == nil && c.Startup == nil {
		return
	}
	if c.StartedAt.IsZero() {
		c.StartedAt = time.Now()
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &group{cancel: cancel}
	var started chan struct{}
	if c.Startup != nil {
		started = make(chan struct{})
	}
	log := m.cfg.Logger.With("container_id", c.ContainerID)
	for kind, spec := range map[Kind]*v1.Probe{Liveness: c.Liveness, Readiness: c.Readiness, Startup: c.Startup} {
		if spec == nil {
			continue
		}
		w := &worker{
			kind:      kind,
			spec:      spec,
			target:    c.Target,
			startedAt: c.StartedAt,
			notBefore: time.Now().Add(m.firstJitter(spec)),
			prober:    m.cfg.Prober,
			report:    m.cfg.Report,
			log:       log,
		}
		if kind == Startup {
			w.started = started
		} else if started != nil {
			w.gate = started
		}
		g.done.Go(func() { w.run(ctx) })
	}
	m.groups[c.ContainerID] = g
}

// firstJitter is the random first delay of a probe's worker: some of its
// period within the first period after New, none later.
func (m *Manager) firstJitter(spec *v1.Probe) time.Duration {
	period := seconds(spec.PeriodSeconds, defaultPeriodSeconds)
	if time.Since(m.created) >= period {
		return 0
	}
	return m.jitter(period)
}

// Stop stops the workers of a container and returns once they have ended,
// so that no event of the container is reported after it returns. It waits
// at most for a probe in flight to honour its cancellation (an exec is
// killed through the runtime). A container without workers is no error.
func (m *Manager) Stop(containerID string) {
	m.mu.Lock()
	g := m.groups[containerID]
	delete(m.groups, containerID)
	m.mu.Unlock()
	if g != nil {
		g.cancel()
		g.done.Wait()
	}
}

// StopAll stops every container's workers (runner is shutting down; the
// containers keep running) and returns once they have all ended.
func (m *Manager) StopAll() {
	m.mu.Lock()
	groups := m.groups
	m.groups = map[string]*group{}
	m.mu.Unlock()
	for _, g := range groups {
		g.cancel()
	}
	for _, g := range groups {
		g.done.Wait()
	}
}

// Containers lists the IDs of the containers whose workers run, sorted.
func (m *Manager) Containers() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.groups))
	for id := range m.groups {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
