package gc

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/internal/testenv"
	"github.com/runner-dev/runner/internal/testenv/dockertest"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/docker"
	"github.com/runner-dev/runner/runner/runtime/runtimetest"
)

// Tests against the real engine. Every container carries the run label
// (runtimetest.RunLabel) and an instance ID of this run only; every image is
// imported by the test; all are removed in t.Cleanup. Images that were there
// before are pinned, and image records make only the test's images old
// enough to go, so that nothing else on the engine can be touched.

// testImage is built by testdata/setup.sh.
const testImage = "runner.local/busybox:test"

// engineRun is one test's engine and identity.
type engineRun struct {
	t        *testing.T
	rt       *docker.Runtime
	runID    string
	instance string
}

func newEngineRun(t *testing.T) *engineRun {
	t.Helper()
	rt := dockertest.Engine(t)
	e := &engineRun{t: t, rt: rt, runID: runtimetest.NewRunID()}
	e.instance = "gctest-" + e.runID
	t.Cleanup(e.removeContainers)
	return e
}

// removeContainers removes every container of the run.
func (e *engineRun) removeContainers() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list, err := e.rt.ListContainers(ctx, map[string]string{runtimetest.RunLabel: e.runID})
	if err != nil {
		e.t.Errorf("cleanup: %v", err)
		return
	}
	for _, c := range list {
		if err := e.rt.RemoveContainer(ctx, c.ID); err != nil {
			e.t.Errorf("cleanup: %v", err)
		}
	}
}

