package probe

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	v1 "k8s.io/api/core/v1"
)

// slowProber takes the given time per attempt, in turn (the last repeats).
type slowProber struct {
	mu    sync.Mutex
	takes []time.Duration
}

func (p *slowProber) Probe(ctx context.Context, _ Target, _ *v1.ProbeHandler, _ time.Duration) Result {
	p.mu.Lock()
	d := p.takes[0]
	if len(p.takes) > 1 {
		p.takes = p.takes[1:]
	}
	p.mu.Unlock()
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	return Result{Outcome: Success}
}

// lockedBuffer is a log written by the workers and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) latencies() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, line := range strings.Split(b.buf.String(), "\n") {
		if _, l, ok := strings.Cut(line, " latency="); ok {
			out = append(out, l)
		}
	}
	return out
}

// TestAttemptLatencyLogged: each attempt's debug line says how long after
// it was due its result came: the attempt's own time, and, for an attempt
// that ran late because the one before it overran the period, the wait as
// well (counted from the tick it stands for).
func TestAttemptLatencyLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log lockedBuffer
		p := &slowProber{takes: []time.Duration{300 * time.Millisecond, 1500 * time.Millisecond, 100 * time.Millisecond}}
		m := New(Config{Prober: p, Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		m.jitter = func(time.Duration) time.Duration { return 0 }
		defer m.StopAll()
		m.Start(Container{Target: Target{ContainerID: "c"}, Liveness: probeSpec("liveness", 1, 0, 1, 3)})
		// Attempts: due 0s, done 0.3s; due 1s, done 2.5s; the tick of 2s
		// is taken at 2.5s: done 2.6s; due 3s, done 3.1s.
		time.Sleep(3200 * time.Millisecond)
		synctest.Wait()
		want := []string{"300ms", "1.5s", "600ms", "100ms"}
		if got := log.latencies(); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("latencies %q, want %q", got, want)
		}
	})
}
