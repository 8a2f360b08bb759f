package eviction

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/internal/fsutil"
	"github.com/runner-dev/runner/runner/runtime"
)

// The container labels HostSource reads (the runner's; main's tests check
// that they agree).
const (
	LabelInstance = "io.runner.instance"
	LabelPodUID   = "io.kubernetes.pod.uid"
)

// ContainerLister lists the engine's containers; runtime.Runtime
// implements it.
type ContainerLister interface {
	ListContainers(ctx context.Context, match map[string]string) ([]runtime.Container, error)
}

// HostSource reads the signals from the host, as cadvisor would: memory
// from the root memory cgroup (cgroup v1) or /proc/meminfo (v2), the file
// systems with statfs(2), PIDs from /proc, and each pod's usage from its
// containers' cgroups and its directory under the root directory. A figure
// it cannot read is left out, never guessed. It stands in until
// runner/stats (cadvisor) is wired in. Safe for concurrent use.
type HostSource struct {
	// NodeFSPath is runner's root directory; ImageFSPath the engine's data
	// root (e.g. /var/lib/docker).
	NodeFSPath  string
	ImageFSPath string
	// Engine and InstanceID find the pods' running containers; nil: no
	// memory or process figures per pod.
	Engine     ContainerLister
	InstanceID string
	// PodsDir holds one directory per pod UID (RootDir/pods); empty: no disk
	// figures per pod.
	PodsDir string
	// ProcDir and CgroupDir default to /proc and /sys/fs/cgroup.
	ProcDir   string
	CgroupDir string
}

func (h HostSource) proc(parts ...string) string {
	return filepath.Join(append([]string{cmpOr(h.ProcDir, "/proc")}, parts...)...)
}

