// Package stats is runner's cadvisor adapter: machine info, the file
// systems of --root-dir (nodefs) and of Docker's data root (imagefs), the
// node's and every container's resource usage, assembled into the kubelet's
// Summary API (k8s.io/kubelet/pkg/apis/stats/v1alpha1), and cadvisor's own
// Prometheus collector. The read-only API serves it; garbage collection and
// eviction read their signals from it.
//
// It runs cadvisor's manager (github.com/google/cadvisor/lib) with two
// container handlers: the raw one, for the machine's root cgroup only, and
// the Docker one (github.com/google/cadvisor/container/docker), which knows a
// container by its ID, labels and writable layer. Both read the cgroup files
// themselves; the manager samples them every Housekeeping interval and keeps
// two minutes of samples in memory.
//
// File systems: since cadvisor split its library out (v0.60), a file system
// type is measured only when its plugin is registered by a blank import of
// its install package. Without any, every partition is dropped when the
// mount table is read, so GetDirFsInfo found the device of a directory
// ("/dev/vda" for /var/lib/docker here) but then "cannot find filesystem
// info for device": the node had no file systems at all. This package
// imports the plugins of the types a node's data can live on (ext*, xfs and
// the like through vfs, btrfs, overlay, tmpfs, nfs).
//
// A figure cadvisor cannot give (a container it has not sampled yet, a file
// system it cannot stat) is left out of the summary, never made up.
package stats
