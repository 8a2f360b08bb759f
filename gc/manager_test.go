package gc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

// fakePods is the loop's side of Pods for tests.
type fakePods struct {
	mu  sync.Mutex
	set PodSet
	err error
}

func (f *fakePods) PodsForGC(context.Context) (PodSet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.set, f.err
}

// sizeFS is an image file system of Capacity bytes holding Base bytes and
// the images present in the engine: it reports what removing them frees.
type sizeFS struct {
	engine   Engine
	Capacity int64
	Base     int64
}

func (s *sizeFS) used(ctx context.Context) (int64, error) {
	images, err := s.engine.ListImages(ctx)
	if err != nil {
		return 0, err
	}
	used := s.Base
	for _, im := range images {
		used += im.Size
	}
	return used, nil
}

func (s *sizeFS) ImageFSUsage(ctx context.Context) (FSUsage, error) {
	used, err := s.used(ctx)
	return FSUsage{Capacity: s.Capacity, Available: s.Capacity - used}, err
}

// recorder is a Reporter that keeps what it hears.
type recorder struct {
	mu      sync.Mutex
	removed []Removal
	passes  []Pass
}

func (r *recorder) Removed(x Removal) { r.mu.Lock(); r.removed = append(r.removed, x); r.mu.Unlock() }
func (r *recorder) PassDone(p Pass)   { r.mu.Lock(); r.passes = append(r.passes, p); r.mu.Unlock() }

