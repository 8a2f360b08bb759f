package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/runner-dev/runner/manifest"
	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// listenNotify is a test NOTIFY_SOCKET: it returns a function that waits
// for the next message.
func listenNotify(t *testing.T) func() string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notify message: %v", err)
		}
		return string(buf[:n])
	}
}

// TestSystemdNotifyReadyThenWatchdog: the real loop over the fake engine;
// READY=1 comes once the first snapshot is synced, then WATCHDOG=1 every
// half of WatchdogSec, then STOPPING=1.
func TestSystemdNotifyReadyThenWatchdog(t *testing.T) {
	next := listenNotify(t)
	t.Setenv("WATCHDOG_USEC", "100000") // 100 ms
	r, err := runner.New(runner.Config{Runtime: fake.New(), RootDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := newNotifier(slog.New(slog.NewTextHandler(io.Discard, nil)), r)
	if err != nil || n == nil {
		t.Fatalf("newNotifier = %v, %v", n, err)
	}
	if n.watchdog != 100*time.Millisecond {
		t.Errorf("watchdog %v, want 100ms from WATCHDOG_USEC", n.watchdog)
	}
	if got := next(); !strings.HasPrefix(got, "STATUS=starting") {
		t.Errorf("first message %q, want STATUS=starting...", got)
	}
	stop := n.start(ctx)
	snaps := make(chan manifest.Snapshot, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := r.Run(ctx, snaps); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	snaps <- manifest.Snapshot{Source: manifest.SourceFile}
	if got := next(); got != "READY=1\nSTATUS=0/0 pods running" {
		t.Errorf("message %q, want READY=1 with the status", got)
	}
	for range 3 {
		if got := next(); got != "WATCHDOG=1" {
			t.Errorf("message %q, want WATCHDOG=1", got)
		}
	}
	stop()
	var last string
	for last != "STOPPING=1" {
		last = next() // a WATCHDOG=1 may come first
		if last != "STOPPING=1" && last != "WATCHDOG=1" {
			t.Fatalf("message %q, want STOPPING=1", last)
		}
	}
	cancel()
	wg.Wait()
}

// TestSystemdNoSocket: without NOTIFY_SOCKET there is no notifier.
func TestSystemdNoSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	r, err := runner.New(runner.Config{Runtime: fake.New(), RootDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := newNotifier(slog.New(slog.DiscardHandler), r); n != nil || err != nil {
		t.Errorf("newNotifier = %v, %v; want none", n, err)
	}
}

// TestSystemdWatchdogStarvesWhenLoopStuck: while the loop does not answer
// its pings, no WATCHDOG=1 is sent (systemd then restarts runner); once it
// answers again, the watchdog is fed again. Virtual time.
func TestSystemdWatchdogStarvesWhenLoopStuck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var sent []string
		stuck := true
		inSync := make(chan struct{})
		close(inSync)
		n := &notifier{
			log: slog.New(slog.DiscardHandler), inSync: inSync,
			ping: func(ctx context.Context) error {
				mu.Lock()
				s := stuck
				mu.Unlock()
				if s {
					<-ctx.Done()
					return ctx.Err()
				}
				return nil
			},
			summary: func() string { return "1/1 pods running" },
			send: func(state string) error {
				mu.Lock()
				defer mu.Unlock()
				sent = append(sent, state)
				return nil
			},
			watchdog: 10 * time.Second, statusEvery: time.Hour,
		}
		stop := n.start(context.Background())
		time.Sleep(time.Minute)
		synctest.Wait()
		mu.Lock()
		if !slices.Equal(sent, []string{"READY=1\nSTATUS=1/1 pods running"}) {
			t.Errorf("sent %q while the loop was stuck, want READY only", sent)
		}
		stuck = false
		mu.Unlock()
		time.Sleep(11 * time.Second)
		stop()
		mu.Lock()
		defer mu.Unlock()
		if got := slices.Index(sent, "WATCHDOG=1"); got < 0 {
			t.Errorf("sent %q after the loop answered again, want WATCHDOG=1", sent)
		}
		if sent[len(sent)-1] != "STOPPING=1" {
			t.Errorf("last message %q, want STOPPING=1", sent[len(sent)-1])
		}
	})
}

func TestPodSummary(t *testing.T) {
	pod := func(name string, phase v1.PodPhase, waiting string) *v1.Pod {
		p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Status: v1.PodStatus{Phase: phase}}
		if waiting != "" {
			p.Status.ContainerStatuses = []v1.ContainerStatus{{State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: waiting}}}}
		}
		return p
	}
	for _, tc := range []struct {
		pods []*v1.Pod
		want string
	}{
		{nil, "0/0 pods running"},
		{[]*v1.Pod{pod("a", v1.PodRunning, ""), pod("b", v1.PodSucceeded, "")}, "2/2 pods running"},
		{[]*v1.Pod{pod("a", v1.PodRunning, ""), pod("b", v1.PodPending, "ImagePullBackOff"), pod("c", v1.PodPending, "")}, "1/3 pods running (ns/b: ImagePullBackOff)"},
	} {
		if got := podSummary(tc.pods); got != tc.want {
			t.Errorf("podSummary = %q, want %q", got, tc.want)
		}
	}
}
