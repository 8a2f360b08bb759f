// Package stats is runner's cadvisor adapter: machine info, the file
// systems of --root-dir (nodefs) and of Docker's data root (imagefs), the
// node's and every container's resource usage, assembled into the kubelet's
// Summary API (k8s.io/kubelet/pkg/apis/stats/v1alpha1), and cadvisor's own
// Prometheus collector. The read-only API serves it; garbage collection and
// eviction read their signals from it.
//
// It runs cadvisor's manager (github.com/google/cadvisor/lib) for the
// machine, its file systems and its root cgroup only (sampled every 10 s,
// two minutes kept). runner's containers are read with cadvisor's
// libcontainer handler over each one's own cgroup, found from its main
// process, when a reader asks (the API): nothing is read between askings,
// and the engine is asked once per asking for the list of runner's
// containers and once per new container for its process. Eviction's signals
// every 10 s read the node alone (NodeSummary), which asks the engine
// nothing; its pod usage comes from the cgroup files when it evicts. Each container's
// last two samples are kept, for cpu rates. Writable layers and log
// directories are walked once a minute, for the containers asked about.
//
// Why not cadvisor's Docker handler: it inspects every container at every
// housekeeping (a Docker request per container every 10 s) and counts every
// process's open files; with 50 pods it cost 17 % of a core and 600 Docker
// requests a minute while nobody asked for anything. This way an idle API
// costs what the root cgroup's housekeeping costs.
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
