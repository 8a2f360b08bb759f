package stats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-logr/logr"
	cdocker "github.com/google/cadvisor/container/docker"
	_ "github.com/google/cadvisor/container/docker/install" // the Docker container handler
	"github.com/google/cadvisor/lib/cache/memory"
	"github.com/google/cadvisor/lib/container"
	_ "github.com/google/cadvisor/lib/fs/btrfs/install" // file system plugins: see doc.go
	_ "github.com/google/cadvisor/lib/fs/nfs/install"
	_ "github.com/google/cadvisor/lib/fs/overlay/install"
	_ "github.com/google/cadvisor/lib/fs/tmpfs/install"
	_ "github.com/google/cadvisor/lib/fs/vfs/install"
	"github.com/google/cadvisor/lib/manager"
	cadvisor "github.com/google/cadvisor/lib/model"
	"github.com/google/cadvisor/lib/utils/sysfs"
	"k8s.io/klog/v2"

	"github.com/runner-dev/runner/runner/runtime"
)

// Config configures a Provider. Zero values take the documented defaults.
type Config struct {
	// DockerEndpoint is the engine cadvisor's Docker handler asks for
	// containers' labels and layers (default $DOCKER_HOST, else
	// unix:///var/run/docker.sock). cadvisor keeps one Docker client per
	// process: the first Provider's endpoint holds for all.
	DockerEndpoint string
	// RootDir is runner's --root-dir: its file system is the node's (nodefs).
	RootDir string
	// Images lists the engine's images, for the bytes they take on imagefs;
	// nil: that figure is left out.
	Images ImageLister
	// Housekeeping is how often every container is sampled (default 10s, as
	// the kubelet).
	Housekeeping time.Duration
	// Logger receives cadvisor's own log lines (its info lines at debug).
	Logger *slog.Logger
}

// ImageLister is the part of the runtime seam the image file system's
// figures need.
type ImageLister interface {
	ListImages(ctx context.Context) ([]runtime.Image, error)
}

// Provider measures the machine and its containers through cadvisor's
// manager. Create it with New, then Start; every method is safe from any
// goroutine.
type Provider struct {
	cfg     Config
	log     *slog.Logger
	manager manager.Manager
	rootDir string
	// started guards Start and Stop.
	mu      sync.Mutex
	started bool
}

// metricsSet is what cadvisor samples: the kubelet's set, less what runner
// shows nowhere (per-CPU usage, hugetlb, perf, resctrl, TCP tables).
var metricsSet = container.MetricSet{
	container.CpuUsageMetrics:     struct{}{},
	container.MemoryUsageMetrics:  struct{}{},
	container.DiskIOMetrics:       struct{}{},
	container.DiskUsageMetrics:    struct{}{},
	container.NetworkUsageMetrics: struct{}{},
	container.ProcessMetrics:      struct{}{},
}

// storageAge is how long samples are kept (the kubelet keeps two minutes).
const storageAge = 2 * time.Minute

// cadvisorInit: klog's logger and cadvisor's Docker endpoint are
// process-wide; the first New sets them.
var cadvisorInit sync.Once

// New makes a Provider; it reads the mount table and the machine's
// topology, but starts nothing (see Start). Called once by main.
func New(cfg Config) (*Provider, error) {
	if cfg.RootDir == "" {
		return nil, errors.New("stats: Config.RootDir is required")
	}
	if cfg.Housekeeping <= 0 {
		cfg.Housekeeping = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DockerEndpoint == "" {
		cfg.DockerEndpoint = os.Getenv("DOCKER_HOST")
	}
	if cfg.DockerEndpoint == "" {
		cfg.DockerEndpoint = "unix:///var/run/docker.sock"
	}
	root, err := filepath.Abs(cfg.RootDir)
	if err != nil {
		return nil, fmt.Errorf("stats: root dir %s: %w", cfg.RootDir, err)
	}
	cadvisorInit.Do(func() {
		klog.SetLogger(logr.FromSlogHandler(quietHandler{cfg.Logger.With("component", "cadvisor").Handler()}))
		*cdocker.ArgDockerEndpoint = cfg.DockerEndpoint
	})
	interval, dynamic := cfg.Housekeeping, false
	m, err := manager.New(memory.New(storageAge, nil), sysfs.NewRealSysFs(),
		manager.HousekeepingConfig{Interval: &interval, AllowDynamic: &dynamic},
		// Raw cgroups: only the root ("/" is always taken); Docker's
		// containers come through the Docker handler.
		metricsSet, nil, nil, "", 0)
	if err != nil {
		return nil, fmt.Errorf("stats: start cadvisor: %w", err)
	}
	return &Provider{cfg: cfg, log: cfg.Logger, manager: m, rootDir: root}, nil
}

// Start begins sampling: it finds the root cgroup and the engine's
// containers and watches for new ones, and returns once the root cgroup has
// been sampled (at most 10 s). Called once, by main's start-up goroutine.
func (p *Provider) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return nil
	}
	if err := p.manager.Start(); err != nil {
		return fmt.Errorf("stats: start cadvisor's manager: %w", err)
	}
	p.started = true
	// The root cgroup's first sample comes from a goroutine of the
	// manager's; the file systems are known from it on.
	deadline := time.Now().Add(firstSampleWait)
	for time.Now().Before(deadline) {
		if _, err := p.manager.GetFsInfo(""); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// firstSampleWait bounds how long Start waits for the first sample.
const firstSampleWait = 10 * time.Second

// Stop ends sampling and joins cadvisor's goroutines. Called by main at
// shutdown.
func (p *Provider) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		return nil
	}
	p.started = false
	return p.manager.Stop()
}

// Machine is what cadvisor read of the machine.
func (p *Provider) Machine() (*cadvisor.MachineInfo, error) {
	mi, err := p.manager.GetMachineInfo()
	if err != nil {
		return nil, fmt.Errorf("stats: machine info: %w", err)
	}
	return mi, nil
}

// Version is the kernel, OS and Docker versions cadvisor read.
func (p *Provider) Version() (*cadvisor.VersionInfo, error) {
	v, err := p.manager.GetVersionInfo()
	if err != nil {
		return nil, fmt.Errorf("stats: version info: %w", err)
	}
	return v, nil
}

// quietHandler passes cadvisor's warnings and errors on and turns its info
// lines (factory registrations, recoveries) into debug ones.
type quietHandler struct{ slog.Handler }

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		r.Level = slog.LevelDebug
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h quietHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(a)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}
