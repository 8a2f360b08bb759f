package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	sdaemon "github.com/coreos/go-systemd/v22/daemon"
	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/runner"
)

// notifier speaks systemd's notify protocol (Type=notify units): READY=1
// once the loop has read every source and done its first sync, STATUS=
// with a one-line summary of the pods, WATCHDOG=1 while the loop answers
// (with WatchdogSec set), STOPPING=1 at the end. Without NOTIFY_SOCKET it
// sends nothing.
type notifier struct {
	log     *slog.Logger
	inSync  <-chan struct{}
	ping    func(ctx context.Context) error
	summary func() string
	// send delivers one message (sdaemon.SdNotify in the daemon).
	send func(state string) error
	// watchdog is systemd's WatchdogSec (0: off); the loop is pinged and
	// WATCHDOG=1 sent every half of it.
	watchdog    time.Duration
	statusEvery time.Duration
}

// newNotifier is the daemon's notifier for r, or nil when systemd did not
// start runner with a notify socket.
func newNotifier(log *slog.Logger, r *runner.Runner) (*notifier, error) {
	if sent, err := sdaemon.SdNotify(false, "STATUS=starting: reading the manifests"); err != nil || !sent {
		return nil, err
	}
	watchdog, err := sdaemon.SdWatchdogEnabled(false)
	if err != nil {
		return nil, fmt.Errorf("systemd watchdog: %w", err)
	}
	return &notifier{
		log: log, inSync: r.InSync(), ping: r.Ping,
		summary: func() string { return podSummary(r.Statuses().List()) },
		send: func(state string) error {
			_, err := sdaemon.SdNotify(false, state)
			return err
		},
		watchdog: watchdog, statusEvery: 10 * time.Second,
	}, nil
}

// start runs the notifier on a goroutine of its own until ctx ends; the
// returned stop waits for it (it sends STOPPING=1 on its way out).
func (n *notifier) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { n.run(ctx) })
	return func() {
		cancel()
		wg.Wait()
	}
}

func (n *notifier) run(ctx context.Context) {
	defer n.notify("STOPPING=1")
	select {
	case <-n.inSync:
	case <-ctx.Done():
		return
	}
	status := n.summary()
	n.notify("READY=1\nSTATUS=" + status)
	n.log.Info("told systemd runner is ready", "status", status, "watchdog", n.watchdog.String())
	statusTick := time.NewTicker(n.statusEvery)
	defer statusTick.Stop()
	var watchdog <-chan time.Time
	if n.watchdog > 0 {
		t := time.NewTicker(n.watchdog / 2)
		defer t.Stop()
		watchdog = t.C
		n.feed(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-statusTick.C:
			if s := n.summary(); s != status {
				status = s
				n.notify("STATUS=" + s)
			}
		case <-watchdog:
			n.feed(ctx)
		}
	}
}

// feed sends WATCHDOG=1 if the loop answers a ping within half the
// watchdog period: a stuck loop starves the watchdog, and systemd
// restarts runner (which restarts no pod).
func (n *notifier) feed(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, n.watchdog/2)
	defer cancel()
	if err := n.ping(pctx); err != nil {
		if ctx.Err() == nil {
			n.log.Warn("the reconcile loop did not answer; systemd's watchdog is not fed", "error", err)
		}
		return
	}
	n.notify("WATCHDOG=1")
}

func (n *notifier) notify(state string) {
	if err := n.send(state); err != nil {
		n.log.Warn("cannot notify systemd", "state", state, "error", err)
	}
}

// podSummary is the one line of STATUS=: how many pods run, and why the
// first that does not.
func podSummary(pods []*v1.Pod) string {
	running := 0
	var first string
	for _, p := range pods {
		if p.Status.Phase == v1.PodRunning || p.Status.Phase == v1.PodSucceeded {
			running++
			continue
		}
		if first == "" {
			first = p.Namespace + "/" + p.Name + ": " + whyNotRunning(p)
		}
	}
	s := fmt.Sprintf("%d/%d pods running", running, len(pods))
	if first != "" {
		s += " (" + first + ")"
	}
	return s
}

func whyNotRunning(p *v1.Pod) string {
	if p.Status.Reason != "" {
		return p.Status.Reason
	}
	for _, cs := range append(append([]v1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return w.Reason
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return t.Reason
		}
	}
	return strings.ToLower(string(p.Status.Phase))
}
