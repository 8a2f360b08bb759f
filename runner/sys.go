package runner

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"k8s.io/apimachinery/pkg/api/resource"
)

func numCPU() int { return goruntime.NumCPU() }

// memoryCapacity is the machine's memory in bytes.
func memoryCapacity() int64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// hostIP is the host's first non-loopback IPv4 address, looked up once: it
// goes into every pod status, which must not cost a syscall each time.
var hostIP = sync.OnceValue(lookupHostIP)

func lookupHostIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

// mountTmpfs mounts a tmpfs on dir unless one is there already, for
// emptyDir volumes with medium Memory (shared by the pod's containers).
func mountTmpfs(dir string, size *resource.Quantity) error {
	var st, parent syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return err
	}
	if err := syscall.Stat(filepath.Dir(dir), &parent); err != nil {
		return err
	}
	if st.Dev != parent.Dev {
		return nil // already a mount point
	}
	opts := "mode=1777"
	if size != nil && !size.IsZero() {
		opts += ",size=" + strconv.FormatInt(size.Value(), 10)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

// oomScoreFloor is the lowest oom_score_adj this process may give its
// children: without CAP_SYS_RESOURCE (as in some containers and sandboxes)
// the kernel refuses a value below our own, and the container would fail to
// start, so such values are raised to our own.
func oomScoreFloor() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1000
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(rest), 16, 64)
			const capSysResource = 24
			if err == nil && caps&(1<<capSysResource) != 0 {
				return -1000
			}
		}
	}
	own, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(own)))
	if err != nil {
		return 0
	}
	return n
}
