package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/docker/docker/client"
)

// The API phase's world: its own instance, bridge and addresses.
const (
	apiCIDR       = "10.230.8.0/22"
	apiBridge     = "rbencha0"
	apiScrapePods = 50
	apiListPods   = 100
	apiListGets   = 200
	// apiScrapeEvery is the scrape interval measured (the kubelet's usual).
	apiScrapeEvery = 10 * time.Second
)

// apiResults are the read-only API's figures.
type apiResults struct {
	measured     bool
	window       time.Duration
	idleCPU      float64 // % of one core, apiScrapePods pods, no client
	scrapeCPU    float64 // same, scraped every apiScrapeEvery
	scrapes      int
	scrapeBytes  int // /metrics + /metrics/cadvisor, one scrape
	idleRSS      int64
	scrapeRSS    int64
	podsLatency  durations // GET /pods with apiListPods pods
	podsBytes    int
	statsLatency durations // GET /stats/summary with apiListPods pods
}

// measureAPI runs a runner with its API on its own pods: the CPU it spends
// with apiScrapePods pods idle (cadvisor sampling every 10 s) and scraped
// every 10 s, then the latency of /pods with apiListPods pods. Everything
// it made is removed before it returns.
func measureAPI(ctx context.Context, bin string, window time.Duration) (res *apiResults, retErr error) {
	res = &apiResults{}
	cli, err := client.NewClientWithOpts(client.WithHost("unix://"+dockerSocket), client.WithAPIVersionNegotiation())
	if err != nil {
		return res, err
	}
	defer cli.Close()
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	runID := "rbench-api-" + hex.EncodeToString(id)
	dir, err := os.MkdirTemp("", "runner-bench-api-")
	if err != nil {
		return res, err
	}
	w := &world{
		bin: bin, dir: dir, instance: runID, bridge: apiBridge, cidr: apiCIDR, cli: cli,
		manifests: filepath.Join(dir, "manifests"), empty: filepath.Join(dir, "empty"),
		root: filepath.Join(dir, "root"), cniConf: filepath.Join(dir, "cni-conf"),
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		retErr = errors.Join(retErr, w.cleanup(cctx), os.RemoveAll(dir))
	}()
	for _, d := range []string{w.manifests, w.empty, w.root, w.cniConf} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return res, err
		}
	}
	port, err := freeTCPPort()
	if err != nil {
		return res, err
	}
	args := append(w.args(w.manifests, ""), "--read-only-port", strconv.Itoa(port))
	if w.proc, err = startRunner(bin, args, filepath.Join(dir, "runner-api.log")); err != nil {
		return res, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if _, err := w.proc.waitLog(ctx, "cadvisor started", time.Minute); err != nil {
		return res, err
	}

	logf("api: %d pods, then runner's CPU for %v idle and %v scraped every %v", apiScrapePods, window, window, apiScrapeEvery)
	if err := writeAPIPods(w, 0, apiScrapePods); err != nil {
		return res, err
	}
	if err := awaitAPIPods(ctx, base, apiScrapePods); err != nil {
		return res, err
	}
	pid := w.proc.pid()
	if res.idleCPU, err = cpuOver(ctx, pid, window, nil); err != nil {
		return res, err
	}
	res.idleRSS, _ = statusKiB(pid, "VmRSS")
	res.window = window
	scrape := func() error {
		n := 0
		for _, path := range []string{"/metrics", "/metrics/cadvisor"} {
			b, err := getBody(ctx, base+path)
			if err != nil {
				return err
			}
			n += len(b)
		}
		res.scrapeBytes = n
		res.scrapes++
		return nil
	}
	if res.scrapeCPU, err = cpuOver(ctx, pid, window, scrape); err != nil {
		return res, err
	}
	res.scrapeRSS, _ = statusKiB(pid, "VmRSS")

	logf("api: %d pods, then %d GET /pods", apiListPods, apiListGets)
	if err := writeAPIPods(w, apiScrapePods, apiListPods); err != nil {
		return res, err
	}
	if err := awaitAPIPods(ctx, base, apiListPods); err != nil {
		return res, err
	}
	for range apiListGets {
		t0 := time.Now()
		b, err := getBody(ctx, base+"/pods")
		if err != nil {
			return res, err
		}
		res.podsLatency = append(res.podsLatency, time.Since(t0))
		res.podsBytes = len(b)
	}
	for range 20 {
		t0 := time.Now()
		if _, err := getBody(ctx, base+"/stats/summary"); err != nil {
			return res, err
		}
		res.statsLatency = append(res.statsLatency, time.Since(t0))
	}
	res.measured = true

	logf("api: removing its %d pods", apiListPods)
	for i := range apiListPods {
		if err := w.removePod(apiPodName(i)); err != nil {
			return res, err
		}
	}
	if err := w.awaitNoContainers(ctx, 3*time.Minute); err != nil {
		return res, err
	}
	return res, w.proc.stop(30 * time.Second)
}

