package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/docker/docker/client"
)

// Sizes of the phases.
const (
	singlePods   = 10 // single-pod starts in the start figure, after one cold pod
	reactionPods = 20 // single pods whose reaction is measured (includes those 10)
	batchPods    = 30
	parallelism  = 16 // runner's --max-parallel-pods default
	killedPods   = 5
)

// Names of the start steps, the bound's calls and runner's event gaps.
const (
	stepReact     = "write → sandbox create"
	stepCreateSB  = "sandbox create"
	stepStartSB   = "sandbox start"
	stepNet       = "sandbox started → app create (network)"
	stepCreateApp = "app create"
	stepStartApp  = "app start"
)

// boundSerialPod starts the bound's i-th single pod (0 is the warm-up) and
// records its times from the first one on.
func boundSerialPod(ctx context.Context, b *bound, i int, res *results) (*boundPod, error) {
	p, err := b.startPod(ctx, fmt.Sprintf("serial-%02d", i), quietScript)
	if err != nil || i == 0 || i > singlePods {
		return p, err
	}
	if res.boundSteps == nil {
		res.boundSteps = map[string]durations{}
	}
	res.boundSerial = append(res.boundSerial, p.total)
	for name, d := range map[string]time.Duration{
		stepCreateSB: p.createSB, stepStartSB: p.startSB, stepNet: p.inspectSB + p.cniAdd,
		stepCreateApp: p.createApp, stepStartApp: p.startApp,
	} {
		res.boundSteps[name] = append(res.boundSteps[name], d)
	}
	return p, nil
}

// boundBatch starts batchPods pods of the bound, parallelism at once, and
// returns them; the time goes to res.boundParallel.
func boundBatch(ctx context.Context, b *bound, res *results) ([]*boundPod, error) {
	logf("bound: %d pods, %d at once", batchPods, parallelism)
	names := make([]string, batchPods)
	for i := range names {
		names[i] = fmt.Sprintf("batch-%02d", i)
	}
	var (
		mu   sync.Mutex
		pods []*boundPod
	)
	d, err := parallel(ctx, names, parallelism, func(ctx context.Context, name string) error {
		p, err := b.startPod(ctx, name, busyScript)
		mu.Lock()
		pods = append(pods, p)
		mu.Unlock()
		return err
	})
	res.boundParallel = append(res.boundParallel, d)
	return pods, err
}

// boundTeardown tears pods down, parallelism at once, as runner's teardown
// does; the time goes to res.boundTeardown.
func boundTeardown(ctx context.Context, b *bound, pods []*boundPod, res *results) error {
	logf("bound: teardown of %d pods, %d at once", len(pods), parallelism)
	byName := map[string]*boundPod{}
	var names []string
	for _, p := range pods {
		byName[p.name] = p
		names = append(names, p.name)
	}
	d, err := parallel(ctx, names, parallelism, func(ctx context.Context, name string) error {
		return b.stopPod(ctx, byName[name])
	})
	res.boundTeardown = append(res.boundTeardown, d)
	return err
}

// measureProxyHop is the median extra time of a ping through the proxy.
func measureProxyHop(ctx context.Context, direct *client.Client, proxyPath string) (time.Duration, error) {
	via, err := client.NewClientWithOpts(client.WithHost("unix://"+proxyPath), client.WithAPIVersionNegotiation())
	if err != nil {
		return 0, err
	}
	defer via.Close()
	ping := func(c *client.Client) (durations, error) {
		var d durations
		for range 50 {
			t := time.Now()
			if _, err := c.Ping(ctx); err != nil {
				return nil, err
			}
			d = append(d, time.Since(t))
		}
		return d, nil
	}
	a, err := ping(direct)
	if err != nil {
		return 0, err
	}
	p, err := ping(via)
	if err != nil {
		return 0, err
	}
	return p.median() - a.median(), nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