// addContainer creates container name attempt n of pod uid in rt (with the
// instance label unless instance is empty), starts it and, unless running,
// lets it exit.
func addContainer(t *testing.T, rt *fake.Runtime, instance, uid, name string, n int, running bool) string {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{
		LabelPodUID: uid, LabelPodName: "pod-" + uid, LabelPodNamespace: "default",
		LabelContainerName: name, LabelAttempt: strconv.Itoa(n),
	}
	if instance != "" {
		labels[LabelInstance] = instance
	}
	if name == "POD" {
		labels[LabelDockerType] = TypeSandbox
	}
	id, err := rt.CreateContainer(ctx, runtime.ContainerSpec{Name: fmt.Sprintf("k8s_%s_pod-%s_default_%s_%d", name, uid, uid, n), Image: "busybox", Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if !running {
		if err := rt.Exit(id, 1); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func names(t *testing.T, rt *fake.Runtime) []string {
	t.Helper()
	list, err := rt.ListContainers(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range list {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

func newTestManager(t *testing.T, rt *fake.Runtime, pods *fakePods, fs ImageFS, rep Reporter, tweak func(*Config)) *Manager {
	t.Helper()
	cfg := Config{
		Engine: rt, Pods: pods, ImageFS: fs, Reporter: rep,
		RootDir: t.TempDir(), InstanceID: testInstance,
		Containers: DefaultContainerPolicy, Images: DefaultImagePolicy,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCollectContainers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := fake.New()
		rt.AddImage(runtime.Image{RepoTags: []string{"busybox"}})
		for n := 0; n < 20; n++ {
			addContainer(t, rt, testInstance, "a", "app", n, false)
			time.Sleep(time.Second)
		}
		addContainer(t, rt, testInstance, "a", "app", 20, true)
		addContainer(t, rt, testInstance, "a", "POD", 0, true)
		addContainer(t, rt, testInstance, "gone", "app", 0, false)
		addContainer(t, rt, testInstance, "gone", "POD", 0, false)
		addContainer(t, rt, "another-runner", "b", "app", 0, false)
		addContainer(t, rt, "another-runner", "b", "app", 1, false)
		addContainer(t, rt, "", "c", "app", 0, false)
		addContainer(t, rt, "", "c", "app", 1, false)

		pods := &fakePods{set: desired("a")}
		rep := &recorder{}
		m := newTestManager(t, rt, pods, &sizeFS{engine: rt, Capacity: 1 << 30}, rep, nil)
		p := m.CollectContainers(context.Background())
		if p.Err != nil || p.Failed != 0 {
			t.Fatalf("pass: %v, %d failed", p.Err, p.Failed)
		}
		if calls := len(rt.CallsOf("ListContainers")); calls != 1 {
			t.Errorf("%d lists, want 1", calls)
		}
		want := []string{
			"k8s_POD_pod-a_default_a_0", "k8s_app_pod-a_default_a_19", "k8s_app_pod-a_default_a_20",
			"k8s_app_pod-b_default_b_0", "k8s_app_pod-b_default_b_1",
			"k8s_app_pod-c_default_c_0", "k8s_app_pod-c_default_c_1",
		}
		if got := names(t, rt); !slices.Equal(got, want) {
			t.Errorf("left %v\nwant %v", got, want)
		}
		if len(p.Removed) != 21 || len(rep.removed) != 21 || len(rep.passes) != 1 {
			t.Errorf("removed %d, reported %d in %d passes; want 21 in 1", len(p.Removed), len(rep.removed), len(rep.passes))
		}
		// A second pass finds nothing more.
		if p := m.CollectContainers(context.Background()); len(p.Removed) != 0 || p.Err != nil {
			t.Errorf("second pass removed %v (%v)", ids(p.Removed), p.Err)
		}
	})
}

func TestCollectContainersFailures(t *testing.T) {
	rt := fake.New()
	rt.AddImage(runtime.Image{RepoTags: []string{"busybox"}})
	for n := 0; n < 4; n++ {
		addContainer(t, rt, testInstance, "a", "app", n, false)
	}
	pods := &fakePods{err: context.DeadlineExceeded}
	m := newTestManager(t, rt, pods, &sizeFS{engine: rt, Capacity: 1}, nil, nil)

	p := m.CollectContainers(context.Background())
	if !errors.Is(p.Err, context.DeadlineExceeded) || p.EventReason != ReasonContainerGCFailed || len(rt.CallsOf("RemoveContainer")) != 0 {
		t.Errorf("loop not answering: %v (%s), %d removals; want a failed pass that removes nothing", p.Err, p.EventReason, len(rt.CallsOf("RemoveContainer")))
	}

	pods.set, pods.err = desired("a"), nil
	rt.FailNext("RemoveContainer", runtime.ErrUnavailable)
	p = m.CollectContainers(context.Background())
	if !errors.Is(p.Err, runtime.ErrUnavailable) || p.Failed != 1 || len(rt.CallsOf("RemoveContainer")) != 1 {
		t.Errorf("engine down: %v, %d failed, %d calls; want the pass to stop at the first failure", p.Err, p.Failed, len(rt.CallsOf("RemoveContainer")))
	}
	rt.FailNext("RemoveContainer", errors.New("device busy"))
	p = m.CollectContainers(context.Background())
	if p.Failed != 1 || len(p.Removed) != 2 || p.EventReason != ReasonContainerGCFailed {
		t.Errorf("one removal failing: %d failed, %d removed (%v); want the others removed", p.Failed, len(p.Removed), p.Err)
	}

	rt.FailNext("ListContainers", runtime.ErrUnavailable)
	if p := m.CollectContainers(context.Background()); !errors.Is(p.Err, runtime.ErrUnavailable) {
		t.Errorf("list failing: %v", p.Err)
	}
}

// lruWorld is an engine with images i1..i4 of 60 bytes each on a 1000-byte
// file system, then 90% full; i4 is in use. i1 was last used an hour before
// i2, i3 never. It returns the engine, the file system and the manager.
func lruWorld(t *testing.T, tweak func(*Config)) (*fake.Runtime, *sizeFS, *Manager) {
	rt := fake.New()
	for i := 1; i <= 4; i++ {
		rt.AddImage(runtime.Image{ID: "sha256:" + strconv.Itoa(i), RepoTags: []string{"test/i" + strconv.Itoa(i) + ":1"}, Size: 60})
	}
	fs := &sizeFS{engine: rt, Capacity: 1000}
	m := newTestManager(t, rt, &fakePods{set: desired()}, fs, nil, tweak)
	use := func(ref string) string {
		id, err := rt.CreateContainer(context.Background(), runtime.ContainerSpec{Name: "user-of-" + ref[5:7], Image: ref})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	unuse := func(id string) {
		if err := rt.RemoveContainer(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	c1 := use("test/i1:1")
	m.CollectImages(context.Background()) // all detected, i1 used
	time.Sleep(time.Hour)
	unuse(c1)
	c2 := use("test/i2:1")
	m.CollectImages(context.Background()) // i2 used
	time.Sleep(time.Hour)
	unuse(c2)
	use("test/i4:1")
	if got := len(rt.CallsOf("RemoveImage")); got != 0 {
		t.Fatalf("%d removals with the file system nearly empty", got)
	}
	fs.Base = 900 - 4*60
	return rt, fs, m
}

func TestCollectImagesLRU(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, fs, m := lruWorld(t, nil)
		p := m.CollectImages(context.Background())
		// To get from 90% to under 80%, 100 bytes: i3 (never used), then i1.
		if got := ids(p.Removed); !slices.Equal(got, []string{"sha256:3", "sha256:1"}) {
			t.Errorf("removed %v, want [sha256:3 sha256:1]", got)
		}
		if p.Freed != 120 || p.Usage.UsedPercent() != 90 || p.Err != nil {
			t.Errorf("freed %d of usage %d%% (%v)", p.Freed, p.Usage.UsedPercent(), p.Err)
		}
		if used, _ := fs.used(context.Background()); used >= 800 {
			t.Errorf("used %d of 1000, want under 80%%", used)
		}
		images, _ := rt.ListImages(context.Background())
		var left []string
		for _, im := range images {
			left = append(left, im.ID)
		}
		slices.Sort(left)
		if !slices.Equal(left, []string{"sha256:2", "sha256:4"}) {
			t.Errorf("left %v, want the recently used one and the one in use", left)
		}
	})
}

// TestImageRecordsSurviveRestart: a new Manager on the same root directory
// knows when images were last used.
func TestImageRecordsSurviveRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var root string
		rt, fs, _ := lruWorld(t, func(c *Config) { root = c.RootDir })
		m2, err := New(Config{Engine: rt, Pods: &fakePods{}, ImageFS: fs, RootDir: root, InstanceID: testInstance,
			Containers: DefaultContainerPolicy, Images: DefaultImagePolicy})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(m2.CollectImages(context.Background()).Removed); !slices.Equal(got, []string{"sha256:3", "sha256:1"}) {
			t.Errorf("after a restart removed %v, want [sha256:3 sha256:1]", got)
		}
	})
}

func TestCollectImagesKeeps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := fake.New()
		for _, tag := range []string{"runner.local/pause:1.1", "etcd:3.5", "loaded:1", "free:1", "other-tool:1"} {
			rt.AddImage(runtime.Image{RepoTags: []string{tag}, Size: 10})
		}
		// Another tool's stopped container uses other-tool:1.
		if _, err := rt.CreateContainer(context.Background(), runtime.ContainerSpec{Name: "not-runners", Image: "other-tool:1"}); err != nil {
			t.Fatal(err)
		}
		m := newTestManager(t, rt, &fakePods{}, &sizeFS{engine: rt, Capacity: 100, Base: 50}, nil, func(c *Config) {
			c.Images = ImagePolicy{HighThresholdPercent: 1, LowThresholdPercent: 0}
			c.PauseImage = "runner.local/pause:1.1"
			c.PinnedImages = []string{"docker.io/library/etcd:3.5"}
			c.LoadedImages = func() []string { return []string{"loaded:1"} }
		})
		p := m.CollectImages(context.Background())
		if len(p.Removed) != 1 || p.Removed[0].Name != "free:1" {
			t.Errorf("removed %+v, want free:1 only", p.Removed)
		}
		if p.EventReason != ReasonFreeDiskSpaceFailed || p.Err == nil {
			t.Errorf("short of the target: %v (%s), want %s", p.Err, p.EventReason, ReasonFreeDiskSpaceFailed)
		}
	})
}

func TestReclaimDisk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, _, m := lruWorld(t, func(c *Config) { c.Images.HighThresholdPercent = 100 })
		rt.AddImage(runtime.Image{RepoTags: []string{"busybox"}})
		time.Sleep(time.Hour) // older than MinAge once detected
		m.CollectImages(context.Background())
		time.Sleep(time.Hour)
		addContainer(t, rt, testInstance, "gone", "app", 0, false)
		if err := m.ReclaimDisk(context.Background()); err != nil {
			t.Fatal(err)
		}
		images, _ := rt.ListImages(context.Background())
		if len(images) != 1 || images[0].ID != "sha256:4" {
			t.Errorf("left %+v, want only the image in use (busybox went with the gone pod's container)", images)
		}
		for _, n := range names(t, rt) {
			if n == "k8s_app_pod-gone_default_gone_0" {
				t.Error("the dead container of a gone pod stayed")
			}
		}
	})
}