func apiPodName(i int) string { return fmt.Sprintf("api%03d", i) }

func writeAPIPods(w *world, from, to int) error {
	for i := from; i < to; i++ {
		if _, err := w.writePod(apiPodName(i), quietScript); err != nil {
			return err
		}
	}
	return nil
}

// awaitAPIPods waits until /pods lists n running pods.
func awaitAPIPods(ctx context.Context, base string, n int) error {
	deadline := time.Now().Add(4 * time.Minute)
	for {
		running := 0
		if b, err := getBody(ctx, base+"/pods"); err == nil {
			var list struct {
				Items []struct {
					Status struct {
						Phase string `json:"phase"`
					} `json:"status"`
				} `json:"items"`
			}
			if json.Unmarshal(b, &list) == nil {
				for _, p := range list.Items {
					if p.Status.Phase == "Running" {
						running++
					}
				}
			}
			if running >= n {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("api: %d of %d pods running after 4m", running, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// cpuOver is pid's CPU, % of one core, over window; every (nil: nothing)
// is called at its start and then every apiScrapeEvery within it.
func cpuOver(ctx context.Context, pid int, window time.Duration, every func() error) (float64, error) {
	c0, err := cpuTicks(pid)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	end := t0.Add(window)
	sleepUntil := func(t time.Time) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(t)):
			return nil
		}
	}
	for at := t0; every != nil && at.Before(end); at = at.Add(apiScrapeEvery) {
		if err := sleepUntil(at); err != nil {
			return 0, err
		}
		if err := every(); err != nil {
			return 0, err
		}
	}
	if err := sleepUntil(end); err != nil {
		return 0, err
	}
	c1, err := cpuTicks(pid)
	if err != nil {
		return 0, err
	}
	return float64(c1-c0) / clockTicks / time.Since(t0).Seconds() * 100, nil
}

func getBody(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, err
}

func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// apiRows are the API phase's figures.
func apiRows(r *apiResults) []row {
	if r == nil || !r.measured {
		return nil
	}
	kib := func(b int) string { return fmt.Sprintf("%.0f KiB", float64(b)/1024) }
	return []row{
		{measure: fmt.Sprintf("**API** GET /pods with %d pods (%s), p50 / p99 of %d", apiListPods, kib(r.podsBytes), len(r.podsLatency)),
			runner: ms(r.podsLatency.median()) + " / " + ms(r.podsLatency.quantile(0.99))},
		{measure: fmt.Sprintf("**API** GET /stats/summary with %d pods, p50 / p99 of %d", apiListPods, len(r.statsLatency)),
			runner: ms(r.statsLatency.median()) + " / " + ms(r.statsLatency.quantile(0.99))},
		{measure: fmt.Sprintf("**API** runner CPU with %d pods, API on (cadvisor sampling the root cgroup every 10 s), no client, %v", apiScrapePods, r.window.Round(time.Second)),
			runner: fmt.Sprintf("%.2f %% (RSS %.1f MiB)", r.idleCPU, float64(r.idleRSS)/1024)},
		{measure: fmt.Sprintf("**API** same, scraped every %v: /metrics + /metrics/cadvisor (%s a scrape, %d scrapes)", apiScrapeEvery, kib(r.scrapeBytes), r.scrapes),
			runner: fmt.Sprintf("%.2f %% (RSS %.1f MiB)", r.scrapeCPU, float64(r.scrapeRSS)/1024),
			target: "≤ 6 % (the kubelet's idle budget, 0.06 core at 0 pods)", met: yesNo(r.scrapeCPU <= 6)},
		{measure: "  ↳ the scrapes' own cost (scraped − idle)", runner: fmt.Sprintf("%.2f %%", r.scrapeCPU-r.idleCPU)},
	}
}

// runAPI runs the API phase within o.timeout.
func runAPI(ctx context.Context, o options) (*apiResults, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	bin, err := filepath.Abs(o.runnerBin)
	if err != nil {
		return nil, err
	}
	return measureAPI(ctx, bin, o.apiWindow)
}

// apiOnly is --api-only: the API phase alone, its rows printed.
func apiOnly(ctx context.Context, o options) int {
	res, err := runAPI(ctx, o)
	fmt.Print(table(apiRows(res)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: api phase:", err)
		return 1
	}
	return 0
}
