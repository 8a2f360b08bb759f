package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/runner/runtime"
)

// terminationLog is the file of a container instance that is bind-mounted
// at its terminationMessagePath.
const terminationLog = "termination-log"

// PrepareContainer makes what one container instance (attempt) mounts and
// returns its bind mounts, in the order of its volumeMounts, then the
// termination-log file when terminationMessagePath is set:
//   - a subPath, or a subPathExpr expanded from env (the container's
//     resolved environment), is resolved inside its volume and bind-mounted
//     onto <instance>/subpaths/<index>, which is what the mount's Source
//     names (see the package comment);
//   - downwardAPI and projected volumes are always read-only;
//   - mountPropagation HostToContainer is rslave, Bidirectional rshared;
//   - the termination-log file is created empty, mode 0666 (left as it is
//     when it exists).
//
// The pod's DNS files are not included: runner's network hook adds them.
// PreparePod must have run. On error, the subPath mounts this call made are
// undone. Called by a worker right before it creates the container; if the
// creation then fails, the worker calls CleanupContainer.
func (m *Manager) PrepareContainer(pod *v1.Pod, c *v1.Container, env map[string]string, attempt int) (mounts []runtime.Mount, err error) {
	dir, err := m.instanceDir(pod.UID, c.Name, attempt)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create directory of container %s of pod %s: %w", c.Name, podKey(pod), err)
	}
	subpaths, err := m.under(dir, "subpaths")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if uerr := unmountAll(subpaths); uerr != nil {
				err = errors.Join(err, uerr)
			}
		}
	}()
	for i, vm := range c.VolumeMounts {
		mnt, err := m.containerMount(pod, c, env, vm, subpaths, i)
		if err != nil {
			return nil, fmt.Errorf("volumeMount %s (%s) of container %s of pod %s: %w", vm.Name, vm.MountPath, c.Name, podKey(pod), err)
		}
		mounts = append(mounts, mnt)
	}
	if c.TerminationMessagePath != "" {
		logPath, err := m.under(dir, terminationLog)
		if err != nil {
			return nil, err
		}
		if err := createTerminationLog(logPath); err != nil {
			return nil, fmt.Errorf("termination log of container %s of pod %s: %w", c.Name, podKey(pod), err)
		}
		mounts = append(mounts, runtime.Mount{Source: logPath, Target: c.TerminationMessagePath})
	}
	return mounts, nil
}

// containerMount is the bind mount of one volumeMount (index i).
func (m *Manager) containerMount(pod *v1.Pod, c *v1.Container, env map[string]string, vm v1.VolumeMount, subpaths string, i int) (runtime.Mount, error) {
	vol := findVolume(pod, vm.Name)
	if vol == nil {
		return runtime.Mount{}, fmt.Errorf("names no volume of the pod")
	}
	src, err := m.volumePath(pod, vol)
	if err != nil {
		return runtime.Mount{}, err
	}
	sub := vm.SubPath
	if vm.SubPathExpr != "" {
		if sub != "" {
			return runtime.Mount{}, fmt.Errorf("sets both subPath and subPathExpr")
		}
		if sub, err = ExpandSubPathExpr(vm.SubPathExpr, env); err != nil {
			return runtime.Mount{}, err
		}
	}
	if sub != "" {
		target, err := m.under(subpaths, strconv.Itoa(i))
		if err != nil {
			return runtime.Mount{}, err
		}
		if err := bindSubPath(src, sub, target); err != nil {
			return runtime.Mount{}, err
		}
		src = target
	}
	mnt := runtime.Mount{
		Source:   src,
		Target:   vm.MountPath,
		ReadOnly: vm.ReadOnly || vol.DownwardAPI != nil || vol.Projected != nil || vol.Image != nil,
	}
	if vm.MountPropagation != nil {
		switch *vm.MountPropagation {
		case v1.MountPropagationHostToContainer:
			mnt.Propagation = "rslave"
		case v1.MountPropagationBidirectional:
			mnt.Propagation = "rshared"
		}
	}
	return mnt, nil
}

// createTerminationLog creates the empty file a container writes its
// termination message to, writable by any user of the container (0666
// whatever the umask), without following a symlink planted in its place.
func createTerminationLog(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
	if errors.Is(err, fs.ErrExist) {
		// A retry of the same attempt: keep the file, but it must be a
		// regular file and not a link to one elsewhere.
		st, lerr := os.Lstat(path)
		if lerr != nil {
			return lerr
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is %s, not a regular file", path, describeMode(st.Mode()))
		}
		return nil
	}
	if err != nil {
		return err
	}
	if err := f.Chmod(0o666); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// findVolume finds a volume of the pod by name.
func findVolume(pod *v1.Pod, name string) *v1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}

// CleanupContainer unmounts the subPath mounts of one container instance
// and removes its directory (termination log included). Safe to call for an
// instance never prepared (after a restart of runner) and more than once.
// A mount that cannot be unmounted leaves the directory and is returned.
// Called by a worker once the engine removed the container.
func (m *Manager) CleanupContainer(uid types.UID, container string, attempt int) error {
	dir, err := m.instanceDir(uid, container, attempt)
	if err != nil {
		return err
	}
	if err := removeTree(dir); err != nil {
		return fmt.Errorf("clean up container %s (attempt %d) of pod %s: %w", container, attempt, uid, err)
	}
	// The container's directory goes with its last instance.
	parent, _ := m.under(dir, "..")
	if err := os.Remove(parent); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotEmpty) {
		m.log.Debug("container directory kept", "path", parent, "error", err)
	}
	return nil
}