func TestRunPeriods(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := fake.New()
		rep := &recorder{}
		m := newTestManager(t, rt, &fakePods{}, &sizeFS{engine: rt, Capacity: 100}, rep, func(c *Config) {
			c.ContainerPeriod, c.ImagePeriod = time.Minute, 5*time.Minute
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()
		time.Sleep(10*time.Minute + time.Second)
		synctest.Wait()
		cancel()
		<-done
		var containers, images int
		for _, p := range rep.passes {
			switch p.Kind {
			case PassContainers:
				containers++
			case PassImages:
				images++
			}
		}
		if containers != 10 || images != 2 {
			t.Errorf("in 10 minutes: %d container passes and %d image passes, want 10 and 2", containers, images)
		}
	})
}

func TestNewRefusesBadConfig(t *testing.T) {
	rt := fake.New()
	good := Config{Engine: rt, Pods: &fakePods{}, ImageFS: &sizeFS{engine: rt}, RootDir: t.TempDir(), InstanceID: "x", Images: DefaultImagePolicy}
	for name, tweak := range map[string]func(*Config){
		"no engine":      func(c *Config) { c.Engine = nil },
		"no instance":    func(c *Config) { c.InstanceID = "" },
		"bad thresholds": func(c *Config) { c.Images.LowThresholdPercent = 90 },
		"digest pinned":  func(c *Config) { c.PinnedImages = []string{"etcd@sha256:00"} },
	} {
		cfg := good
		tweak(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(good); err != nil {
		t.Errorf("good config: %v", err)
	}
}