// container creates and starts container name attempt n of pod uid (a
// sandbox when name is "POD") with cmd, labelled for instance (none when
// empty), and waits until it has exited unless it runs sleep.
func (e *engineRun) container(instance, uid, name string, n int, cmd ...string) string {
	e.t.Helper()
	labels := map[string]string{
		runtimetest.RunLabel: e.runID, LabelPodUID: uid, LabelPodName: "pod-" + uid, LabelPodNamespace: "default",
		LabelContainerName: name, LabelAttempt: strconv.Itoa(n),
	}
	if instance != "" {
		labels[LabelInstance] = instance
	}
	if name == "POD" {
		labels[LabelDockerType] = TypeSandbox
		delete(labels, LabelContainerName)
	}
	ctx := e.t.Context()
	id, err := e.rt.CreateContainer(ctx, runtime.ContainerSpec{
		Name: fmt.Sprintf("runnertest_%s_%s_%s_%d", e.runID, name, uid, n), Image: testImage, Labels: labels, Cmd: cmd,
	})
	if errors.Is(err, runtime.ErrNotFound) {
		testenv.Need(e.t, "the test image "+testImage+" (testdata/setup.sh)", err)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.rt.StartContainer(ctx, id); err != nil {
		e.t.Fatal(err)
	}
	if cmd[0] != "sleep" {
		testenv.Eventually(e.t, 30*time.Second, "container "+id+" to exit", func() bool {
			c, err := e.rt.InspectContainer(ctx, id)
			return err == nil && c.State == runtime.StateExited
		})
	}
	return id
}

// left lists the names of the run's containers, sorted.
func (e *engineRun) left() []string {
	e.t.Helper()
	list, err := e.rt.ListContainers(e.t.Context(), map[string]string{runtimetest.RunLabel: e.runID})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, c := range list {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

func TestEngineCollectContainers(t *testing.T) {
	e := newEngineRun(t)
	// Pod a crash-loops: four dead instances and a running one; pod gone is
	// no longer desired; another runner's dead containers stay.
	for n := 0; n < 4; n++ {
		e.container(e.instance, "a", "app", n, "false")
	}
	e.container(e.instance, "a", "app", 4, "sleep", "3600")
	e.container(e.instance, "a", "POD", 0, "sleep", "3600")
	e.container(e.instance, "gone", "POD", 0, "true")
	e.container(e.instance, "gone", "app", 0, "true")
	e.container(e.instance, "gone", "app", 1, "true")
	e.container(e.instance+"-other", "b", "app", 0, "true")
	e.container(e.instance+"-other", "b", "app", 1, "true")

	m, err := New(Config{
		Engine: e.rt, Pods: &fakePods{set: PodSet{Known: true, Desired: map[types.UID]bool{"a": true}}},
		ImageFS: StatfsImageFS{Path: t.TempDir()}, RootDir: t.TempDir(), InstanceID: e.instance,
		Containers: DefaultContainerPolicy, Images: DefaultImagePolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	p := m.CollectContainers(t.Context())
	if p.Err != nil {
		t.Fatal(p.Err)
	}
	r := e.runID
	want := []string{
		"runnertest_" + r + "_POD_a_0", "runnertest_" + r + "_app_a_3", "runnertest_" + r + "_app_a_4",
		"runnertest_" + r + "_app_b_0", "runnertest_" + r + "_app_b_1",
	}
	if got := e.left(); !slices.Equal(got, want) {
		t.Errorf("left %v\nwant %v", got, want)
	}
	if len(p.Removed) != 6 {
		t.Errorf("removed %d, want 6 (3 of a, 3 of gone)", len(p.Removed))
	}
}

// testImages imports tiny images named runner.local/gctest-<run>-<name>:1,
// each with a file of its own size so that their IDs and sizes differ,
// removes them in cleanup, and returns their engine records by name.
func (e *engineRun) testImages(names ...string) map[string]runtime.Image {
	e.t.Helper()
	out := map[string]runtime.Image{}
	for i, name := range names {
		ref := "runner.local/gctest-" + e.runID + "-" + name + ":1"
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		body := bytes.Repeat([]byte(name+e.runID), 200*(i+1))
		if err := tw.WriteHeader(&tar.Header{Name: "data", Mode: 0o644, Size: int64(len(body))}); err != nil {
			e.t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			e.t.Fatal(err)
		}
		if err := tw.Close(); err != nil {
			e.t.Fatal(err)
		}
		if err := e.rt.ImportImage(e.t.Context(), ref, &buf, []string{`CMD ["/data"]`}); err != nil {
			e.t.Fatal(err)
		}
		img, err := e.rt.InspectImage(e.t.Context(), ref)
		if err != nil {
			e.t.Fatal(err)
		}
		e.t.Cleanup(func() {
			e.removeContainers() // the containers using it first
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := e.rt.RemoveImage(ctx, img.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				e.t.Errorf("cleanup: %v", err)
			}
		})
		out[name] = img
	}
	return out
}

// present reports whether image id is in the engine.
func (e *engineRun) present(id string) bool {
	_, err := e.rt.InspectImage(e.t.Context(), id)
	return err == nil
}

// existingImages is every image ID in the engine now.
func (e *engineRun) existingImages() []string {
	e.t.Helper()
	images, err := e.rt.ListImages(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, im := range images {
		out = append(out, im.ID)
	}
	return out
}

// seedRecords writes image records under root: each test image first seen
// an hour ago and last used as given (0: never).
func seedRecords(t *testing.T, root string, images map[string]runtime.Image, usedAgo map[string]time.Duration) {
	t.Helper()
	r, err := loadRecords(root)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for name, im := range images {
		rec := ImageRecord{FirstDetected: now.Add(-time.Hour)}
		if ago := usedAgo[name]; ago > 0 {
			rec.LastUsed = now.Add(-ago)
		}
		r.m[im.ID] = rec
	}
	r.dirty = true
	if err := r.save(); err != nil {
		t.Fatal(err)
	}
}

// testFS is an image file system double of Capacity bytes holding Base
// bytes and the test's images still present in the engine.
type testFS struct {
	e        *engineRun
	images   map[string]runtime.Image
	Capacity int64
	Base     int64
}

func (f *testFS) used() int64 {
	used := f.Base
	for _, im := range f.images {
		if f.e.present(im.ID) {
			used += im.Size
		}
	}
	return used
}

func (f *testFS) ImageFSUsage(context.Context) (FSUsage, error) {
	return FSUsage{Capacity: f.Capacity, Available: f.Capacity - f.used()}, nil
}

// TestEngineImagesLRU: with the file system reported 90% full, unused test
// images go least recently used first until it is under 80%; the image in
// use stays.
func TestEngineImagesLRU(t *testing.T) {
	e := newEngineRun(t)
	before := e.existingImages()
	images := e.testImages("a", "b", "c", "d")
	// d is used by a container that is not runner's (no instance label),
	// created and never started.
	if _, err := e.rt.CreateContainer(t.Context(), runtime.ContainerSpec{
		Name: "runnertest_" + e.runID + "_user", Image: images["d"].RepoTags[0], Labels: map[string]string{runtimetest.RunLabel: e.runID},
	}); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	// c never used, a used 3 h ago, b 2 h ago; d never (but in use now).
	seedRecords(t, root, images, map[string]time.Duration{"a": 3 * time.Hour, "b": 2 * time.Hour})
	// Capacity such that 10% of it is one byte less than c and a together:
	// freeing 90% → 80% takes c then a.
	sizeCA := images["c"].Size + images["a"].Size
	fs := &testFS{e: e, images: images, Capacity: 10*sizeCA - 10}
	var total int64
	for _, im := range images {
		total += im.Size
	}
	fs.Base = fs.Capacity*9/10 - total
	if fs.Base < 0 {
		t.Fatalf("image sizes %v do not allow the set-up", images)
	}
	m, err := New(Config{
		Engine: e.rt, Pods: &fakePods{}, ImageFS: fs, RootDir: root, InstanceID: e.instance,
		PinnedImages: before, Containers: DefaultContainerPolicy,
		Images: ImagePolicy{HighThresholdPercent: 85, LowThresholdPercent: 80, MinAge: 30 * time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := m.CollectImages(t.Context())
	if p.Err != nil {
		t.Fatal(p.Err)
	}
	if p.Usage.UsedPercent() != 90 {
		t.Errorf("the double reported %d%%, want 90%%", p.Usage.UsedPercent())
	}
	if got, want := ids(p.Removed), []string{images["c"].ID, images["a"].ID}; !slices.Equal(got, want) {
		t.Errorf("removed %v, want c then a %v", got, want)
	}
	if used := fs.used(); used*100 >= 80*fs.Capacity {
		t.Errorf("the double reports %d of %d used, want under 80%%", used, fs.Capacity)
	}
	e.stillThere(images, before, "b", "d")
}

// TestEngineImagesThresholdsOneZero: with --image-gc-high-threshold 1
// --image-gc-low-threshold 0 and the real file system, an unused image goes;
// the one in use, the pause image and a pinned one stay.
func TestEngineImagesThresholdsOneZero(t *testing.T) {
	e := newEngineRun(t)
	before := e.existingImages()
	images := e.testImages("unused", "used", "pause", "pinned")
	if _, err := e.rt.CreateContainer(t.Context(), runtime.ContainerSpec{
		Name: "runnertest_" + e.runID + "_user", Image: images["used"].RepoTags[0], Labels: map[string]string{runtimetest.RunLabel: e.runID},
	}); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	seedRecords(t, root, images, nil)
	m, err := New(Config{
		Engine: e.rt, Pods: &fakePods{}, ImageFS: StatfsImageFS{Path: dockerRoot()}, RootDir: root, InstanceID: e.instance,
		PauseImage:   images["pause"].RepoTags[0],
		PinnedImages: append([]string{images["pinned"].RepoTags[0]}, before...),
		Containers:   DefaultContainerPolicy,
		Images:       ImagePolicy{HighThresholdPercent: 1, LowThresholdPercent: 0, MinAge: 30 * time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := m.CollectImages(t.Context())
	if got := ids(p.Removed); !slices.Equal(got, []string{images["unused"].ID}) {
		t.Errorf("removed %v, want only the unused test image", got)
	}
	// Freeing the whole disk is out of reach: the pass says so.
	if p.EventReason != ReasonFreeDiskSpaceFailed {
		t.Errorf("event reason %q (%v), want %s", p.EventReason, p.Err, ReasonFreeDiskSpaceFailed)
	}
	e.stillThere(images, before, "used", "pause", "pinned")
}

// stillThere checks that the named test images and every image that was
// there before the test are present.
func (e *engineRun) stillThere(images map[string]runtime.Image, before []string, names ...string) {
	e.t.Helper()
	for _, name := range names {
		if !e.present(images[name].ID) {
			e.t.Errorf("image %s was removed", name)
		}
	}
	for _, id := range before {
		if !e.present(id) {
			e.t.Errorf("image %s, there before the test, is gone", id)
		}
	}
}

// dockerRoot is the engine's data root when it is the default one, else
// the root file system (any file system in use serves thresholds 1/0).
func dockerRoot() string {
	if _, err := os.Stat("/var/lib/docker"); err == nil {
		return "/var/lib/docker"
	}
	return "/"
}
