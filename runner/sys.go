package runner

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
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

// hostIP is the address of the interface of the default route, or the first
// non-loopback IPv4 address.
func hostIP() string {
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

// writeFileAtomic writes a file so readers see the old or the new content,
// never a part: temp file in the same directory, fsync, rename.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func sortStrings(s []string) { sort.Strings(s) }
