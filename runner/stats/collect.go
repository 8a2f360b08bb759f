package stats

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	cdocker "github.com/google/cadvisor/container/docker"
	cadvisor "github.com/google/cadvisor/lib/model"
	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// Summary is the kubelet's Summary API (/stats/summary) for this node,
// named nodeName, and for pods (with their status), from cadvisor's latest
// samples of the containers whose io.runner.instance label is instance.
// A figure cadvisor cannot give is left out. Called by the API's handler
// and by eviction, on their own goroutines.
func (p *Provider) Summary(ctx context.Context, nodeName, instance string, pods []*v1.Pod) (*statsapi.Summary, error) {
	infos, err := p.manager.GetRequestedContainersInfo("/", cadvisor.RequestOptions{
		IdType: cadvisor.TypeName, Count: 2, Recursive: true,
	})
	if err != nil && len(infos) == 0 {
		return nil, fmt.Errorf("stats: container stats: %w", err)
	}
	s := sample{nodeName: nodeName, instance: instance, containers: infos}
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
	if p.cfg.Images != nil {
		if imgs, err := p.cfg.Images.ListImages(ctx); err == nil {
			var n uint64
			for _, img := range imgs {
				n += uint64(max(img.Size, 0))
			}
			s.imagesBytes = &n
		}
	}
	s.rlimit = Rlimit(time.Now())
	return buildSummary(s, pods), nil
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
	dir := DockerRoot()
	fs, err := p.manager.GetDirFsInfo(dir)
	if err != nil {
		return fs, fmt.Errorf("stats: file system of Docker's data root %s: %w", dir, err)
	}
	return fs, nil
}

// DockerRoot is Docker's data root as the engine reports it (cadvisor asks
// once; /var/lib/docker when it cannot).
func DockerRoot() string { return cdocker.RootDir() }

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
