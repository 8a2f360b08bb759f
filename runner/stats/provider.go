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
)

// Config configures a Provider. Zero values take the documented defaults.
type Config struct {
	// DockerEndpoint is the engine whose /info tells its data root and
	// storage driver (default $DOCKER_HOST, else
	// unix:///var/run/docker.sock).
	DockerEndpoint string
	// RootDir is runner's --root-dir: its file system is the node's (nodefs).
	RootDir string
	// Engine lists runner's containers and images; InstanceID is the
	// io.runner.instance label of runner's containers.
	Engine     Engine
	InstanceID string
	// Housekeeping is how often the machine's root cgroup is sampled
	// (default 10s, as the kubelet).
	Housekeeping time.Duration
	// Logger receives cadvisor's own log lines (its info lines at debug).
	Logger *slog.Logger
}

// Provider measures the machine and runner's containers. Create it with
// New, then Start; every method is safe from any goroutine.
type Provider struct {
	cfg      Config
	log      *slog.Logger
	manager  manager.Manager
	rootDir  string
	docker   dockerInfo
	disk     *diskUsage
	sampler  *sampler
	mu       sync.Mutex // guards started, stopDisk
	started  bool
	stopDisk context.CancelFunc
	diskDone chan struct{}
}

// metricsSet is what is sampled: cpu, memory, network and block I/O, and
// the file systems (for the root cgroup). Not the processes' counts: they
// take a readlink of every open file of every process (the largest cost of
// a cadvisor sample), and nothing here ranks by them.
var metricsSet = container.MetricSet{
	container.CpuUsageMetrics:     struct{}{},
	container.MemoryUsageMetrics:  struct{}{},
	container.DiskIOMetrics:       struct{}{},
	container.DiskUsageMetrics:    struct{}{},
	container.NetworkUsageMetrics: struct{}{},
}

// storageAge is how long the root cgroup's samples are kept.
const storageAge = 2 * time.Minute

// klogOnce: klog's logger is process-wide; the first New sets it.
var klogOnce sync.Once

// New makes a Provider: it asks the engine for its data root and storage
// driver and reads the mount table and the machine's topology, but samples
// nothing until Start. Called once, by main's start-up goroutine.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.RootDir == "" || cfg.Engine == nil || cfg.InstanceID == "" {
		return nil, errors.New("stats: Config.RootDir, Engine and InstanceID are required")
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
	info, err := readDockerInfo(ctx, cfg.DockerEndpoint)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	klogOnce.Do(func() {
		klog.SetLogger(logr.FromSlogHandler(quietHandler{cfg.Logger.With("component", "cadvisor").Handler()}))
	})
	interval, dynamic := cfg.Housekeeping, false
	// Only the root cgroup is housekept: a container's cgroup is read when
	// someone asks (see sampler).
	m, err := manager.New(memory.New(storageAge, nil), sysfs.NewRealSysFs(),
		manager.HousekeepingConfig{Interval: &interval, AllowDynamic: &dynamic, DisableContainerDiscovery: true},
		metricsSet, nil, nil, "", 0)
	if err != nil {
		return nil, fmt.Errorf("stats: start cadvisor: %w", err)
	}
	p := &Provider{cfg: cfg, log: cfg.Logger, manager: m, rootDir: root, docker: info,
		disk: newDiskUsage(info.Root, info.Driver, cfg.Logger)}
	if p.sampler, err = newSampler(cfg.Engine, cfg.InstanceID, p.disk); err != nil {
		return nil, err
	}
	return p, nil
}

// Start begins sampling the root cgroup and measuring containers' disk
// use, and returns once the root cgroup has been sampled (at most 10 s).
// Called once, by main's start-up goroutine.
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
	ctx, cancel := context.WithCancel(context.Background())
	p.stopDisk, p.diskDone = cancel, make(chan struct{})
	go func() {
		defer close(p.diskDone)
		p.disk.run(ctx)
	}()
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

// Stop ends sampling and joins the goroutines. Called by main at shutdown.
func (p *Provider) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.started {
		return nil
	}
	p.started = false
	p.stopDisk()
	<-p.diskDone
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
