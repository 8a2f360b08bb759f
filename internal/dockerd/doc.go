// Package dockerd runs a private Docker engine for tests and benchmarks that
// stop and start the engine under runner (issue 19's restart tests, the
// torture's Docker restarts, the engine restart benchmark), so that the
// machine's own dockerd and its containers are never touched.
//
// A Daemon lives in one directory of its own: its --data-root, --exec-root
// (where dockerd starts and keeps its own containerd, and runc its state),
// --pidfile, its unix socket and an empty configuration file, so that
// /etc/docker/daemon.json is never read. It has no bridge (--bridge=none)
// and touches neither iptables nor the host's sysctls (--iptables=false,
// --ip-forward=false, --ip-masq=false): runner's pods get their network
// from runner's CNI bridge, which needs none of them. Close removes every
// container of the daemon, stops it, kills what a crash may have left of
// its processes (containerd, shims), unmounts what is still mounted below
// the directory and removes it.
//
// The daemon is stopped with SIGTERM as systemd stops dockerd; with
// LiveRestore the containers keep running across Stop and Up.
package dockerd
