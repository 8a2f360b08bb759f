package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runner-dev/runner/internal/testenv"
)

// prometheusBinary is Debian's prometheus: $RUNNER_PROMETHEUS, else on the
// PATH, else where testdata/setup.sh unpacks it.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("RUNNER_PROMETHEUS"); p != "" {
		return p
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	p := "/usr/local/lib/runner-test/prometheus/usr/bin/prometheus"
	_, err := os.Stat(p)
	testenv.Need(t, "Debian's prometheus (testdata/setup.sh unpacks it)", err)
	return p
}

// TestPrometheusScrapesRunner: a real Prometheus scrapes /metrics and
// /metrics/cadvisor without errors and answers a query on runner's series.
func TestPrometheusScrapesRunner(t *testing.T) {
	h := newHarness(t)
	prom := prometheusBinary(t)
	h.writeManifest("web.yaml", pod("web", "Always", sleeper))
	_, a, _ := h.startWithAPI()

	dir := t.TempDir()
	target := "127.0.0.1:" + strconv.Itoa(a.port)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: runner
    metrics_path: /metrics
    static_configs: [{targets: [%q]}]
  - job_name: runner-cadvisor
    metrics_path: /metrics/cadvisor
    static_configs: [{targets: [%q]}]
`, target, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	webPort := freePort(t)
	cmd := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(webPort))
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	promURL := "http://127.0.0.1:" + strconv.Itoa(webPort)

	var targets string
	testenv.Eventually(t, 90*time.Second, "both targets up with no scrape error", func() bool {
		up, desc, err := targetsUp(promURL)
		targets = desc
		if err != nil {
			return false
		}
		return up == 2
	})
	t.Logf("targets: %s", targets)

	var value float64
	testenv.Eventually(t, 30*time.Second, "a query on kubelet_running_pods", func() bool {
		v, err := queryScalar(promURL, `kubelet_running_pods{job="runner"}`)
		value = v
		return err == nil && v >= 1
	})
	if value != 1 {
		t.Errorf("kubelet_running_pods = %v, want 1", value)
	}
	if v, err := queryScalar(promURL, `count(container_memory_working_set_bytes{job="runner-cadvisor",pod="web-e2e",container="main"})`); err != nil || v != 1 {
		t.Errorf("cadvisor series of web's container in Prometheus: %v %v", v, err)
	}
}

// targetsUp counts the active targets whose health is "up" with no error,
// and describes them.
func targetsUp(promURL string) (int, string, error) {
	var r struct {
		Data struct {
			ActiveTargets []struct {
				ScrapePool string `json:"scrapePool"`
				Health     string `json:"health"`
				LastError  string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := getJSON(promURL+"/api/v1/targets", &r); err != nil {
		return 0, "", err
	}
	up := 0
	var desc []string
	for _, tg := range r.Data.ActiveTargets {
		desc = append(desc, fmt.Sprintf("%s=%s %q", tg.ScrapePool, tg.Health, tg.LastError))
		if tg.Health == "up" && tg.LastError == "" {
			up++
		}
	}
	return up, strings.Join(desc, ", "), nil
}

// queryScalar runs an instant query that has one sample.
func queryScalar(promURL, q string) (float64, error) {
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(promURL+"/api/v1/query?query="+url.QueryEscape(q), &r); err != nil {
		return 0, err
	}
	if len(r.Data.Result) != 1 {
		return 0, fmt.Errorf("%d results", len(r.Data.Result))
	}
	s, ok := r.Data.Result[0].Value[1].(string)
	if !ok {
		return 0, errors.New("no value")
	}
	return strconv.ParseFloat(s, 64)
}

func getJSON(u string, v any) error {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
