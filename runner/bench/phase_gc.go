package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"k8s.io/apimachinery/pkg/types"

	"github.com/runner-dev/runner/gc"
	"github.com/runner-dev/runner/runner/runtime/docker"
)

// The GC phase: one container pass over 200 dead containers and one image
// pass over 50 unused images, through runner's Docker adapter behind the
// counting proxy, then a pass with nothing to remove. Everything it makes is
// its own: containers carry an instance label of the run, images are
// imported by it, and every other image in the engine is pinned (any that
// appears meanwhile is younger than the minimum age).
const (
	gcPods          = 20 // half of them no longer desired
	gcDeadPerPod    = 10 // a dead sandbox and 9 dead instances of "app"
	gcImages        = 50
	gcBenchImageTag = "runner.local/busybox:test"
)

// gcResults are the GC phase's figures.
type gcResults struct {
	measured                 bool
	containers, images, idle time.Duration
	containerReqs, imageReqs []request
	idleReqs                 []request
	removedCtrs, removedImgs int
	deadContainers, imagesIn int
}

// gcPodsDouble is the loop's answer: the first half of the pods desired.
type gcPodsDouble struct{ desired map[types.UID]bool }

func (p gcPodsDouble) PodsForGC(context.Context) (gc.PodSet, error) {
	return gc.PodSet{Known: true, Desired: p.desired}, nil
}

// gcFSDouble reports an image file system full while the phase's images
// are all there, 80% once they are gone.
type gcFSDouble struct {
	cli   *client.Client
	ids   map[string]int64 // image ID → size
	total int64
}

func (f *gcFSDouble) ImageFSUsage(ctx context.Context) (gc.FSUsage, error) {
	capacity := 5 * f.total
	used := 4 * f.total
	for id, size := range f.ids {
		if _, err := f.cli.ImageInspect(ctx, id); err == nil {
			used += size
		}
	}
	return gc.FSUsage{Capacity: capacity, Available: capacity - used}, nil
}

// measureGC runs the GC phase against the engine behind p (runner's
// requests are counted there) and removes what it made.
func measureGC(ctx context.Context, cli *client.Client, p *proxy, runID string, res *results) (retErr error) {
	instance := runID + "-gc"
	logf("gc: %d dead containers of %d pods, %d images", gcPods*gcDeadPerPod, gcPods, gcImages)
	var made []string
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		retErr = errors.Join(retErr, removeLabelled(cctx, cli, labelInstance, instance), removeImages(cctx, cli, made))
	}()
	setup := time.Now()
	desired, err := makeDeadContainers(ctx, cli, instance)
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	logf("gc: containers made in %v", time.Since(setup).Round(time.Millisecond))
	fs := &gcFSDouble{cli: cli, ids: map[string]int64{}}
	if made, err = importGCImages(ctx, cli, runID, fs); err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	logf("gc: images imported in %v", time.Since(setup).Round(time.Millisecond))
	root, err := os.MkdirTemp("", "runner-bench-gc-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	adapter, err := docker.New(docker.Config{Endpoint: "unix://" + p.path})
	if err != nil {
		return err
	}
	defer adapter.Close()
	cfg := gc.Config{
		Engine: adapter, Pods: gcPodsDouble{desired}, ImageFS: fs, RootDir: root, InstanceID: instance,
		Containers: gc.DefaultContainerPolicy,
		Images:     gc.ImagePolicy{HighThresholdPercent: 100, LowThresholdPercent: 80, MinAge: time.Second},
	}
	// A first look records every image as first seen now; a second later
	// the phase's images are old enough, and any image that appears in
	// between is not.
	detect, err := gc.New(cfg)
	if err != nil {
		return err
	}
	if pass := detect.CollectImages(ctx); pass.Err != nil {
		return fmt.Errorf("gc: first look: %w", pass.Err)
	}
	if cfg.PinnedImages, err = otherImages(ctx, cli, fs.ids); err != nil {
		return err
	}
	time.Sleep(1100 * time.Millisecond)
	cfg.Images.HighThresholdPercent = gc.DefaultImagePolicy.HighThresholdPercent
	m, err := gc.New(cfg)
	if err != nil {
		return err
	}
	r := &res.gc
	r.deadContainers, r.imagesIn = gcPods*gcDeadPerPod, gcImages
	timed := func(pass func() gc.Pass) (time.Duration, []request, gc.Pass) {
		start := time.Now()
		out := pass()
		end := time.Now()
		return end.Sub(start), p.between(start, end), out
	}
	var cp, ip gc.Pass
	r.containers, r.containerReqs, cp = timed(func() gc.Pass { return m.CollectContainers(ctx) })
	r.images, r.imageReqs, ip = timed(func() gc.Pass { return m.CollectImages(ctx) })
	if cp.Err != nil || ip.Err != nil {
		return fmt.Errorf("gc: passes: %w", errors.Join(cp.Err, ip.Err))
	}
	r.removedCtrs, r.removedImgs = len(cp.Removed), len(ip.Removed)
	want := gcPods/2*gcDeadPerPod + gcPods/2*(gcDeadPerPod-2)
	if r.removedCtrs != want || r.removedImgs != gcImages {
		return fmt.Errorf("gc: removed %d containers and %d images, want %d and %d", r.removedCtrs, r.removedImgs, want, gcImages)
	}
	start := time.Now()
	m.CollectContainers(ctx)
	m.CollectImages(ctx)
	r.idle = time.Since(start)
	r.idleReqs = p.between(start, time.Now())
	r.measured = true
	return nil
}

