package runner

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/runner/probe"
	"github.com/runner-dev/runner/runner/restart"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/volume"
)

// Config configures a Runner. Zero values take the documented defaults.
type Config struct {
	Runtime runtime.Runtime
	Logger  *slog.Logger
	// RootDir holds what the engine cannot: pod files (termination logs,
	// emptyDir volumes), later IP allocations and checkpoints.
	RootDir string
	// InstanceID is written on every container; a runner manages only the
	// containers that carry its own. Default: derived from RootDir.
	InstanceID string
	// PauseImage is the sandbox image; empty: runner's own, imported when
	// absent (see EnsurePauseImage).
	PauseImage string
	// SyncFrequency is the period of the full relist (default 1m).
	SyncFrequency time.Duration
	// MaxParallel bounds how many pods have a worker at once (default 16).
	MaxParallel int
	// MaxPods is the most pods admitted (--max-pods, the kubelet's maxPods;
	// main passes 110 by default); zero: no bound. A pod past it waits
	// (Pending, OutOfpods) until a place is free.
	MaxPods int
	// PodPidsLimit is the most processes each container of a pod may run
	// (--pod-pids-limit, the kubelet's podPidsLimit); zero or less: no
	// limit. The kubelet limits the pod's cgroup; runner's pods have none
	// of their own under Docker, so each container gets the limit.
	PodPidsLimit int64
	// Backoff is the crash-loop backoff (default restart.DefaultPolicy).
	Backoff restart.Policy
	// LogMaxSize and LogMaxFiles rotate containers' json-file logs.
	LogMaxSize  string
	LogMaxFiles int
	// CallTimeout bounds each engine call the runner makes (default 30s).
	CallTimeout time.Duration
	// Network gives pods that are not on the host network an address; nil:
	// loopback only.
	Network Network
	// DNS makes those pods' resolv.conf.
	DNS DNSConfig
	// Admitter says whether a pod may start (the eviction manager); nil:
	// every pod may.
	Admitter Admitter
	// MaxDeadPerContainer is how many dead instances of a container stay
	// besides its current one (--maximum-dead-containers-per-container;
	// default and least 1: the newest dead instance serves logs --previous
	// and lastState; negative: all, left to GC).
	MaxDeadPerContainer int
	// WorkerDone, when set, is told how long each pass of a pod's worker
	// took and what it was (WorkerCreate, WorkerSync, WorkerKill); the
	// metrics use it. Called on the worker's goroutine; it must not block.
	WorkerDone func(operation string, took time.Duration)
}

// Time: runner reads the clock and arms its timers through the time package
// only, so that tests run the loop, its backoffs and its workers in virtual
// time inside a testing/synctest bubble.

// Runner keeps the desired pods running. Create it with New, drive it with
// Run; read pod statuses from Statuses at any time.
type Runner struct {
	cfg        Config
	log        *slog.Logger
	status     *StatusStore
	events     eventLog
	conditions nodeConditions
	// volumes owns the pods' directories under RootDir; hooks is what
	// sandboxes and containers need around them, in order.
	volumes *volume.Manager
	hooks   hooks
	// handlers run probes and lifecycle handlers; probes runs the probe
	// workers of running containers (the loop starts and stops them).
	handlers *probe.Handlers
	probes   *probe.Manager
	// pauseOnce guards the import of the pause image.
	pauseMu    sync.Mutex
	pauseReady bool
	// oomFloor is the lowest OOM score adjustment the kernel lets us set.
	oomFloor int
	// seq numbers engine reads, so the loop can tell a stale one.
	seq atomic.Uint64
	// inbox is the loop's one input (see submit).
	inbox chan input
	// inSync is closed once the loop has caught up after its start.
	inSync chan struct{}
	// nodeErr is the last failure of the network's node check (watcher).
	nodeErr string
	// engineSuspect: a worker found the engine gone; the watcher checks
	// (see engineLost).
	engineSuspect chan struct{}
}

// InSync is closed once the loop, after its start, has planned every pod
// of the first snapshot and carried out their steps (pods that keep failing
// wait for their retry). systemd's READY and runonce wait for it. Safe from
// any goroutine.
func (r *Runner) InSync() <-chan struct{} { return r.inSync }

// nextSeq numbers an engine read; take it before the read begins.
func (r *Runner) nextSeq() uint64 { return r.seq.Add(1) }

// DefaultInstanceID derives an instance id from the root dir, so two runners
// with different root dirs on one engine never touch each other's pods.
func DefaultInstanceID(rootDir string) string {
	abs, err := filepath.Abs(rootDir)
	if err != nil {
		abs = rootDir
	}
	return string(manifest.StaticUID("instance", abs, "", nil))[:12]
}

