package fake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/runner-dev/runner/runner/runtime"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newClocked(t *testing.T) (*Runtime, *clock) {
	t.Helper()
	clk := &clock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	f := newTestFake(t)
	f.Now = clk.Now
	return f, clk
}

func mustCreate(t *testing.T, f *Runtime, spec runtime.ContainerSpec) string {
	t.Helper()
	if spec.Image == "" {
		spec.Image = testImage
	}
	id, err := f.CreateContainer(context.Background(), spec)
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	return id
}

func mustStart(t *testing.T, f *Runtime, spec runtime.ContainerSpec) string {
	t.Helper()
	id := mustCreate(t, f, spec)
	if err := f.StartContainer(context.Background(), id); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	return id
}

func TestCallsAreRecorded(t *testing.T) {
	f := newTestFake(t)
	ctx := context.Background()
	id := mustCreate(t, f, runtime.ContainerSpec{Name: "aa"})
	f.StartContainer(ctx, "aa")
	f.ListContainers(ctx, map[string]string{"b": "2", "a": "1"})
	f.StopContainer(ctx, id, time.Second)
	f.PullImage(ctx, "busybox", runtime.PullOptions{})
	want := []Call{
		{"CreateContainer", "aa"}, {"StartContainer", "aa"}, {"ListContainers", "a=1,b=2"},
		{"StopContainer", id}, {"PullImage", "busybox"},
	}
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Errorf("Calls() = %v, want %v", got, want)
	}
	if got := f.CallsOf("StartContainer"); len(got) != 1 || got[0].Arg != "aa" {
		t.Errorf("CallsOf(StartContainer) = %v", got)
	}
}

func TestFailNextIsOneShot(t *testing.T) {
	f := newTestFake(t)
	ctx := context.Background()
	id := mustCreate(t, f, runtime.ContainerSpec{Name: "aa"})
	boom := errors.New("boom")
	f.FailNext("StartContainer", boom)
	if err := f.StartContainer(ctx, id); !errors.Is(err, boom) {
		t.Fatalf("first StartContainer = %v, want boom", err)
	}
	if c, _ := f.InspectContainer(ctx, id); c.State != runtime.StateCreated {
		t.Errorf("a failed start changed the state to %v", c.State)
	}
	if err := f.StartContainer(ctx, id); err != nil {
		t.Fatalf("second StartContainer = %v, want success", err)
	}
	if n := len(f.CallsOf("StartContainer")); n != 2 {
		t.Errorf("%d StartContainer calls recorded, want 2 (the failed one too)", n)
	}
}

func TestFailNextUnknownMethodPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("FailNext(\"StartContainers\") did not panic")
		}
	}()
	New().FailNext("StartContainers", errors.New("x"))
}

func TestFailNextEvents(t *testing.T) {
	f := newTestFake(t)
	boom := errors.New("boom")
	f.FailNext("Events", boom)
	events, errs := f.Events(context.Background(), nil)
	if err := <-errs; !errors.Is(err, boom) {
		t.Errorf("Events error %v, want boom", err)
	}
	if _, ok := <-events; ok {
		t.Errorf("event channel open after the error")
	}
}

func TestStopAndKillExitCodes(t *testing.T) {
	ctx := context.Background()
	f := newTestFake(t)
	f.AddImage(runtime.Image{RepoTags: []string{"quits:int"}, StopSignal: "SIGINT"})
	for _, tc := range []struct {
		name  string
		spec  runtime.ContainerSpec
		act   func(id string) error
		state runtime.State
		code  int
	}{
		{"stop default", runtime.ContainerSpec{}, func(id string) error { return f.StopContainer(ctx, id, time.Minute) }, runtime.StateExited, 143},
		{"stop spec signal", runtime.ContainerSpec{StopSignal: "SIGQUIT"}, func(id string) error { return f.StopContainer(ctx, id, 0) }, runtime.StateExited, 131},
		{"stop image signal", runtime.ContainerSpec{Image: "quits:int"}, func(id string) error { return f.StopContainer(ctx, id, 0) }, runtime.StateExited, 130},
		{"kill", runtime.ContainerSpec{}, func(id string) error { return f.KillContainer(ctx, id, "SIGKILL") }, runtime.StateExited, 137},
		{"kill by number", runtime.ContainerSpec{}, func(id string) error { return f.KillContainer(ctx, id, "15") }, runtime.StateExited, 143},
		{"harmless signal", runtime.ContainerSpec{}, func(id string) error { return f.KillContainer(ctx, id, "SIGWINCH") }, runtime.StateRunning, 0},
		{"exit", runtime.ContainerSpec{}, func(id string) error { return f.Exit(id, 42) }, runtime.StateExited, 42},
	} {
		id := mustStart(t, f, tc.spec)
		if err := tc.act(id); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		c, _ := f.InspectContainer(ctx, id)
		if c.State != tc.state || c.ExitCode != tc.code {
			t.Errorf("%s: state %v code %d, want %v %d", tc.name, c.State, c.ExitCode, tc.state, tc.code)
		}
	}
	id := mustStart(t, f, runtime.ContainerSpec{})
	if err := f.KillContainer(ctx, id, "SIGBOGUS"); err == nil {
		t.Errorf("KillContainer with an unknown signal succeeded")
	}
	if err := f.Exit("nope", 1); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Exit of a missing container: %v, want ErrNotFound", err)
	}
}

