package source

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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/manifest"
)

// scripted is a Source that sends what the test gives it.
type scripted struct {
	name string
	in   chan manifest.Snapshot
}

func newScripted(name string) *scripted {
	return &scripted{name: name, in: make(chan manifest.Snapshot)}
}

func (s *scripted) Name() string { return s.name }

func (s *scripted) Run(ctx context.Context, out chan<- manifest.Snapshot) error {
	for {
		select {
		case snap := <-s.in:
			select {
			case out <- snap:
			case <-ctx.Done():
				return nil
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// send hands snap to the source's Run.
func (s *scripted) send(t *testing.T, snap manifest.Snapshot) {
	t.Helper()
	select {
	case s.in <- snap:
	case <-time.After(waitFor):
		t.Fatal("the source's Run does not take snapshots")
	}
}

// fakePod is a desired pod ns/name (namespace default when none) from
// origin.
func fakePod(name, origin string) manifest.Pod {
	ns, n, ok := strings.Cut(name, "/")
	if !ok {
		ns, n = "default", name
	}
	return manifest.Pod{Origin: origin, Pod: &v1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: ns, Name: n, UID: types.UID(origin + "/" + name)}}}
}

func snapOf(source string, partial bool, pods ...manifest.Pod) manifest.Snapshot {
	return manifest.Snapshot{Source: source, Pods: pods, Partial: partial}
}

func TestUnite(t *testing.T) {
	const f, u = "/m/a.yaml", "http://h/pods"
	for _, c := range []struct {
		name      string
		prev      map[string]string // winners before
		latest    []manifest.Snapshot
		seen      []bool
		want      []string // origin of each pod, in order
		conflicts []string // files with a conflict problem
		partial   bool
		unsure    []string // PartialSources
	}{
		{name: "union, sorted", latest: []manifest.Snapshot{snapOf("file", false, fakePod("b", f)), snapOf("http", false, fakePod("a", u), fakePod("kube-system/c", u))},
			seen: []bool{true, true}, want: []string{"default/a " + u, "default/b " + f, "kube-system/c " + u}},
		{name: "a source not seen yet: Partial", latest: []manifest.Snapshot{snapOf("file", false, fakePod("b", f)), {}},
			seen: []bool{true, false}, want: []string{"default/b " + f}, partial: true, unsure: []string{"http"}},
		{name: "a Partial source: Partial", latest: []manifest.Snapshot{snapOf("file", true), snapOf("http", false)},
			seen: []bool{true, true}, partial: true, unsure: []string{"file"}},
		{name: "conflict, both new: the first source wins", latest: []manifest.Snapshot{snapOf("file", false, fakePod("x", f)), snapOf("http", false, fakePod("x", u))},
			seen: []bool{true, true}, want: []string{"default/x " + f}, conflicts: []string{u}},
		{name: "conflict: the pod desired first stays", prev: map[string]string{"default/x": u},
			latest: []manifest.Snapshot{snapOf("file", false, fakePod("x", f)), snapOf("http", false, fakePod("x", u))},
			seen:   []bool{true, true}, want: []string{"default/x " + u}, conflicts: []string{f}},
		{name: "the winner gone: the other takes over", prev: map[string]string{"default/x": f},
			latest: []manifest.Snapshot{snapOf("file", false), snapOf("http", false, fakePod("x", u))},
			seen:   []bool{true, true}, want: []string{"default/x " + u}},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := uniter{winners: c.prev}
			sources := []Source{newScripted("file"), newScripted("http")}
			got := u.unite(sources, c.latest, c.seen, slog.New(slog.DiscardHandler))
			var origins []string
			for _, p := range got.Pods {
				origins = append(origins, p.Pod.Namespace+"/"+p.Pod.Name+" "+p.Origin)
			}
			if strings.Join(origins, ",") != strings.Join(c.want, ",") || got.Partial != c.partial ||
				fmt.Sprint(got.PartialSources) != fmt.Sprint(c.unsure) || got.Source != "file+http" {
				t.Fatalf("pods %v partial %v %v source %q; want %v partial %v %v", origins, got.Partial, got.PartialSources, got.Source,
					c.want, c.partial, c.unsure)
			}
			var files []string
			for _, p := range got.Problems {
				files = append(files, p.File)
			}
			if strings.Join(files, ",") != strings.Join(c.conflicts, ",") {
				t.Fatalf("problems %v, want conflicts on %v", got.Problems, c.conflicts)
			}
		})
	}
}

func startMerge(t *testing.T, cfg MergeConfig) *harness {
	t.Helper()
	h := newHarness(t)
	cfg.Logger = h.logger()
	h.run(NewMerge(cfg))
	return h
}

// The merge waits for every source's first snapshot, up to SyncTimeout:
// then it goes on with the others, Partial, so that a source that never
// answers cannot hold their pods back.
func TestMergeSyncTimeout(t *testing.T) {
	t.Parallel()
	a, b := newScripted("file"), newScripted("http")
	start := time.Now() // before Run starts its timer
	h := startMerge(t, MergeConfig{Sources: []Source{a, b}, SyncTimeout: 200 * time.Millisecond})
	a.send(t, snapOf("file", false, fakePod("x", "/m/x.yaml")))
	s := h.awaitPods("x")
	if waited := time.Since(start); !s.Partial || waited < 200*time.Millisecond || !s.Unsure("http") || s.Unsure("file") {
		t.Fatalf("sent after %v partial %v %v; want Partial for http only, after the sync timeout", waited, s.Partial, s.PartialSources)
	}
	if n := len(h.snapshots()); n != 1 {
		t.Fatalf("%d snapshots before b answered, want 1:\n%s", n, h.dump())
	}
	if n := h.logs.count("not every manifest source answered in time"); n != 1 {
		t.Fatalf("the timeout logged %d times", n)
	}
	b.send(t, snapOf("http", false, fakePod("y", "http://h/p")))
	if s := h.awaitPods("x", "y"); s.Partial || s.Source != "file+http" {
		t.Fatalf("once b answered: partial %v source %q", s.Partial, s.Source)
	}
}

