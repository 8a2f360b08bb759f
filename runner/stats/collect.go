package stats

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strconv"
	"strings"
	"time"

	cadvisor "github.com/google/cadvisor/lib/model"
	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Summary is the kubelet's Summary API (/stats/summary) for this node,
// named nodeName, and for pods (with their status): the root cgroup from
// cadvisor's manager, runner's running containers sampled now (see
// sampler). A figure that cannot be had is left out. Called by the API's
// handler, on its own goroutine.
func (p *Provider) Summary(ctx context.Context, nodeName string, pods []*v1.Pod) (*statsapi.Summary, error) {
	s := p.nodeSample(nodeName)
	out, err := p.sampler.sample(ctx, s.imageFs)
	if err != nil {
		return nil, err
	}
	maps.Copy(out, s.containers)
	s.containers = out
	if imgs, err := p.cfg.Engine.ListImages(ctx); err == nil {
		var n uint64
		for _, img := range imgs {
			n += uint64(max(img.Size, 0))
		}
		s.imagesBytes = &n
	}
	return buildSummary(s, pods), nil
}

// NodeSummary is Summary of the node alone: its memory (the root cgroup),
// file systems and processes, without runner's containers or the images'
// sizes, so that it costs the engine nothing. What eviction reads every
// monitoring interval; safe from any goroutine.
func (p *Provider) NodeSummary(nodeName string) *statsapi.Summary {
	return buildSummary(p.nodeSample(nodeName), nil)
}

// nodeSample is a sample of the node's own figures: machine, file
// systems, the root cgroup's last two samples and the process limits.
func (p *Provider) nodeSample(nodeName string) sample {
	s := sample{nodeName: nodeName, instance: p.cfg.InstanceID}
	var err error
	if s.machine, err = p.manager.GetMachineInfo(); err != nil {
		p.log.Debug("machine info unavailable", "error", err)
		s.machine = nil
	}
	if fs, err := p.NodeFs(); err == nil {
		s.nodeFs = &fs
	} else {
		p.log.Debug("nodefs unavailable", "error", err)
	}
	if fs, err := p.ImageFs(); err == nil {
		s.imageFs = &fs
	} else {
		p.log.Debug("imagefs unavailable", "error", err)
	}
	s.containers = p.root(2)
	s.rlimit = Rlimit(time.Now())
	return s
}

// containers are the root cgroup's last count samples and runner's
// running containers', by cgroup name.
func (p *Provider) containers(ctx context.Context, count int, imageFs *cadvisor.FsInfo) (map[string]*cadvisor.ContainerInfo, error) {
	out, err := p.sampler.sample(ctx, imageFs)
	if err != nil {
		return nil, err
	}
	maps.Copy(out, p.root(count))
	return out, nil
}

// root is the root cgroup's last count samples, as "/" (empty when
// cadvisor has none).
func (p *Provider) root(count int) map[string]*cadvisor.ContainerInfo {
	out := map[string]*cadvisor.ContainerInfo{}
	root, err := p.manager.GetRequestedContainersInfo("/", cadvisor.RequestOptions{IdType: cadvisor.TypeName, Count: count})
	if err != nil {
		p.log.Debug("root cgroup stats unavailable", "error", err)
	}
	if r := root["/"]; r != nil {
		out["/"] = r
	}
	return out
}

// NodeFs is the file system of --root-dir (the kubelet's nodefs). Safe from
// any goroutine.
func (p *Provider) NodeFs() (cadvisor.FsInfo, error) {
	fs, err := p.manager.GetDirFsInfo(p.rootDir)
	if err != nil {
		return fs, fmt.Errorf("stats: file system of %s: %w", p.rootDir, err)
	}
	return fs, nil
}

// ImageFs is the file system of Docker's data root (the kubelet's
// imagefs): images, writable layers and containers' logs. Safe from any
// goroutine.
func (p *Provider) ImageFs() (cadvisor.FsInfo, error) {
	fs, err := p.manager.GetDirFsInfo(p.docker.Root)
	if err != nil {
		return fs, fmt.Errorf("stats: file system of Docker's data root %s: %w", p.docker.Root, err)
	}
	return fs, nil
}

// DockerRoot is Docker's data root, as the engine told it.
func (p *Provider) DockerRoot() string { return p.docker.Root }

// Rlimit is the node's process limit and count, as the kubelet reads them:
// the lower of kernel.pid_max and kernel.threads-max, and the kernel's
// count of processes (threads included). Figures it cannot read are nil.
func Rlimit(now time.Time) *statsapi.RlimitStats {
	out := &statsapi.RlimitStats{Time: metav1.NewTime(now)}
	var limit int64
	for _, f := range []string{"/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && (limit == 0 || n < limit) {
			limit = n
		}
	}
	if limit > 0 {
		out.MaxPID = &limit
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		procs := int64(si.Procs)
		out.NumOfRunningProcesses = &procs
	}
	return out
}
