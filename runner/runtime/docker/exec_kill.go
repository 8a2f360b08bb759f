package docker

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// killProcessGroup sends SIGKILL to the process group that pid leads (runc
// makes every exec a session leader, so a shell's children go with it), or
// to pid alone when it leads none.
//
// It kills nothing unless pid is a process of container containerID as this
// process sees it: /proc/<pid>/cgroup must name the container's full ID,
// which every cgroup layout of the engine does (cgroupfs /docker/<id>, systemd
// docker-<id>.scope, a cgroup parent's <parent>/<id>). Runner runs as root on
// the host, in the engine's pid namespace; where it does not, the check fails
// and the error says so. A process that is already gone is success.
func killProcessGroup(pid int, containerID string) error {
	cgroup, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read cgroup of process %d: %w", pid, err)
	}
	if containerID == "" || !bytes.Contains(cgroup, []byte(containerID)) {
		return fmt.Errorf("process %d is not in the cgroup of container %s here (is runner outside the engine's pid namespace?); not killed", pid, containerID)
	}
	target := pid
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
		target = -pid
	}
	if err := syscall.Kill(target, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGKILL %d: %w", target, err)
	}
	return nil
}
