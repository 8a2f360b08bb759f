// Package pause is the program of runner's own pod sandbox image: it holds
// the pod's namespaces open, reaps the zombies of a shared PID namespace and
// exits 0 on SIGTERM or SIGINT. The image is imported from inside runner, so
// no registry is ever needed: from Binary (./cmd/pause, embedded by `make
// build`), or, in a plain `go build`, from the runner executable itself,
// whose main calls Main when started as /pause.
package pause

import (
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// Path is where the program lives in the image.
const Path = "/pause"

// Invoked reports whether this process was started as the pause program.
func Invoked() bool {
	return filepath.Base(os.Args[0]) == filepath.Base(Path)
}

// Main runs the pause program; it never returns.
func Main() { serve(nil) }

// serve is Main; ready, when set, is called once the signals are handled.
func serve(ready func()) {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	if ready != nil {
		ready()
	}
	for s := range sigs {
		if s == syscall.SIGCHLD {
			reap()
			continue
		}
		os.Exit(0)
	}
}

// reap collects every exited child.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