func TestOOMKill(t *testing.T) {
	f := newTestFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, _ := f.Events(ctx, nil)
	id := mustStart(t, f, runtime.ContainerSpec{})
	if err := f.OOMKill(id); err != nil {
		t.Fatalf("OOMKill: %v", err)
	}
	c, _ := f.InspectContainer(ctx, id)
	if c.State != runtime.StateExited || c.ExitCode != 137 || !c.OOMKilled {
		t.Errorf("after OOMKill: %+v", c)
	}
	var actions []runtime.EventAction
	for len(actions) < 4 {
		actions = append(actions, (<-events).Action)
	}
	want := []runtime.EventAction{runtime.EventCreate, runtime.EventStart, runtime.EventOOM, runtime.EventDie}
	if !slices.Equal(actions, want) {
		t.Errorf("events %v, want %v", actions, want)
	}
	if err := f.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.InspectContainer(ctx, id); c.OOMKilled || c.ExitCode != 0 {
		t.Errorf("restart kept OOMKilled %v exit code %d", c.OOMKilled, c.ExitCode)
	}
}

func TestClockStampsEverything(t *testing.T) {
	f, clk := newClocked(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, _ := f.Events(ctx, nil)
	t0 := clk.Now()
	id := mustCreate(t, f, runtime.ContainerSpec{})
	clk.Advance(time.Second)
	f.StartContainer(ctx, id)
	clk.Advance(time.Second)
	f.WriteLog(id, "line\n", "")
	clk.Advance(time.Second)
	f.Exit(id, 0)

	c, _ := f.InspectContainer(ctx, id)
	if !c.CreatedAt.Equal(t0) || !c.StartedAt.Equal(t0.Add(time.Second)) || !c.FinishedAt.Equal(t0.Add(3*time.Second)) {
		t.Errorf("created %v started %v finished %v", c.CreatedAt, c.StartedAt, c.FinishedAt)
	}
	for i, want := range []time.Time{t0, t0.Add(time.Second), t0.Add(3 * time.Second)} {
		if ev := <-events; !ev.Time.Equal(want) {
			t.Errorf("event %d (%s) at %v, want %v", i, ev.Action, ev.Time, want)
		}
	}
	var out bytes.Buffer
	f.Logs(ctx, id, runtime.LogOptions{Tail: -1, Timestamps: true}, &out, &out)
	if want := "2025-01-02T03:04:07.000000000Z line\n"; out.String() != want {
		t.Errorf("timestamped log %q, want %q", out.String(), want)
	}
	out.Reset()
	f.Logs(ctx, id, runtime.LogOptions{Tail: -1, Since: t0.Add(2*time.Second + 1)}, &out, &out)
	if out.Len() != 0 {
		t.Errorf("log since after the line: %q, want nothing", out.String())
	}
}

func TestPullOnlyAllowed(t *testing.T) {
	f := New()
	ctx := context.Background()
	if err := f.PullImage(ctx, "busybox:1.36", runtime.PullOptions{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("pull of an unregistered ref: %v, want ErrNotFound", err)
	}
	f.AllowPull("busybox:1.36")
	f.AllowPull("alpine")
	if err := f.PullImage(ctx, "busybox:1.36", runtime.PullOptions{}); err != nil {
		t.Fatalf("pull of an allowed ref: %v", err)
	}
	if err := f.PullImage(ctx, "alpine:latest", runtime.PullOptions{}); err != nil {
		t.Fatalf("pull of alpine:latest, allowed as alpine: %v", err)
	}
	img, err := f.InspectImage(ctx, "busybox:1.36")
	if err != nil || !slices.Equal(img.RepoTags, []string{"busybox:1.36"}) {
		t.Errorf("pulled image %+v, %v", img, err)
	}
	if _, err := f.InspectImage(ctx, "alpine"); err != nil {
		t.Errorf("InspectImage(alpine) after pulling alpine:latest: %v", err)
	}
	list, _ := f.ListImages(ctx)
	if len(list) != 2 {
		t.Errorf("ListImages = %v, want 2 images", list)
	}
}

func TestRemoveImageByTagAndID(t *testing.T) {
	f := New()
	ctx := context.Background()
	id := f.AddImage(runtime.Image{RepoTags: []string{"a:1", "b:1"}})
	if err := f.RemoveImage(ctx, "a:1"); err != nil {
		t.Fatalf("RemoveImage(a:1): %v", err)
	}
	if img, err := f.InspectImage(ctx, id); err != nil || !slices.Equal(img.RepoTags, []string{"b:1"}) {
		t.Errorf("after untag: %+v, %v; want the image with b:1", img, err)
	}
	f.AddImage(runtime.Image{ID: id, RepoTags: []string{"c:1"}})
	if err := f.RemoveImage(ctx, id[len("sha256:"):][:12]); err != nil {
		t.Fatalf("RemoveImage(short ID): %v", err)
	}
	for _, ref := range []string{"b:1", "c:1", id} {
		if _, err := f.InspectImage(ctx, ref); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("InspectImage(%s) after removal: %v", ref, err)
		}
	}
}

func TestImportImageChanges(t *testing.T) {
	f := New()
	ctx := context.Background()
	tarball := func() *bytes.Reader { return bytes.NewReader(make([]byte, 1024)) }
	if err := f.ImportImage(ctx, "pause:1", tarball(), []string{"ENTRYPOINT /pause -v", "CMD []", "WORKDIR /"}); err != nil {
		t.Fatalf("ImportImage: %v", err)
	}
	img, _ := f.InspectImage(ctx, "pause:1")
	if !slices.Equal(img.Entrypoint, []string{"/bin/sh", "-c", "/pause -v"}) || img.Cmd == nil || len(img.Cmd) != 0 {
		t.Errorf("imported entrypoint %q cmd %#v", img.Entrypoint, img.Cmd)
	}
	if err := f.ImportImage(ctx, "x:1", tarball(), []string{"STOPSIGNAL SIGINT"}); err == nil {
		t.Errorf("STOPSIGNAL accepted; Docker 20.10 refuses it")
	}
	if err := f.ImportImage(ctx, "x:1", strings.NewReader("not a tarball, long enough to be read as a header block........"), nil); err == nil {
		t.Errorf("a non-tarball was imported")
	}
}

func TestSpecIsACopy(t *testing.T) {
	f := newTestFake(t)
	spec := runtime.ContainerSpec{Name: "ss", Image: testImage, Cmd: []string{"a"}, Labels: map[string]string{"k": "v"}}
	id := mustCreate(t, f, spec)
	spec.Cmd[0] = "changed"
	spec.Labels["k"] = "changed"
	got, ok := f.Spec(id)
	if !ok || got.Cmd[0] != "a" || got.Labels["k"] != "v" {
		t.Errorf("Spec = %+v, %v; want the spec as created", got, ok)
	}
}

func TestCloseEventsEndsStreams(t *testing.T) {
	f := newTestFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, errs := f.Events(ctx, nil)
	id := mustCreate(t, f, runtime.ContainerSpec{})
	restart := errors.New("engine restarting")
	f.CloseEvents(restart)
	if ev, ok := <-events; !ok || ev.ContainerID != id || ev.Action != runtime.EventCreate {
		t.Errorf("queued event %+v, %v; want the create of %s first", ev, ok, id)
	}
	if err := <-errs; !errors.Is(err, restart) {
		t.Errorf("error %v, want the CloseEvents error", err)
	}
	if _, ok := <-events; ok {
		t.Errorf("event channel open after the error")
	}
}

func TestEventsLeaveNoGoroutine(t *testing.T) {
	f := newTestFake(t)
	before := goleak.IgnoreCurrent()
	for range 10 {
		ctx, cancel := context.WithCancel(context.Background())
		events, errs := f.Events(ctx, nil)
		mustCreate(t, f, runtime.ContainerSpec{}) // queued, never read
		cancel()
		for range events {
		}
		<-errs
	}
	goleak.VerifyNone(t, before)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.subs) != 0 {
		t.Errorf("%d subscribers left registered", len(f.subs))
	}
}

