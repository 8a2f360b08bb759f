package stats

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/cadvisor/lib/container/common"
	"github.com/google/cadvisor/lib/container/libcontainer"
	cadvisor "github.com/google/cadvisor/lib/model"
	"github.com/opencontainers/cgroups"

	"github.com/runner-dev/runner/runner/runtime"
)

// Engine is the part of the runtime seam the sampler needs: which
// containers runner has (one list per sampling) and their main process (one
// inspect per new container).
type Engine interface {
	ListContainers(ctx context.Context, match map[string]string) ([]runtime.Container, error)
	InspectContainer(ctx context.Context, id string) (runtime.Container, error)
	ListImages(ctx context.Context) ([]runtime.Image, error)
}

// minSampleGap: a container sampled more recently is not read again (two
// readers within a second share one sample; the cpu rate needs a gap).
const minSampleGap = time.Second

// forgetAfter: a container no reader asked about for this long is dropped.
const forgetAfter = 5 * time.Minute

// sampler reads the cgroups of runner's running containers when asked —
// cadvisor's libcontainer handler over each container's own cgroup, found
// from its main process — and keeps each container's last two samples, for
// cpu rates. Nothing is read between askings: an idle API costs nothing.
// Safe for concurrent use.
type sampler struct {
	engine   Engine
	instance string
	subsys   map[string]string // cgroup v1 controller → mount point ("" → v2)
	disk     *diskUsage
	mu       sync.Mutex
	tracked  map[string]*tracked // by Docker ID
}

// tracked is one container being sampled.
type tracked struct {
	info    cadvisor.ContainerInfo // reference and spec
	handler *libcontainer.Handler
	samples []*cadvisor.ContainerStats // the last two, oldest first
	asked   time.Time
	pid     int
}

func newSampler(engine Engine, instance string, disk *diskUsage) (*sampler, error) {
	subsys, err := libcontainer.GetCgroupSubsystems(metricsSet)
	if err != nil {
		return nil, fmt.Errorf("stats: cgroup mounts: %w", err)
	}
	return &sampler{engine: engine, instance: instance, subsys: subsys, disk: disk, tracked: map[string]*tracked{}}, nil
}

// sample returns runner's running containers, each with its last two
// samples (one when first seen), by cgroup name, in the shape cadvisor's
// manager gives: Namespace "docker", Id the Docker ID, the container's
// labels, and its writable layer and log directory as a file system entry
// on imageFs (once measured). Called by Summary and the collector.
func (s *sampler) sample(ctx context.Context, imageFs *cadvisor.FsInfo) (map[string]*cadvisor.ContainerInfo, error) {
	list, err := s.engine.ListContainers(ctx, map[string]string{labelInstance: s.instance})
	if err != nil {
		return nil, fmt.Errorf("stats: list runner's containers: %w", err)
	}
	now := time.Now()
	out := map[string]*cadvisor.ContainerInfo{}
	for _, c := range list {
		if c.State != runtime.StateRunning {
			continue
		}
		t, err := s.track(ctx, c)
		if err != nil {
			continue // gone meanwhile, or not readable: no figure
		}
		s.mu.Lock()
		t.asked = now
		if n := len(t.samples); n == 0 || now.Sub(t.samples[n-1].Timestamp) >= minSampleGap {
			if st, err := t.handler.GetStats(); err == nil {
				st.Timestamp = now
				t.samples = append(t.samples, st)
				if len(t.samples) > 2 {
					t.samples = t.samples[len(t.samples)-2:]
				}
			}
		}
		info := t.info
		info.Stats = append([]*cadvisor.ContainerStats(nil), t.samples...)
		s.mu.Unlock()
		if len(info.Stats) == 0 {
			continue
		}
		if u, ok := s.disk.usage(c.ID); ok && imageFs != nil {
			last := *info.Stats[len(info.Stats)-1]
			last.Filesystem = []cadvisor.FsStats{{Device: imageFs.Device, Limit: imageFs.Capacity,
				BaseUsage: u.layer, Usage: u.layer + u.dir, Inodes: u.inodes}}
			info.Stats[len(info.Stats)-1] = &last
		}
		out[info.Name] = &info
	}
	s.forget(now)
	return out, nil
}

// track returns the tracked container c, starting to track it (one
// inspect, for its main process) when it is new.
func (s *sampler) track(ctx context.Context, c runtime.Container) (*tracked, error) {
	s.mu.Lock()
	t := s.tracked[c.ID]
	s.mu.Unlock()
	if t != nil {
		return t, nil
	}
	full, err := s.engine.InspectContainer(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	if full.Pid <= 0 {
		return nil, fmt.Errorf("container %s has no process", c.ID)
	}
	name, err := cgroupOf(full.Pid)
	if err != nil {
		return nil, err
	}
	paths := common.MakeCgroupPaths(s.subsys, name)
	mgr, err := libcontainer.NewCgroupManager(name, paths)
	if err != nil {
		return nil, fmt.Errorf("cgroup of container %s: %w", c.ID, err)
	}
	t = &tracked{
		pid:     full.Pid,
		handler: libcontainer.NewHandler(mgr, "/", full.Pid, metricsSet),
		info: cadvisor.ContainerInfo{
			ContainerReference: cadvisor.ContainerReference{Id: c.ID, Name: name, Aliases: []string{full.Name, c.ID}, Namespace: dockerNamespace},
			Spec: cadvisor.ContainerSpec{Labels: full.Labels, Image: full.Image, CreationTime: full.CreatedAt,
				HasCpu: true, HasMemory: true, HasNetwork: true, HasDiskIo: true, HasFilesystem: true},
		},
	}
	if limit, ok := memoryLimit(paths); ok {
		t.info.Spec.Memory.Limit = limit
	}
	s.disk.watch(c.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.tracked[c.ID]; old != nil {
		return old, nil
	}
	s.tracked[c.ID] = t
	return t, nil
}

// forget drops the containers no one asked about for forgetAfter.
func (s *sampler) forget(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.tracked {
		if now.Sub(t.asked) > forgetAfter {
			delete(s.tracked, id)
			s.disk.unwatch(id)
		}
	}
	// Containers that are gone are no longer listed: they stop being
	// asked about and are dropped in time.
}

// cgroupOf is the cgroup of process pid, as /proc tells it to runner
// (the memory controller's on cgroup v1, the unified one on v2).
func cgroupOf(pid int) (string, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	unified := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			if ctrl == "memory" && !cgroups.IsCgroup2UnifiedMode() {
				return parts[2], nil
			}
		}
		if parts[0] == "0" && parts[1] == "" {
			unified = parts[2]
		}
	}
	if unified == "" {
		return "", fmt.Errorf("no cgroup of pid %d", pid)
	}
	return unified, nil
}

// memoryLimit reads a cgroup's memory limit (v1 limit_in_bytes, v2
// memory.max); "max" and the v1 "unlimited" value are no limit.
func memoryLimit(paths map[string]string) (uint64, bool) {
	var files []string
	if dir, ok := paths["memory"]; ok {
		files = append(files, filepath.Join(dir, "memory.limit_in_bytes"))
	}
	if dir, ok := paths[""]; ok {
		files = append(files, filepath.Join(dir, "memory.max"))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, false // "max"
		}
		return v, true
	}
	return 0, false
}
