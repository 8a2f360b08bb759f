package source

// Benchmarks of the file source's snapshot diff: sameSnapshot (is a new
// snapshot worth sending?), keepUnchanged (a re-read file keeps its pod
// objects), a rescan of an unchanged directory (the --file-check-frequency
// safety net), and the source's share of runner's reaction to a write.
// `make bench` runs these and reports ns/op.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/runner-dev/runner/manifest"
)

var benchSizes = []int{10, 100, 1000}

// benchPod is a one-container pod manifest named bench-<i>.
func benchPod(i int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: bench-%d, namespace: default}
spec:
  containers:
  - name: app
    image: runner.local/busybox:test
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
`, i)
}

// benchLoadAt loads data with config.seen stamped at seen.
func benchLoadAt(b *testing.B, file string, data []byte, seen time.Time) []*v1.Pod {
	b.Helper()
	pods, problems := manifest.Load(file, data, manifest.Options{
		NodeName: "node", Source: manifest.SourceFile, Now: func() time.Time { return seen },
	})
	if len(problems) > 0 {
		b.Fatalf("Load %s: %v", file, problems)
	}
	return pods
}

// benchPodList is a v1 List of n pods in one file.
func benchPodList(n int) []byte {
	var sb strings.Builder
	sb.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for i := range n {
		for j, line := range strings.Split(strings.TrimSpace(benchPod(i)), "\n") {
			if j == 0 {
				sb.WriteString("- " + line + "\n")
			} else {
				sb.WriteString("  " + line + "\n")
			}
		}
	}
	return []byte(sb.String())
}

// BenchmarkSameSnapshot compares two snapshots of n pods that are the same:
// the worst case, every pod compared. One op is one comparison.
func BenchmarkSameSnapshot(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			seen := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
			var a manifest.Snapshot
			for i := range n {
				file := fmt.Sprintf("/m/bench-%d.yaml", i)
				for _, p := range benchLoadAt(b, file, []byte(benchPod(i)), seen) {
					a.Pods = append(a.Pods, manifest.Pod{Pod: p, Origin: file})
				}
			}
			c := a
			c.Pods = append([]manifest.Pod(nil), a.Pods...)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if !sameSnapshot(a, c) {
					b.Fatal("equal snapshots compared as different")
				}
			}
		})
	}
}

// BenchmarkKeepUnchanged is the diff of a re-read file of n pods (a v1
// List) against what it defined before: same content, new config.seen. One
// op is one re-read file's diff, parse excluded.
func BenchmarkKeepUnchanged(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			data := benchPodList(n)
			old := benchLoadAt(b, "/m/list.yaml", data, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
			fresh := benchLoadAt(b, "/m/list.yaml", data, time.Date(2025, 1, 2, 3, 5, 5, 0, time.UTC))
			if len(old) != n || len(fresh) != n {
				b.Fatalf("loaded %d and %d pods, want %d", len(old), len(fresh), n)
			}
			work := make([]*v1.Pod, n)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				copy(work, fresh)
				got := keepUnchanged(old, work)
				if got[n-1] != old[n-1] {
					b.Fatal("an unchanged pod was not kept")
				}
			}
		})
	}
}

// BenchmarkRescan is the periodic rescan of a directory of n unchanged
// manifest files: stat every file, read none, rebuild the snapshot. One op
// is one rescan.
func BenchmarkRescan(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			for i := range n {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("bench-%d.yaml", i)), []byte(benchPod(i)), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			f := NewFile(FileConfig{Path: dir, Options: manifest.Options{NodeName: "node"}, Logger: slog.New(slog.DiscardHandler)})
			s := newScanner(f.cfg, f.cfg.Logger)
			first := s.scan(nil, false)
			if len(first.Pods) != n || len(first.Problems) != 0 {
				b.Fatalf("first scan: %d pods, problems %v", len(first.Pods), first.Problems)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if snap := s.scan(nil, false); !sameSnapshot(snap, first) {
					b.Fatal("a rescan of unchanged files changed the snapshot")
				}
			}
		})
	}
}

// BenchmarkWriteToSnapshot is the source's share of runner's reaction: a
// manifest is written (temp file, rename) into a watched directory and the
// time runs until Run sends the snapshot that holds its pod. With the
// default debounce and with a short one, to show what the debounce costs.
func BenchmarkWriteToSnapshot(b *testing.B) {
	for _, debounce := range []time.Duration{0, 10 * time.Millisecond} {
		name := "debounce=default"
		if debounce != 0 {
			name = "debounce=" + debounce.String()
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			f := NewFile(FileConfig{Path: dir, Debounce: debounce, Interval: time.Hour,
				Options: manifest.Options{NodeName: "node"}, Logger: slog.New(slog.DiscardHandler)})
			ctx, cancel := context.WithCancel(context.Background())
			out := make(chan manifest.Snapshot)
			done := make(chan error, 1)
			go func() { done <- f.Run(ctx, out) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					b.Errorf("Run: %v", err)
				}
			}()
			<-out // the first scan, empty
			i := 0
			for b.Loop() {
				tmp := filepath.Join(dir, fmt.Sprintf(".bench-%d.tmp", i))
				if err := os.WriteFile(tmp, []byte(benchPod(i)), 0o644); err != nil {
					b.Fatal(err)
				}
				if err := os.Rename(tmp, filepath.Join(dir, fmt.Sprintf("bench-%d.yaml", i))); err != nil {
					b.Fatal(err)
				}
				want := fmt.Sprintf("bench-%d-node", i)
				for found := false; !found; {
					select {
					case snap := <-out:
						for _, p := range snap.Pods {
							found = found || p.Pod.Name == want
						}
					case <-time.After(10 * time.Second):
						b.Fatalf("no snapshot with %s", want)
					}
				}
				i++
			}
		})
	}
}
