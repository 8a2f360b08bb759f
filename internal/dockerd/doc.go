// Package dockerd runs a private Docker engine for tests and benchmarks that
// stop and start the engine under runner (issue 19's restart tests, the
// torture's Docker restarts, the engine restart benchmark), so that the
// machine's own dockerd and its containers are never touched.
//
// A Daemon lives in one directory of its own: its --data-root, --exec-root
// (where dockerd starts and keeps its own containerd, and runc its state),
// --pidfile, its unix socket and an empty configuration file, so that
// /etc/docker/daemon.json is never read. Its default network is a bridge of
// its own (rdk and 8 hex digits, an address in 10.231/16), made before it
// starts: not --bridge=none, with which dockerd deletes the host's docker0.
// It touches neither iptables nor the host's sysctls (--iptables=false,
// --ip-forward=false, --ip-masq=false): runner's pods get their network
// from runner's CNI bridge, which needs none of them. Close removes every
// container of the daemon, stops it, kills what a crash may have left of
// its processes (containerd, shims), unmounts what is still mounted below
// the directory, deletes its bridge and removes the directory.
//
// The daemon is stopped with SIGTERM as systemd stops dockerd; with
// LiveRestore the containers keep running across Stop and Up.
package dockerd