// makeDeadContainers creates gcPods pods of gcDeadPerPod dead containers
// each (a sandbox and instances of "app"), 8 at a time, and returns the
// desired half.
func makeDeadContainers(ctx context.Context, cli *client.Client, instance string) (map[types.UID]bool, error) {
	desired := map[types.UID]bool{}
	type job struct {
		uid  string
		name string
		n    int
	}
	jobs := make(chan job)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if err := deadContainer(ctx, cli, instance, j.uid, j.name, j.n); err != nil {
					errs <- err
					for range jobs {
					}
					return
				}
			}
		}()
	}
	for i := 0; i < gcPods; i++ {
		uid := fmt.Sprintf("%s-pod-%02d", instance, i)
		if i < gcPods/2 {
			desired[types.UID(uid)] = true
		}
		jobs <- job{uid, "POD", 0}
		for n := 0; n < gcDeadPerPod-1; n++ {
			jobs <- job{uid, "app", n}
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	return desired, <-errs
}

// deadContainer creates, starts and waits out one container that exits.
func deadContainer(ctx context.Context, cli *client.Client, instance, uid, name string, n int) error {
	labels := map[string]string{
		gc.LabelInstance: instance, gc.LabelPodUID: uid, gc.LabelPodName: uid, gc.LabelPodNamespace: "bench",
		gc.LabelContainerName: name, gc.LabelAttempt: strconv.Itoa(n),
	}
	if name == "POD" {
		labels[gc.LabelDockerType] = gc.TypeSandbox
	}
	created, err := cli.ContainerCreate(ctx, &container.Config{Image: gcBenchImageTag, Cmd: []string{"true"}, Labels: labels},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, fmt.Sprintf("k8s_%s_%s_bench_%s_%d", name, uid, uid, n))
	if err != nil {
		return err
	}
	wait, werr := cli.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return err
	}
	select {
	case <-wait:
		return nil
	case err := <-werr:
		return err
	}
}

// importGCImages imports gcImages tiny images, recording their IDs and
// sizes in fs, and returns their IDs.
func importGCImages(ctx context.Context, cli *client.Client, runID string, fs *gcFSDouble) ([]string, error) {
	var ids []string
	for i := 0; i < gcImages; i++ {
		ref := fmt.Sprintf("runner.local/gcbench-%s-%02d:1", runID, i)
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		body := []byte(strings.Repeat(ref, 10+i))
		if err := tw.WriteHeader(&tar.Header{Name: "data", Mode: 0o644, Size: int64(len(body))}); err != nil {
			return ids, err
		}
		if _, err := tw.Write(body); err != nil {
			return ids, err
		}
		if err := tw.Close(); err != nil {
			return ids, err
		}
		rc, err := cli.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, ref, image.ImportOptions{})
		if err != nil {
			return ids, err
		}
		_, _ = bytes.NewBuffer(nil).ReadFrom(rc)
		rc.Close()
		info, err := cli.ImageInspect(ctx, ref)
		if err != nil {
			return ids, err
		}
		ids = append(ids, info.ID)
		fs.ids[info.ID] = info.Size
		fs.total += info.Size
	}
	return ids, nil
}

