package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/runner-dev/runner/net/cni"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/docker"
)

// App container scripts, the same for the bound's pods and runner's. Both
// exit 0 on SIGTERM. busyScript (the teardown pods) forks a sleep five times
// a second, about 1.5 % of a core per pod on the reference machine;
// quietScript forks once and waits, so the single pods add no load.
const (
	busyScript  = "trap 'exit 0' TERM; while true; do sleep 0.2; done"
	quietScript = "trap 'exit 0' TERM; sleep 2147483647 & wait"
)

const appImage = "runner.local/busybox:test"

// bound is the least work that runs a pod: a minimal program with the
// Docker client alone (runner's own adapter, so the engine gets the same
// requests) that creates and starts a pause container, gives it a network
// with one CNI ADD (net/cni's generated bridge list, on a bridge and CIDR of
// its own), and creates and starts an app container in its network and IPC
// namespaces. No state files, no status, no events. Safe for concurrent use.
type bound struct {
	// pauseImage is the image of runner's sandboxes, learnt from runner's
	// first pod (runner imports its own when absent).
	pauseImage string
	rt         *docker.Runtime
	plugin     *cni.Plugin
	labels     map[string]string
	cidr       netip.Prefix

	mu     sync.Mutex
	nextIP netip.Addr
	free   []netip.Addr         // addresses of torn-down pods, used again first
	pods   map[string]*boundPod // live pods by name, for cleanup
}

// boundPod is one pod of the bound and how long each step took.
type boundPod struct {
	name       string
	sandbox    string
	app        string
	ip         netip.Addr
	netns      string
	attached   bool
	createSB   time.Duration
	startSB    time.Duration
	inspectSB  time.Duration
	cniAdd     time.Duration
	createApp  time.Duration
	startApp   time.Duration
	total      time.Duration
	finishedAt time.Time
}

func newBound(rt *docker.Runtime, plugin *cni.Plugin, cidr netip.Prefix, labels map[string]string) *bound {
	return &bound{rt: rt, plugin: plugin, labels: labels, cidr: cidr, nextIP: cidr.Addr().Next().Next(), pods: map[string]*boundPod{}}
}

func (b *bound) allocate() (netip.Addr, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := len(b.free); n > 0 {
		ip := b.free[n-1]
		b.free = b.free[:n-1]
		return ip, nil
	}
	ip := b.nextIP
	if !b.cidr.Contains(ip) {
		return netip.Addr{}, fmt.Errorf("bound CIDR %s exhausted", b.cidr)
	}
	b.nextIP = ip.Next()
	return ip, nil
}

func (b *bound) podLabels(pod, container string) map[string]string {
	l := map[string]string{"io.runner.bench.pod": pod, labelContainer: container}
	for k, v := range b.labels {
		l[k] = v
	}
	return l
}

// startPod runs one pod and times each step. The pod is kept for teardown
// or cleanup even when a step fails.
func (b *bound) startPod(ctx context.Context, name, script string) (*boundPod, error) {
	return b.startPodOn(ctx, name, script, false)
}

// startPodOn is startPod, on the host network when hostNetwork is set: the
// pause container shares the host's network namespace (Docker makes none),
// and there is no address and no CNI ADD.
func (b *bound) startPodOn(ctx context.Context, name, script string, hostNetwork bool) (*boundPod, error) {
	p := &boundPod{name: name}
	b.mu.Lock()
	b.pods[name] = p
	b.mu.Unlock()
	var ip netip.Addr
	var err error
	netMode := "host"
	if !hostNetwork {
		netMode = "none"
		if ip, err = b.allocate(); err != nil {
			return p, err
		}
		p.ip = ip
	}
	step := func(d *time.Duration, f func() error) error {
		t := time.Now()
		err := f()
		*d = time.Since(t)
		return err
	}
	t0 := time.Now()
	err = step(&p.createSB, func() (err error) {
		p.sandbox, err = b.rt.CreateContainer(ctx, runtime.ContainerSpec{
			Name: "bench_POD_" + name, Image: b.pauseImage, Labels: b.podLabels(name, sandboxName),
			NetworkMode: netMode, IPCMode: "shareable", Hostname: name, StopSignal: "SIGTERM",
		})
		return err
	})
	if err == nil {
		err = step(&p.startSB, func() error { return b.rt.StartContainer(ctx, p.sandbox) })
	}
	var pid int
	if err == nil && !hostNetwork {
		err = step(&p.inspectSB, func() error {
			c, err := b.rt.InspectContainer(ctx, p.sandbox)
			pid = c.Pid
			if err == nil && pid == 0 {
				err = errors.New("sandbox has no pid")
			}
			return err
		})
	}
	if err == nil && !hostNetwork {
		p.netns = "/proc/" + strconv.Itoa(pid) + "/ns/net"
		err = step(&p.cniAdd, func() error {
			p.attached = true // a failed ADD rolls itself back; DEL again is harmless
			_, err := b.plugin.Attach(ctx, cni.AttachRequest{ID: p.sandbox, NetNS: p.netns, IfName: "eth0", IP: ip})
			return err
		})
	}
	if err == nil {
		err = step(&p.createApp, func() (err error) {
			p.app, err = b.rt.CreateContainer(ctx, runtime.ContainerSpec{
				Name: "bench_app_" + name, Image: appImage, Labels: b.podLabels(name, "app"),
				Entrypoint: []string{"sh", "-c", script}, Cmd: []string{},
				NetworkMode: "container:" + p.sandbox, IPCMode: "container:" + p.sandbox,
			})
			return err
		})
	}
	if err == nil {
		err = step(&p.startApp, func() error { return b.rt.StartContainer(ctx, p.app) })
	}
	p.finishedAt = time.Now()
	p.total = p.finishedAt.Sub(t0)
	if err != nil {
		return p, fmt.Errorf("bound pod %s: %w", name, err)
	}
	return p, nil
}

