package dockerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/sys/mountinfo"
)

// Close removes everything of the daemon: every container (the daemon is
// started for that when it is down), the daemon itself, what a crash may
// have left of its processes, its mounts and its directory. It is safe to
// call more than once, and after a failed Start.
func (d *Daemon) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var errs []error
	if d.rt != nil {
		// Without live-restore, so that the stop below stops what is left.
		d.SetLiveRestore(false)
		if !d.Running() {
			if _, err := os.Stat(d.path("data")); err == nil {
				if err := d.Up(ctx); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if d.Running() {
			errs = append(errs, d.removeContainers(ctx))
		}
		if _, err := d.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
		_ = d.rt.Close()
	}
	errs = append(errs, killLeftovers(d.dir), unmountBelow(d.dir), d.deleteBridge())
	if err := os.RemoveAll(d.dir); err != nil {
		// A container's root file system that Docker could not remove
		// ("device or resource busy") can still be mounted: once more,
		// now that nothing of the daemon runs.
		time.Sleep(time.Second)
		if err := errors.Join(unmountBelow(d.dir), os.RemoveAll(d.dir)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close private dockerd %s: %w", d.dir, err)
	}
	return nil
}

// removeContainers force-removes every container of the daemon (all of
// them are the test's: the daemon is private).
func (d *Daemon) removeContainers(ctx context.Context) error {
	list, err := d.rt.ListContainers(ctx, nil)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range list {
		errs = append(errs, d.rt.RemoveContainer(ctx, c.ID))
	}
	return errors.Join(errs...)
}

// killLeftovers kills, with SIGKILL, every process whose command line names
// dir (containerd, shims of a daemon that crashed) and what they started.
func killLeftovers(dir string) error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	parents := map[int]int{}
	var roots []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && strings.Contains(string(cmd), dir+"/") {
			roots = append(roots, pid)
		}
		if ppid := parentOf(pid); ppid > 0 {
			parents[pid] = ppid
		}
	}
	victims := map[int]bool{}
	for _, r := range roots {
		victims[r] = true
	}
	// Descendants: repeat until no new child is found.
	for grown := true; grown; {
		grown = false
		for pid, ppid := range parents {
			if victims[ppid] && !victims[pid] {
				victims[pid], grown = true, true
			}
		}
	}
	for pid := range victims {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return nil
}

// parentOf reads the parent pid from /proc/<pid>/stat; 0 when unreadable.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command is in parentheses and may hold spaces: fields start after
	// the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// unmountBelow detaches every mount at or below dir, deepest first.
func unmountBelow(dir string) error {
	below := func(m *mountinfo.Info) (skip, stop bool) {
		return m.Mountpoint != dir && !strings.HasPrefix(m.Mountpoint, dir+"/"), false
	}
	mounts, err := mountinfo.GetMounts(below)
	if err != nil {
		return err
	}
	points := make([]string, 0, len(mounts))
	for _, m := range mounts {
		points = append(points, m.Mountpoint)
	}
	// Longer paths are deeper; a path mounted twice is unmounted twice.
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	var errs []error
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