// New returns a Runner; it does no I/O.
func New(cfg Config) (*Runner, error) {
	if cfg.Runtime == nil {
		return nil, errors.New("runner: Config.Runtime is required")
	}
	if cfg.RootDir == "" {
		return nil, errors.New("runner: Config.RootDir is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = DefaultInstanceID(cfg.RootDir)
	}
	if cfg.PauseImage == "" {
		cfg.PauseImage = DefaultPauseImage
	}
	if cfg.SyncFrequency <= 0 {
		cfg.SyncFrequency = time.Minute
	}
	if cfg.MaxParallel <= 0 {
		cfg.MaxParallel = 16
	}
	if cfg.Backoff == (restart.Policy{}) {
		cfg.Backoff = restart.DefaultPolicy
	}
	if cfg.MaxDeadPerContainer == 0 {
		cfg.MaxDeadPerContainer = 1
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 30 * time.Second
	}
	if cfg.DNS.HostsFile == "" {
		cfg.DNS.HostsFile = "/etc/hosts"
	}
	vols, err := volume.New(volume.Config{RootDir: cfg.RootDir, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, log: cfg.Logger, status: newStatusStore(), oomFloor: oomScoreFloor(),
		inbox: make(chan input, inboxSize), inSync: make(chan struct{}), volumes: vols,
		engineSuspect: make(chan struct{}, 1)}
	r.handlers = probe.NewHandlers(probe.HandlersConfig{Runtime: cfg.Runtime})
	r.probes = probe.New(probe.Config{Prober: r.handlers, Logger: cfg.Logger, Report: func(ctx context.Context, ev probe.Event) {
		r.submit(ctx, probeInput{ev})
	}})
	r.hooks = r.newHooks()
	if r.oomFloor > -1000 {
		r.log.Info("cannot lower OOM score adjustments (no CAP_SYS_RESOURCE); critical pods get no OOM protection", "floor", r.oomFloor)
	}
	return r, nil
}

// Statuses is the status store runonce and the API read.
func (r *Runner) Statuses() *StatusStore { return r.status }

// call returns a context for one engine call.
func (r *Runner) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.cfg.CallTimeout)
}

// Run is the reconcile loop. It reads desired snapshots from snaps (the
// first one must arrive before anything is torn down), watches the engine,
// and keeps pods converged until ctx ends; it then waits for its workers and
// returns, leaving every pod running. It returns an error only when it cannot
// start (the engine does not answer).
func (r *Runner) Run(ctx context.Context, snaps <-chan manifest.Snapshot) error {
	l := newLoop(r, ctx)
	return l.run(ctx, snaps)
}

// newLoop is the state of one Run with nothing desired or observed yet;
// ctx is Run's, for the background work the loop starts.
func newLoop(r *Runner, ctx context.Context) *loop {
	return &loop{
		r:        r,
		desired:  map[types.UID]*v1.Pod{},
		observed: newObservedState(),
		pods:     map[types.UID]*podState{},
		dirty:    map[types.UID]bool{},
		probed:   map[string]*probed{},
		ctx:      ctx,
	}
}

// podState is what the loop remembers about one pod beyond the observed
// containers: backoffs, failures and why containers wait.
type podState struct {
	busy bool      // a worker is carrying out a plan
	wake time.Time // look again then (backoff)
	// retryAt: after a failed step, the pod is planned again no sooner
	// (unless urgent: its desired state changed). failures counts the
	// failed steps in a row (the retry delay doubles with each); syncErr is
	// the last failure, shown in the status and logged once per change.
	retryAt  time.Time
	urgent   bool
	failures int
	syncErr  syncError
	// acted: the containers the last worker acted on; news: containers the
	// engine told about while a worker was busy. News of a container the
	// failed step did not act on is planned at once (see noteNews).
	acted map[string]bool
	news  map[string]bool
	// backoff per container name (crash loop), startBackoff per container
	// name (an image that cannot be had, a container that cannot be
	// created), and when its next start may be.
	backoff      map[string]restart.Backoff
	startBackoff map[string]restart.Backoff
	notBefore    map[string]time.Time
	// seenExit: the container ID whose exit the backoff already counted.
	seenExit map[string]string
	// waiting: per container name, why it is not running (ErrImagePull, ...).
	waiting map[string]waitingReason
	// destroyed: a worker removed everything of the pod, directory
	// included, while it was not desired.
	destroyed bool
	// unhealthy: running containers (by ID) whose liveness or startup probe
	// failed, to be killed with the probe's grace period (nil: the pod's).
	unhealthy map[string]unhealthy
	// termMessages: exited containers' termination messages, by ID;
	// termRead: those whose message was asked for.
	termMessages map[string]string
	termRead     map[string]bool
	// startedAt: when the pod first started on this node (its first
	// sandbox), for activeDeadlineSeconds.
	startedAt time.Time
	// deadlineSaid: the DeadlineExceeded event was recorded.
	deadlineSaid bool
	// admitted: the pod may run (admission.go); held: it may not, and
	// why (not admitted yet, or evicted).
	admitted bool
	held     *held
}

// syncError is a failed step of a pod's worker, as the status shows it.
type syncError struct {
	reason, message string
}

type waitingReason struct {
	reason, message string
}

func newPodState() *podState {
	return &podState{
		backoff:      map[string]restart.Backoff{},
		startBackoff: map[string]restart.Backoff{},
		notBefore:    map[string]time.Time{},
		seenExit:     map[string]string{},
		waiting:      map[string]waitingReason{},
	}
}

func podKey(pod *v1.Pod) string { return pod.Namespace + "/" + pod.Name }