// replaceApp kills the pod's app container with SIGKILL and, as soon as rec
// shows its die event, creates and starts a replacement, as a minimal
// restarter would. It returns the time from the die event to the
// replacement's start event; the dead container is removed afterwards.
func (b *bound) replaceApp(ctx context.Context, p *boundPod, rec *recorder, script string) (dieToStart, startCall time.Duration, err error) {
	old := p.app
	if err := b.rt.KillContainer(ctx, old, "SIGKILL"); err != nil {
		return 0, 0, err
	}
	var died event
	if err := rec.wait(ctx, 30*time.Second, "die of bound app "+p.name, func(evs []event) bool {
		for _, e := range evs {
			if e.id == old && e.action == events.ActionDie {
				died = e
				return true
			}
		}
		return false
	}); err != nil {
		return 0, 0, err
	}
	id, err := b.rt.CreateContainer(ctx, runtime.ContainerSpec{
		Name: "bench_app_" + p.name + "_1", Image: appImage, Labels: b.podLabels(p.name, "app"),
		Entrypoint: []string{"sh", "-c", script}, Cmd: []string{},
		NetworkMode: "container:" + p.sandbox, IPCMode: "container:" + p.sandbox,
	})
	if err != nil {
		return 0, 0, err
	}
	p.app = id
	t := time.Now()
	if err := b.rt.StartContainer(ctx, id); err != nil {
		return 0, 0, err
	}
	startCall = time.Since(t)
	var started event
	if err := rec.wait(ctx, 30*time.Second, "start of bound app "+p.name, func(evs []event) bool {
		for _, e := range evs {
			if e.id == id && e.action == events.ActionStart {
				started = e
				return true
			}
		}
		return false
	}); err != nil {
		return 0, 0, err
	}
	return started.at.Sub(died.at), startCall, b.rt.RemoveContainer(ctx, old)
}

// stopPod tears one pod down as runner's killPod does: stop the app with
// the grace period, remove it, CNI DEL, remove the sandbox.
func (b *bound) stopPod(ctx context.Context, p *boundPod) error {
	var errs []error
	if p.app != "" {
		if err := b.rt.StopContainer(ctx, p.app, 5*time.Second); err != nil {
			errs = append(errs, err)
		}
		if err := b.rt.RemoveContainer(ctx, p.app); err != nil {
			errs = append(errs, err)
		}
	}
	if p.attached {
		if err := b.plugin.Detach(ctx, cni.DetachRequest{ID: p.sandbox, NetNS: p.netns, IfName: "eth0", IP: p.ip}); err != nil {
			errs = append(errs, err)
		}
	}
	if p.sandbox != "" {
		if err := b.rt.RemoveContainer(ctx, p.sandbox); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tear down bound pod %s: %w", p.name, err)
	}
	b.mu.Lock()
	delete(b.pods, p.name)
	if p.ip.IsValid() {
		b.free = append(b.free, p.ip)
	}
	b.mu.Unlock()
	return nil
}

// parallel runs f for each name with at most n at once and returns the
// wall time from the first start to the last finish.
func parallel(ctx context.Context, names []string, n int, f func(context.Context, string) error) (time.Duration, error) {
	sem := make(chan struct{}, n)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	t0 := time.Now()
	for _, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(ctx, name); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return time.Since(t0), errors.Join(errs...)
}

// cleanup tears down every pod still live, on a fresh context.
func (b *bound) cleanup(ctx context.Context) error {
	b.mu.Lock()
	var pods []*boundPod
	for _, p := range b.pods {
		pods = append(pods, p)
	}
	b.mu.Unlock()
	var errs []error
	for _, p := range pods {
		if err := b.stopPod(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
