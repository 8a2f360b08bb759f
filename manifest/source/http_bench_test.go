package source

// Benchmarks of the HTTP source: how long a change of the URL takes to
// come out as a snapshot at --http-check-frequency 1s, and what polling an
// unchanged URL (a 304 every second) costs in CPU. `make bench` runs them
// (runner/bench lists them by name).

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runner-dev/runner/manifest"
)

// BenchmarkURLChangeToSnapshot changes the URL's body at evenly spread
// moments of the 1 s poll period and measures until Run sends the snapshot
// with the new pod: p50 and p99 over the samples of one op, and the
// source's own share (from the request that brought the new body to the
// snapshot). One op is the whole set of samples (about 1 s each).
func BenchmarkURLChangeToSnapshot(b *testing.B) {
	const samples = 20
	const interval = time.Second
	var (
		mu       sync.Mutex
		body     = benchPod(0)
		servedAt time.Time // when the newest body was first served
		version  = 0
		lastSeen = -1
	)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		data, v := body, version
		if v != lastSeen {
			lastSeen, servedAt = v, time.Now()
		}
		mu.Unlock()
		etag := fmt.Sprintf(`"%d"`, v)
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = io.WriteString(w, data)
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	src, err := NewHTTP(HTTPConfig{URL: "http://" + l.Addr().String() + "/pods", Interval: interval,
		Options: manifest.Options{NodeName: "node"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan manifest.Snapshot)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, out) }()
	defer func() {
		cancel()
		<-done
	}()
	<-out // the first poll
	for b.Loop() {
		var total, own []time.Duration
		for i := range samples {
			// Snapshots come right after a poll: wait into the period.
			time.Sleep(interval * time.Duration(2*i+1) / (2 * samples))
			mu.Lock()
			version++
			body = benchPod(version)
			changed := time.Now()
			mu.Unlock()
			want := fmt.Sprintf("bench-%d-node", version)
			for found := false; !found; {
				select {
				case snap := <-out:
					found = len(snap.Pods) == 1 && snap.Pods[0].Pod.Name == want
				case <-time.After(10 * interval):
					b.Fatalf("no snapshot with %s", want)
				}
			}
			now := time.Now()
			mu.Lock()
			total = append(total, now.Sub(changed))
			own = append(own, now.Sub(servedAt))
			mu.Unlock()
		}
		slices.Sort(total)
		slices.Sort(own)
		b.ReportMetric(float64(percentile(total, 50).Microseconds())/1e3, "p50-ms")
		b.ReportMetric(float64(percentile(total, 99).Microseconds())/1e3, "p99-ms")
		b.ReportMetric(float64(percentile(own, 50).Microseconds()), "fetch-to-snapshot-p50-us")
	}
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

// BenchmarkURLPollUnchanged is one poll of an unchanged URL: a conditional
// GET answered 304 (over a kept-alive connection), then the check that
// nothing changed. The server is another process, so the CPU measured
// (user + system of this process, per poll) is the source's alone: at
// --http-check-frequency 1s, cpu-ns/poll is the CPU it costs per second.
func BenchmarkURLPollUnchanged(b *testing.B) {
	addr, stop := startBenchServerProcess(b)
	defer stop()
	src, err := NewHTTP(HTTPConfig{URL: "http://" + addr + "/pods", Options: manifest.Options{NodeName: "node"},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer src.closeIdle()
	ctx := context.Background()
	st := newHTTPState(src, src.cfg.Logger)
	if !st.apply(src.fetch(ctx, "", "")) {
		b.Fatalf("first poll: %v", st.problems)
	}
	first := st.snapshot()
	if len(first.Pods) != 1 {
		b.Fatalf("first poll: %d pods", len(first.Pods))
	}
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	for b.Loop() {
		res := src.fetch(ctx, st.etag, st.lastModified)
		if !res.notModified || !st.apply(res) {
			b.Fatalf("poll: not a 304 (%v)", res.err)
		}
		if !sameSnapshot(st.snapshot(), first) {
			b.Fatal("a 304 changed the snapshot")
		}
	}
	b.StopTimer()
	perPoll := float64(processCPU(b)-cpu0) / float64(b.N)
	b.ReportMetric(perPoll, "cpu-ns/poll")
	b.ReportMetric(perPoll/1e9*100, "cpu-%-at-1s")
}

// processCPU is this process' user and system CPU time, in ns.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchServerEnv makes the test binary a manifest server (see TestMain).
const benchServerEnv = "RUNNER_SOURCE_BENCH_SERVER"

// startBenchServerProcess runs the test binary as a manifest server on
// 127.0.0.1 and returns its address; stop ends it.
func startBenchServerProcess(b *testing.B) (addr string, stop func()) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchServerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop = func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		b.Fatalf("bench server: %v", err)
	}
	return strings.TrimSpace(line), stop
}

// serveBenchManifest is the bench server process: one pod with an ETag on
// 127.0.0.1, its address on stdout, until stdin closes.
func serveBenchManifest() int {
	body := benchPod(0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = io.WriteString(w, body)
	})}
	go func() { _ = srv.Serve(l) }()
	fmt.Println(l.Addr().String())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	return 0
}
