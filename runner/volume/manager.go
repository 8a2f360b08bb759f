package volume

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"

	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/types"
)

// Config configures a Manager.
type Config struct {
	// RootDir is runner's --root-dir; pods live in RootDir/pods. Created
	// when missing.
	RootDir string
	// Logger receives warnings (nil: slog.Default()).
	Logger *slog.Logger
	// Node feeds downwardAPI volumes; zero fields are filled by DetectNode.
	Node Node
}

// Manager prepares and removes the directories and volumes of pods under
// RootDir/pods. It holds no mutable state: its methods are safe for
// concurrent use as long as no two goroutines work on the same pod at once
// (runner's workers are serial per pod).
type Manager struct {
	pods string // absolute, symlinks resolved: mount points compare to it
	log  *slog.Logger
	node Node
}

// New creates RootDir/pods when missing and returns its Manager. Called
// once by runner's constructor.
func New(cfg Config) (*Manager, error) {
	if cfg.RootDir == "" {
		return nil, errors.New("volume: Config.RootDir is required")
	}
	abs, err := filepath.Abs(cfg.RootDir)
	if err != nil {
		return nil, fmt.Errorf("volume: root dir %s: %w", cfg.RootDir, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, "pods"), 0o750); err != nil {
		return nil, fmt.Errorf("volume: create %s/pods: %w", abs, err)
	}
	// Mount points in /proc/self/mountinfo are real paths: resolve ours.
	pods, err := filepath.EvalSymlinks(filepath.Join(abs, "pods"))
	if err != nil {
		return nil, fmt.Errorf("volume: resolve %s/pods: %w", abs, err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Manager{pods: pods, log: log, node: fillNode(cfg.Node, DetectNode(abs))}, nil
}

// fillNode fills the zero fields of n from detected.
func fillNode(n, detected Node) Node {
	if n.HostIP == "" {
		n.HostIP = detected.HostIP
	}
	if n.CPUs == 0 {
		n.CPUs = detected.CPUs
	}
	if n.MemoryBytes == 0 {
		n.MemoryBytes = detected.MemoryBytes
	}
	if n.EphemeralStorageBytes == 0 {
		n.EphemeralStorageBytes = detected.EphemeralStorageBytes
	}
	return n
}

// DetectNode reads the machine's Node: its first non-loopback IPv4
// address, its CPU count and memory, and the size of the file system that
// holds rootDir (the kubelet's ephemeral-storage capacity). Fields it cannot
// read are zero. Costs a few syscalls: call it once.
func DetectNode(rootDir string) Node {
	n := Node{CPUs: goruntime.NumCPU()}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		n.MemoryBytes = int64(si.Totalram) * int64(si.Unit)
	}
	var fs unix.Statfs_t
	if unix.Statfs(rootDir, &fs) == nil {
		n.EphemeralStorageBytes = int64(fs.Blocks) * int64(fs.Bsize)
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				n.HostIP = ipn.IP.String()
				break
			}
		}
	}
	return n
}

// Node is the machine as the Manager's downwardAPI volumes see it.
func (m *Manager) Node() Node { return m.node }

// PodDir is the pod's directory, <root>/pods/<uid>. It refuses a UID that
// is not one safe path component (see CheckUID).
func (m *Manager) PodDir(uid types.UID) (string, error) {
	if err := CheckUID(uid); err != nil {
		return "", err
	}
	return m.under(m.pods, string(uid))
}

// ResolvConfPath is the pod's resolv.conf, bind-mounted into each of its
// containers by runner's network hook.
func (m *Manager) ResolvConfPath(uid types.UID) (string, error) {
	return m.podFile(uid, "resolv.conf")
}

// HostsPath is the pod's managed /etc/hosts.
func (m *Manager) HostsPath(uid types.UID) (string, error) {
	return m.podFile(uid, "hosts")
}

func (m *Manager) podFile(uid types.UID, name string) (string, error) {
	dir, err := m.PodDir(uid)
	if err != nil {
		return "", err
	}
	return m.under(dir, name)
}

// instanceDir is the directory of one container instance,
// <pod>/containers/<name>/<attempt>.
func (m *Manager) instanceDir(uid types.UID, container string, attempt int) (string, error) {
	dir, err := m.PodDir(uid)
	if err != nil {
		return "", err
	}
	if err := checkName("container", container); err != nil {
		return "", err
	}
	if attempt < 0 {
		return "", fmt.Errorf("container %s: attempt %d is negative", container, attempt)
	}
	return m.under(dir, "containers", container, strconv.Itoa(attempt))
}

// under joins elems to dir and refuses a result outside the pods
// directory: the last check before any path derived from a manifest is
// used.
func (m *Manager) under(dir string, elems ...string) (string, error) {
	p := filepath.Join(append([]string{dir}, elems...)...)
	if !within(m.pods, p) || p == m.pods {
		return "", fmt.Errorf("path %s is not under %s", p, m.pods)
	}
	return p, nil
}