func TestConcurrentUse(t *testing.T) {
	f := newTestFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, errs := f.Events(ctx, nil)
	var count atomic.Int64
	go func() {
		for range events {
			count.Add(1)
		}
	}()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				id := mustStart(t, f, runtime.ContainerSpec{Name: fmt.Sprintf("w%d_%d", w, i)})
				f.WriteLog(id, "x\n", "")
				f.ListContainers(ctx, nil)
				f.RemoveContainer(ctx, id)
			}
		}()
	}
	wg.Wait()
	// create, start, die, destroy per container.
	const want = 8 * 20 * 4
	deadline := time.Now().Add(10 * time.Second)
	for count.Load() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-errs
	if got := count.Load(); got != want {
		t.Errorf("%d events, want %d", got, want)
	}
	if list, _ := f.ListContainers(context.Background(), nil); len(list) != 0 {
		t.Errorf("%d containers left", len(list))
	}
}

func TestPullAuthAndProgress(t *testing.T) {
	f := New()
	f.AllowPull("registry.example:5000/app:1")
	var seen []runtime.PullProgress
	auth := &runtime.RegistryAuth{Username: "u", Password: "p", ServerAddress: "registry.example:5000"}
	err := f.PullImage(context.Background(), "registry.example:5000/app:1", runtime.PullOptions{Auth: auth, Progress: func(p runtime.PullProgress) { seen = append(seen, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := f.PullAuth("registry.example:5000/app:1"); !ok || got != *auth {
		t.Errorf("PullAuth = %+v, %v; want %+v", got, ok, *auth)
	}
	if len(seen) == 0 || seen[len(seen)-1].LayersDone != 2 || seen[len(seen)-1].Current != seen[len(seen)-1].Total {
		t.Errorf("progress %+v, want it to end with both layers done", seen)
	}
}