func (h HostSource) cgroup(parts ...string) string {
	return filepath.Join(append([]string{cmpOr(h.CgroupDir, "/sys/fs/cgroup")}, parts...)...)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Signals implements Source. It fails only when no signal could be read.
func (h HostSource) Signals(context.Context) (Snapshot, error) {
	snap := Snapshot{Time: time.Now(), Values: map[Signal]Observation{}}
	var errs []error
	if obs, err := h.memory(); err == nil {
		snap.Values[SignalMemoryAvailable] = obs
	} else {
		errs = append(errs, err)
	}
	for _, fsys := range []struct {
		path          string
		bytes, inodes Signal
	}{
		{h.NodeFSPath, SignalNodeFsAvailable, SignalNodeFsInodesFree},
		{h.ImageFSPath, SignalImageFsAvailable, SignalImageFsInodesFree},
	} {
		if fsys.path == "" {
			continue
		}
		sp, err := fsutil.Statfs(fsys.path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		snap.Values[fsys.bytes] = Observation{Available: sp.Available, Capacity: sp.Capacity}
		if sp.Inodes > 0 { // file systems without inodes (btrfs) report 0
			snap.Values[fsys.inodes] = Observation{Available: sp.InodesFree, Capacity: sp.Inodes}
		}
	}
	if obs, err := h.pids(); err == nil {
		snap.Values[SignalPIDAvailable] = obs
	} else {
		errs = append(errs, err)
	}
	if len(snap.Values) == 0 {
		return snap, fmt.Errorf("read eviction signals: %w", errors.Join(errs...))
	}
	return snap, nil
}

// memory is memory.available as the kubelet computes it: capacity minus
// the root cgroup's working set (usage minus inactive file pages).
func (h HostSource) memory() (Observation, error) {
	info, err := readKeyed(h.proc("meminfo"))
	if err != nil {
		return Observation{}, err
	}
	capacity := info["MemTotal"] * 1024
	if capacity <= 0 {
		return Observation{}, fmt.Errorf("read %s: no MemTotal", h.proc("meminfo"))
	}
	var usage, inactive int64
	if u, err := readInt(h.cgroup("memory", "memory.usage_in_bytes")); err == nil { // cgroup v1
		stat, err := readKeyed(h.cgroup("memory", "memory.stat"))
		if err != nil {
			return Observation{}, err
		}
		usage, inactive = u, stat["total_inactive_file"]
	} else { // cgroup v2: the root cgroup has no memory.current
		usage = capacity - info["MemFree"]*1024
		inactive = info["Inactive(file)"] * 1024
		if stat, err := readKeyed(h.cgroup("memory.stat")); err == nil {
			inactive = stat["inactive_file"]
		}
	}
	workingSet := max(usage-inactive, 0)
	return Observation{Available: max(capacity-workingSet, 0), Capacity: capacity}, nil
}

// pids is pid.available: the kernel's limit (the lower of pid_max and
// threads-max) minus the tasks that exist.
func (h HostSource) pids() (Observation, error) {
	limit, err := readInt(h.proc("sys", "kernel", "pid_max"))
	if err != nil {
		return Observation{}, err
	}
	if threads, err := readInt(h.proc("sys", "kernel", "threads-max")); err == nil {
		limit = min(limit, threads)
	}
	load, err := os.ReadFile(h.proc("loadavg"))
	if err != nil {
		return Observation{}, err
	}
	// "0.50 0.40 0.30 2/301 12345": 301 tasks exist.
	f := strings.Fields(string(load))
	if len(f) < 4 {
		return Observation{}, fmt.Errorf("read %s: %q", h.proc("loadavg"), load)
	}
	_, total, _ := strings.Cut(f[3], "/")
	n, err := strconv.ParseInt(total, 10, 64)
	if err != nil {
		return Observation{}, fmt.Errorf("read %s: %w", h.proc("loadavg"), err)
	}
	return Observation{Available: max(limit-n, 0), Capacity: limit}, nil
}

// PodUsage implements Source: per pod, the working set and processes of
// its running containers, and what its directory holds on the node file
// system. Container logs and writable layers are not measured here.
func (h HostSource) PodUsage(ctx context.Context) (map[types.UID]PodUsage, error) {
	out := map[types.UID]PodUsage{}
	if h.Engine != nil {
		list, err := h.Engine.ListContainers(ctx, map[string]string{LabelInstance: h.InstanceID})
		if err != nil {
			return nil, fmt.Errorf("pods' usage: %w", err)
		}
		for _, c := range list {
			uid := types.UID(c.Labels[LabelPodUID])
			if c.State != runtime.StateRunning || uid == "" {
				continue
			}
			u := out[uid]
			u.Memory += h.containerMemory(c.ID)
			u.Processes += h.containerPids(c.ID)
			out[uid] = u
		}
	}
	if h.PodsDir != "" {
		for uid, u := range out {
			u.NodeFS = diskUse(filepath.Join(h.PodsDir, string(uid)))
			out[uid] = u
		}
	}
	return out, nil
}

// containerDirs are where the engine may have put a container's cgroup
// under one controller (or the unified hierarchy when controller is "").
func (h HostSource) containerDirs(controller, id string) []string {
	var out []string
	for _, rel := range []string{"docker/" + id, "system.slice/docker-" + id + ".scope"} {
		out = append(out, h.cgroup(controller, rel))
	}
	return out
}

// containerMemory is a container's working set; 0 when unknown.
func (h HostSource) containerMemory(id string) int64 {
	for _, dir := range h.containerDirs("memory", id) {
		if usage, err := readInt(filepath.Join(dir, "memory.usage_in_bytes")); err == nil {
			stat, _ := readKeyed(filepath.Join(dir, "memory.stat"))
			return max(usage-stat["total_inactive_file"], 0)
		}
	}
	for _, dir := range h.containerDirs("", id) {
		if usage, err := readInt(filepath.Join(dir, "memory.current")); err == nil {
			stat, _ := readKeyed(filepath.Join(dir, "memory.stat"))
			return max(usage-stat["inactive_file"], 0)
		}
	}
	return 0
}

// containerPids counts a container's tasks; 0 when unknown.
func (h HostSource) containerPids(id string) int64 {
	for _, dir := range append(h.containerDirs("pids", id), h.containerDirs("", id)...) {
		if n, err := readInt(filepath.Join(dir, "pids.current")); err == nil {
			return n
		}
	}
	return 0
}

// diskUse is the bytes and inodes under dir on dir's own file system
// (emptyDir volumes of medium Memory and mounts are left out).
func diskUse(dir string) DiskUse {
	var use DiskUse
	root, err := os.Lstat(dir)
	if err != nil {
		return use
	}
	dev := root.Sys().(*syscall.Stat_t).Dev
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st := info.Sys().(*syscall.Stat_t)
		if st.Dev != dev {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		use.Bytes += st.Blocks * 512
		use.Inodes++
		return nil
	})
	return use
}

// readInt reads a file holding one integer.
func readInt(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return n, nil
}

// readKeyed reads "key value [unit]" lines (memory.stat, meminfo: "MemTotal:
// 24683652 kB" gives MemTotal 24683652).
func readKeyed(path string) (map[string]int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		if n, err := strconv.ParseInt(f[1], 10, 64); err == nil {
			out[strings.TrimSuffix(f[0], ":")] = n
		}
	}
	return out, nil
}