// otherImages is every image of the engine that is not the phase's.
func otherImages(ctx context.Context, cli *client.Client, mine map[string]int64) ([]string, error) {
	list, err := cli.ImageList(ctx, image.ListOptions{All: true})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, im := range list {
		if _, ok := mine[im.ID]; !ok {
			out = append(out, im.ID)
		}
	}
	return out, nil
}

// removeImages removes the phase's images that are left.
func removeImages(ctx context.Context, cli *client.Client, ids []string) error {
	var errs []error
	for _, id := range ids {
		if _, err := cli.ImageRemove(ctx, id, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil && !client.IsErrNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// gcRequestSummary is requestSummary with image references folded.
func gcRequestSummary(reqs []request) string {
	folded := make([]request, len(reqs))
	for i, r := range reqs {
		if rest, ok := strings.CutPrefix(r.key, "DELETE /images/"); ok && rest != "" {
			r.key = "DELETE /images/{ref}"
		}
		folded[i] = r
	}
	return requestSummary(folded)
}

// gcRows are the GC phase's rows.
func gcRows(r *gcResults) []row {
	if !r.measured {
		return nil
	}
	return []row{
		{measure: fmt.Sprintf("**GC** one container pass: %d dead containers of %d pods (half no longer desired) → %d removed", r.deadContainers, gcPods, r.removedCtrs),
			runner: ms(r.containers) + fmt.Sprintf(", %d requests", len(r.containerReqs))},
		{measure: "  ↳ its Docker requests", runner: dash(gcRequestSummary(r.containerReqs))},
		{measure: fmt.Sprintf("**GC** one image pass: %d unused images, file system over the high threshold → %d removed", r.imagesIn, r.removedImgs),
			runner: ms(r.images) + fmt.Sprintf(", %d requests", len(r.imageReqs))},
		{measure: "  ↳ its Docker requests", runner: dash(gcRequestSummary(r.imageReqs))},
		{measure: "**GC** a container and an image pass with nothing to remove", runner: ms(r.idle) + fmt.Sprintf(", %d requests", len(r.idleReqs))},
		{measure: "  ↳ their Docker requests", runner: dash(gcRequestSummary(r.idleReqs))},
	}
}

// gcOnly runs the GC phase alone, behind a proxy of its own, and prints
// its rows (make bench runs it with the others).
func gcOnly(ctx context.Context) int {
	cli, err := client.NewClientWithOpts(client.WithHost("unix://"+dockerSocket), client.WithAPIVersionNegotiation())
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer cli.Close()
	dir, err := os.MkdirTemp("", "runner-bench-gc-proxy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	p, err := startProxy(filepath.Join(dir, "docker.sock"), dockerSocket)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer p.close()
	res := &results{}
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	if err := measureGC(ctx, cli, p, "rbench-"+hex.EncodeToString(id), res); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	fmt.Print(table(gcRows(&res.gc)))
	return 0
}

// gcGoRows are the Go benchmarks of gc's policies and eviction's
// monitoring.
func gcGoRows(byName map[string]goBench) []row {
	var rows []row
	add := func(name, measure string, extra func(goBench) string) {
		if b, ok := byName[name]; ok {
			r := row{measure: measure, runner: nsString(b.nsPerOp)}
			if extra != nil {
				r.runner += extra(b)
			}
			rows = append(rows, r)
		}
	}
	add("BenchmarkPlanContainers", "**Go** gc.PlanContainers, 200 dead containers of 20 pods", nil)
	add("BenchmarkPlanImages", "**Go** gc.PlanImages, 50 images", nil)
	add("BenchmarkMonitorSignals", "**Go** eviction: one monitoring step on this host (memory, both file systems, PIDs read and evaluated; pods not read without pressure)",
		func(b goBench) string { return fmt.Sprintf(" (%.4f %% of a core every 10 s)", b.metrics["cpu-%@10s"]) })
	add("BenchmarkEvictionDecision", "**Go** eviction: a reading under pressure → eviction handed to the loop, 50 pods (usage from 100 containers' cgroup files and 50 pod directories, rank, choose); the reading comes at most one monitoring interval after the crossing",
		nil)
	return rows
}