// With every source answering in time, the first merged snapshot is
// complete: there is none before.
func TestMergeWaitsForEverySource(t *testing.T) {
	t.Parallel()
	a, b := newScripted("file"), newScripted("http")
	h := startMerge(t, MergeConfig{Sources: []Source{a, b}, SyncTimeout: time.Hour})
	a.send(t, snapOf("file", false, fakePod("x", "/m/x.yaml")))
	b.send(t, snapOf("http", false))
	s := h.awaitPods("x")
	if s.Partial || len(h.snapshots()) != 1 {
		t.Fatalf("partial %v after %d snapshots:\n%s", s.Partial, len(h.snapshots()), h.dump())
	}
	// Nothing new: nothing sent.
	b.send(t, snapOf("http", false))
	a.send(t, snapOf("file", false, fakePod("x", "/m/x.yaml"), fakePod("z", "/m/z.yaml")))
	h.awaitPods("x", "z")
	if n := len(h.snapshots()); n != 2 {
		t.Fatalf("%d snapshots, want 2:\n%s", n, h.dump())
	}
}

// A file and the URL define the same pod: the one desired first stays, the
// other is a problem naming both, logged once.
func TestMergeFileURLConflict(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "x.yaml")
	doc := podDoc("x", "file")
	write(t, file, doc)
	srv := newManifestServer(t, podDoc("x", "url")+"---\n"+podDoc("w", "url"))
	logs := newHarness(t)
	fileSrc := NewFile(FileConfig{Path: dir, Options: manifest.Options{NodeName: "node1"}, Logger: logs.logger(), Debounce: 20 * time.Millisecond})
	urlSrc, err := NewHTTP(HTTPConfig{URL: srv.url(), Interval: 20 * time.Millisecond, Options: manifest.Options{NodeName: "node1"}, Logger: logs.logger()})
	must(t, err)
	h := startMerge(t, MergeConfig{Sources: []Source{fileSrc, urlSrc}})

	s := h.awaitPods("edge/x-node1", "edge/w-node1")
	if x := podNamed(s, "x-node1"); x.Origin != file || s.Partial {
		t.Fatalf("x from %s (partial %v), want the file: the first source", x.Origin, s.Partial)
	}
	if !hasProblem(s, srv.url(), "pod edge/x-node1 is already desired from "+file) {
		t.Fatalf("problems %v", s.Problems)
	}
	h.awaitCond("polls", func() bool { return srv.polls() >= 5 })
	if n := h.logs.count("conflicting manifest sources"); n != 1 {
		t.Fatalf("the conflict logged %d times:\n%s", n, h.logs)
	}

	// The file goes: the URL's x takes over. The file comes back: x stays
	// with the URL, desired first now.
	must(t, os.Remove(file))
	s = h.await("x from the URL", func(s manifest.Snapshot) bool {
		x := podNamed(s, "x-node1")
		return x != nil && x.Origin == srv.url() && len(s.Problems) == 0
	})
	write(t, file, doc)
	s = h.await("the conflict on the file", func(s manifest.Snapshot) bool { return hasProblem(s, file, srv.url()) })
	if x := podNamed(s, "x-node1"); x.Origin != srv.url() {
		t.Fatalf("x moved back to %s", x.Origin)
	}
}

// Once reads every source once: the file, and the URL or (down) its
// checkpoint.
func TestMergeOnce(t *testing.T) {
	t.Parallel()
	dir, root := t.TempDir(), t.TempDir()
	write(t, filepath.Join(dir, "f.yaml"), podDoc("f", "1"))
	srv := newManifestServer(t, podDoc("u", "1"))
	opts := manifest.Options{NodeName: "node1"}
	newMerge := func() *Merge {
		fileSrc := NewFile(FileConfig{Path: dir, RootDir: root, Options: opts})
		urlSrc, err := NewHTTP(HTTPConfig{URL: srv.url(), RootDir: root, Options: opts})
		must(t, err)
		return NewMerge(MergeConfig{Sources: []Source{fileSrc, urlSrc}})
	}
	once := func(m *Merge) manifest.Snapshot {
		t.Helper()
		h := newHarness(t)
		h.run(m.Once())
		s := h.await("one snapshot", func(manifest.Snapshot) bool { return true })
		h.stop()
		return s
	}
	s := once(newMerge())
	if got := fmt.Sprint(podNames(s)); got != "[edge/f-node1 edge/u-node1]" || s.Partial {
		t.Fatalf("once: %s partial %v", got, s.Partial)
	}
	srv.stop()
	s = once(newMerge())
	if got := fmt.Sprint(podNames(s)); got != "[edge/f-node1 edge/u-node1]" || s.Partial || podNamed(s, "u-node1").Version.From != manifest.VersionCheckpoint {
		t.Fatalf("once with the URL down: %s partial %v", describe(&s), s.Partial)
	}
}
