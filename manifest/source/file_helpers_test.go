package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/manifest"
)

const waitFor = 10 * time.Second

// TestMain fails the package when any Run or fsnotify goroutine outlives
// the tests.
func TestMain(m *testing.M) {
	if os.Getenv(benchServerEnv) != "" {
		os.Exit(serveBenchManifest()) // BenchmarkURLPollUnchanged's server
	}
	code := m.Run()
	if code == 0 {
		if leaked := awaitNoSourceGoroutines(3 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "leaked goroutines:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// awaitNoSourceGoroutines polls until no goroutine runs a source (File,
// HTTP, Merge), the fsnotify reader or an HTTP client connection, and
// returns their stacks when the deadline passes first.
func awaitNoSourceGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var bad []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "source.(*File).Run") || strings.Contains(g, "fsnotify.(*inotify).readEvents") ||
				strings.Contains(g, "source.(*HTTP).Run") || strings.Contains(g, "source.(*Merge).") ||
				strings.Contains(g, "net/http.(*persistConn)") {
				bad = append(bad, g)
			}
		}
		if len(bad) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(bad, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fakeLoader reads a trivial manifest format: one pod per non-empty line,
// "name: NAME [anything]" or "name: NS/NAME [anything]". The UID hashes
// the path and the line (like the real loader hashes source, file and the
// pod's bytes); any other line is a problem, and then no pod is returned.
type fakeLoader struct {
	mu    sync.Mutex
	loads map[string]int
}

func newFakeLoader() *fakeLoader { return &fakeLoader{loads: map[string]int{}} }

func (f *fakeLoader) load(path string, data []byte, opts manifest.Options) ([]*v1.Pod, manifest.Problems) {
	f.mu.Lock()
	f.loads[path]++
	f.mu.Unlock()
	var pods []*v1.Pod
	var problems manifest.Problems
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		rest, ok := strings.CutPrefix(line, "name: ")
		fields := strings.Fields(rest)
		if !ok || len(fields) == 0 {
			problems = append(problems, manifest.Problem{File: path, Line: i + 1, Message: `want "name: NAME"`})
			continue
		}
		ns, name, found := strings.Cut(fields[0], "/")
		if !found {
			ns, name = "default", fields[0]
		}
		sum := sha256.Sum256([]byte(path + "\x00" + line))
		pods = append(pods, &v1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns, UID: types.UID(hex.EncodeToString(sum[:16])),
			Annotations: map[string]string{
				manifest.AnnotationConfigSeen: opts.Now().Format(time.RFC3339Nano),
			},
		}})
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return pods, nil
}

func (f *fakeLoader) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loads[path]
}

// logBuffer is a concurrency-safe sink for a text slog handler.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) count(s string) int { return strings.Count(b.String(), s) }

// harness runs a File source for one test and records every snapshot.
type harness struct {
	t      *testing.T
	loader *fakeLoader
	logs   *logBuffer

	mu      sync.Mutex
	history []manifest.Snapshot
	changed chan struct{} // closed and replaced on every snapshot
	// stop ends Run and joins it, as a stop of runner does; the test's
	// cleanup calls it too.
	stop func()
}

// start runs a File source on cfg (Load defaults to a fake loader, Debounce
// to 20ms, Interval to an hour) until the test ends.
func start(t *testing.T, cfg FileConfig) *harness {
	t.Helper()
	h := newHarness(t)
	if cfg.Load == nil {
		cfg.Load = h.loader.load
	}
	if cfg.Debounce == 0 {
		cfg.Debounce = 20 * time.Millisecond
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Hour
	}
	cfg.Logger = h.logger()
	h.run(NewFile(cfg))
	return h
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, loader: newFakeLoader(), logs: &logBuffer{}, changed: make(chan struct{})}
}

// logger logs everything into h.logs.
func (h *harness) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// run runs src until h.stop or the end of the test, recording every
// snapshot.
func (h *harness) run(src Source) {
	t := h.t
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan manifest.Snapshot)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, out) }()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case s := <-out:
				h.mu.Lock()
				h.history = append(h.history, s)
				close(h.changed)
				h.changed = make(chan struct{})
				h.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	})
	h.stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return after cancel")
		}
		wg.Wait()
	})
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			t.Logf("snapshots:\n%s\nlogs:\n%s", h.dump(), h.logs)
		}
	})
}

// await waits until the newest snapshot satisfies cond and returns it.
func (h *harness) await(what string, cond func(manifest.Snapshot) bool) manifest.Snapshot {
	h.t.Helper()
	deadline := time.After(waitFor)
	for {
		h.mu.Lock()
		ch := h.changed
		var last *manifest.Snapshot
		if n := len(h.history); n > 0 {
			last = &h.history[n-1]
		}
		h.mu.Unlock()
		if last != nil && cond(*last) {
			return *last
		}
		select {
		case <-ch:
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s; last snapshot: %s", what, describe(last))
		}
	}
}

// awaitPods waits until the newest snapshot has exactly the pods want
// (names as "ns/name", or "name" for namespace default, in any order).
func (h *harness) awaitPods(want ...string) manifest.Snapshot {
	h.t.Helper()
	return h.await(fmt.Sprintf("pods %v", want), func(s manifest.Snapshot) bool {
		return slices.Equal(podNames(s), sortedNames(want))
	})
}

// awaitCond polls cond (for state outside snapshots, like load counts).
func (h *harness) awaitCond(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) snapshots() []manifest.Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.history)
}

func (h *harness) dump() string {
	var b strings.Builder
	for i, s := range h.snapshots() {
		fmt.Fprintf(&b, "%d: %s\n", i, describe(&s))
	}
	return b.String()
}

func describe(s *manifest.Snapshot) string {
	if s == nil {
		return "none"
	}
	var parts []string
	for _, p := range s.Pods {
		parts = append(parts, fmt.Sprintf("%s/%s uid=%.8s from %s", p.Pod.Namespace, p.Pod.Name, p.Pod.UID, p.Origin))
	}
	return fmt.Sprintf("source=%s pods=[%s] problems=%q", s.Source, strings.Join(parts, ", "), s.Problems.Error())
}

func podNames(s manifest.Snapshot) []string {
	var names []string
	for _, p := range s.Pods {
		names = append(names, p.Pod.Namespace+"/"+p.Pod.Name)
	}
	return names
}

func sortedNames(want []string) []string {
	out := []string{}
	for _, w := range want {
		if !strings.Contains(w, "/") {
			w = "default/" + w
		}
		out = append(out, w)
	}
	slices.Sort(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

// pod returns the pod named name (namespace default) of s, or nil.
func pod(s manifest.Snapshot, name string) *manifest.Pod {
	for i := range s.Pods {
		if s.Pods[i].Pod.Namespace == "default" && s.Pods[i].Pod.Name == name {
			return &s.Pods[i]
		}
	}
	return nil
}

func hasProblem(s manifest.Snapshot, file, text string) bool {
	for _, p := range s.Problems {
		if p.File == file && strings.Contains(p.Message, text) {
			return true
		}
	}
	return false
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
