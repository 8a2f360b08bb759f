package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	v1 "k8s.io/api/core/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/runner-dev/runner/internal/testenv"
)

// The pods of the API test: one of each state /pods and `runner pods` must
// tell apart.
const noImagePod = `apiVersion: v1
kind: Pod
metadata:
  name: noimage
spec:
  containers:
  - name: main
    image: runner.local/not-there:1
    imagePullPolicy: Never
`

func writeStatePods(h *harness) {
	h.writeManifest("web.yaml", pod("web", "Always", "echo web up; "+sleeper))
	h.writeManifest("crash.yaml", pod("crash", "Always", "echo attempt; exit 1"))
	// stdout only: Docker orders a container's two streams as it reads
	// them, so the order of stdout and stderr lines is not fixed.
	h.writeManifest("done.yaml", pod("done", "Never", "echo line one; echo line two; echo line three"))
	h.writeManifest("noimage.yaml", noImagePod)
}

// statesReached: web runs, crash has restarted, done succeeded, noimage
// waits for its image.
func statesReached(pods map[string]*v1.Pod) bool {
	web, crash, done, noimage := pods["web-e2e"], pods["crash-e2e"], pods["done-e2e"], pods["noimage-e2e"]
	if web == nil || crash == nil || done == nil || noimage == nil {
		return false
	}
	return web.Status.Phase == v1.PodRunning && web.Status.PodIP != "" &&
		len(crash.Status.ContainerStatuses) == 1 && crash.Status.ContainerStatuses[0].RestartCount >= 1 &&
		done.Status.Phase == v1.PodSucceeded &&
		len(noimage.Status.ContainerStatuses) == 1 && noimage.Status.ContainerStatuses[0].State.Waiting != nil &&
		noimage.Status.ContainerStatuses[0].State.Waiting.Reason == "ErrImageNeverPull"
}

func TestAPIServesPodsMetricsStatsAndLogs(t *testing.T) {
	h := newHarness(t)
	writeStatePods(h)
	p, a, healthz := h.startWithAPI()
	testenv.Eventually(t, 90*time.Second, "web running, crash restarted, done succeeded, noimage waiting", func() bool {
		return statesReached(a.pods())
	})
	pods := a.pods()

	t.Run("pods", func(t *testing.T) {
		web := pods["web-e2e"]
		s := web.Status
		if s.HostIP == "" || len(s.HostIPs) == 0 || s.StartTime == nil || s.QOSClass != v1.PodQOSBestEffort || len(s.PodIPs) != 1 {
			t.Errorf("web status: %+v", s)
		}
		cs := s.ContainerStatuses[0]
		if cs.State.Running == nil || !cs.Ready || cs.Started == nil || !*cs.Started || !strings.HasPrefix(cs.ContainerID, "docker://") ||
			!strings.HasPrefix(cs.ImageID, "sha256:") || cs.Image != testImage {
			t.Errorf("web container: %+v", cs)
		}
		for _, want := range []v1.PodConditionType{v1.PodReady, v1.ContainersReady, v1.PodInitialized, v1.PodScheduled} {
			found := false
			for _, c := range s.Conditions {
				found = found || (c.Type == want && c.Status == v1.ConditionTrue)
			}
			if !found {
				t.Errorf("web: condition %s is not True: %+v", want, s.Conditions)
			}
		}
		crash := pods["crash-e2e"].Status.ContainerStatuses[0]
		if last := crash.LastTerminationState.Terminated; last == nil || last.ExitCode != 1 || last.Reason != "Error" {
			t.Errorf("crash last state: %+v", crash.LastTerminationState)
		}
		done := pods["done-e2e"].Status.ContainerStatuses[0]
		if term := done.State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
			t.Errorf("done state: %+v", done.State)
		}
	})

	t.Run("write methods refused", func(t *testing.T) {
		for _, path := range []string{"/pods", "/healthz", "/metrics", "/metrics/cadvisor", "/stats/summary", "/events", "/node",
			"/containerLogs/default/web-e2e/main"} {
			for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
				if code, _ := httpDo(t, m, a.base+path); code != http.StatusMethodNotAllowed {
					t.Errorf("%s %s: %d, want 405", m, path, code)
				}
			}
		}
		if code, body := a.get("/containerLogs/default/..%2F..%2Fetc/main"); code != http.StatusBadRequest {
			t.Errorf("traversal: %d %s", code, body)
		}
	})

	t.Run("healthz", func(t *testing.T) {
		if code, body := a.get("/healthz?verbose"); code != 200 || !strings.Contains(string(body), "[+]docker ok") {
			t.Errorf("/healthz: %d %s", code, body)
		}
		if code, body := httpDo(t, http.MethodGet, healthz+"/healthz"); code != 200 || string(body) != "ok" {
			t.Errorf("healthz port: %d %q", code, body)
		}
		if code, _ := httpDo(t, http.MethodGet, healthz+"/pods"); code != http.StatusNotFound {
			t.Errorf("healthz port serves /pods: %d", code)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		var fams map[string]*dto.MetricFamily
		testenv.Eventually(t, 30*time.Second, "a pod start and worker durations in /metrics", func() bool {
			code, body := a.get("/metrics")
			if code != 200 {
				return false
			}
			var err error
			fams, err = parseMetrics(body)
			if err != nil {
				t.Fatalf("/metrics does not parse: %v", err)
			}
			return sum(fams, "kubelet_pod_start_duration_seconds", nil) >= 1
		})
		for name, check := range map[string]func(float64) bool{
			"kubelet_running_pods":                        func(v float64) bool { return v >= 3 && v <= 4 },
			"kubelet_pod_start_duration_seconds":          func(v float64) bool { return v >= 1 },
			"kubelet_pod_worker_duration_seconds":         func(v float64) bool { return v >= 4 },
			"kubelet_started_containers_total":            func(v float64) bool { return v >= 4 },
			"kubelet_started_pods_total":                  func(v float64) bool { return v >= 4 },
			"kubelet_runtime_operations_total":            func(v float64) bool { return v >= 10 },
			"kubelet_runtime_operations_duration_seconds": func(v float64) bool { return v >= 10 },
			"runner_desired_pods":                         func(v float64) bool { return v == 4 },
			"runner_manifest_problems":                    func(v float64) bool { return v == 0 },
			"go_goroutines":                               func(v float64) bool { return v > 10 },
			"process_resident_memory_bytes":               func(v float64) bool { return v > 1<<20 },
		} {
			if v := sum(fams, name, nil); !check(v) {
				t.Errorf("%s = %v: implausible", name, v)
			}
		}
		if v := sum(fams, "kubelet_running_containers", map[string]string{"container_state": "running"}); v < 1 {
			t.Errorf("running containers: %v", v)
		}
		if v := sum(fams, "kubelet_runtime_operations_total", map[string]string{"operation_type": "create_container"}); v < 6 {
			t.Errorf("create_container operations: %v (4 sandboxes, 3 containers at least)", v)
		}
	})

	t.Run("stats", func(t *testing.T) {
		var summary statsapi.Summary
		testenv.Eventually(t, 60*time.Second, "cadvisor's stats of the web pod", func() bool {
			code, body := a.get("/stats/summary")
			if code != 200 {
				return false
			}
			if err := json.Unmarshal(body, &summary); err != nil {
				t.Fatalf("/stats/summary: %v", err)
			}
			for _, ps := range summary.Pods {
				if ps.PodRef.Name == "web-e2e" && ps.Memory != nil && len(ps.Containers) == 1 && ps.Containers[0].Memory != nil {
					return *ps.Containers[0].Memory.WorkingSetBytes > 0
				}
			}
			return false
		})
		// The writable layer and the log are walked in the background.
		testenv.Eventually(t, 30*time.Second, "the web container's rootfs and logs measured", func() bool {
			code, body := a.get("/stats/summary")
			var s statsapi.Summary
			if code != 200 || json.Unmarshal(body, &s) != nil {
				return false
			}
			for _, ps := range s.Pods {
				if ps.PodRef.Name == "web-e2e" && len(ps.Containers) == 1 {
					c := ps.Containers[0]
					return c.Rootfs != nil && c.Logs != nil && *c.Logs.UsedBytes > 0 && ps.EphemeralStorage != nil
				}
			}
			return false
		})
		n := summary.Node
		if n.NodeName != "e2e" || n.Memory == nil || *n.Memory.WorkingSetBytes == 0 || n.Fs == nil || *n.Fs.CapacityBytes == 0 ||
			n.Runtime == nil || n.Runtime.ImageFs == nil || *n.Runtime.ImageFs.CapacityBytes == 0 || n.Rlimit == nil {
			t.Errorf("node stats: %+v", n)
		}
		code, body := a.get("/metrics/cadvisor")
		fams, err := parseMetrics(body)
		if code != 200 || err != nil {
			t.Fatalf("/metrics/cadvisor: %d %v", code, err)
		}
		if v := sum(fams, "container_memory_working_set_bytes", map[string]string{"pod": "web-e2e", "container": "main", "namespace": "default"}); v <= 0 {
			t.Errorf("cadvisor's working set of web's container: %v", v)
		}
	})

	cliFlags := []string{"--read-only-port", strconv.Itoa(a.port), "--instance-id", h.instance, "--node-name", "e2e", "--root-dir", h.root}
	t.Run("runner pods and logs", func(t *testing.T) {
		out, errOut, code := cli(t, append([]string{"pods"}, cliFlags...)...)
		if code != 0 || errOut != "" {
			t.Fatalf("runner pods: %d %s", code, errOut)
		}
		checkGolden(t, "pods.txt", stablePodRows(t, out))
		out, _, code = cli(t, append([]string{"logs", "done"}, cliFlags...)...)
		if code != 0 {
			t.Fatalf("runner logs done: %d", code)
		}
		checkGolden(t, "logs-done.txt", out)
		if out, _, _ := cli(t, append([]string{"logs", "default/done-e2e", "--tail", "1"}, cliFlags...)...); out != "line three\n" {
			t.Errorf("--tail 1: %q", out)
		}
		if out, _, _ := cli(t, append([]string{"logs", "crash", "--previous"}, cliFlags...)...); out != "attempt\n" {
			t.Errorf("--previous: %q", out)
		}
		out, _, code = cli(t, append([]string{"describe", "web"}, cliFlags...)...)
		for _, want := range []string{"Name:         web-e2e", "Status:       Running", "State:          Running", "Normal  Started"} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("runner describe web: no %q in\n%s", want, out)
			}
		}
	})

	// With runner stopped (its pods keep running), the commands read
	// Docker's labels, and say so.
	p.stop(t)
	t.Run("fallback to Docker", func(t *testing.T) {
		out, errOut, code := cli(t, append([]string{"pods"}, cliFlags...)...)
		if code != 0 || !strings.Contains(errOut, "runner is not answering") || !strings.Contains(errOut, "Docker's labels") {
			t.Fatalf("runner pods without runner: %d, stderr %q", code, errOut)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^default\s+web-e2e\s+1/1\s+Running\s+0\s`),
			regexp.MustCompile(`(?m)^default\s+done-e2e\s+0/1\s+Completed\s+0\s`),
			regexp.MustCompile(`(?m)^default\s+crash-e2e\s+\S+\s+\S+\s+[1-9]`),
		} {
			if !want.MatchString(out) {
				t.Errorf("runner pods without runner: no line like %s in\n%s", want, out)
			}
		}
		out, _, code = cli(t, append([]string{"logs", "done"}, cliFlags...)...)
		if code != 0 {
			t.Fatalf("runner logs without runner: %d", code)
		}
		checkGolden(t, "logs-done.txt", out)
	})
}

// stablePodRows is `runner pods`' output without the crash-looping pod
// (whose state and width move), columns two spaces apart, AGE and IP
// masked: what is left is what kubectl would print for those states.
func stablePodRows(t *testing.T, out string) string {
	t.Helper()
	var b strings.Builder
	gap := regexp.MustCompile(`\s{2,}`)
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.Contains(line, "crash-e2e") {
			continue
		}
		cols := gap.Split(strings.TrimSpace(line), -1)
		if len(cols) == 7 && cols[0] != "NAMESPACE" {
			// A finished pod's IP goes with its sandbox, at a time of
			// its own.
			cols[5], cols[6] = "<age>", "<ip>"
		}
		b.WriteString(strings.Join(cols, "  ") + "\n")
	}
	return b.String()
}

// sum adds up a family's samples (counters, gauges; a histogram's count)
// whose labels include match.
func sum(fams map[string]*dto.MetricFamily, name string, match map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	total := 0.0
outer:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range match {
			if have[k] != v {
				continue outer
			}
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			total += m.Untyped.GetValue()
		}
	}
	return total
}

func TestHealthzFailsWhenDockerIsUnreachable(t *testing.T) {
	h := newHarness(t)
	proxy := newDockerProxy(t)
	_, a, healthz := h.startWithAPI("--docker-endpoint", "unix://"+proxy.path)
	testenv.Eventually(t, 60*time.Second, "/healthz ok", func() bool {
		code, _ := a.get("/healthz")
		return code == 200
	})
	proxy.cut()
	for _, url := range []string{a.base + "/healthz", healthz + "/healthz"} {
		var body []byte
		testenv.Eventually(t, 30*time.Second, url+" failing", func() bool {
			var code int
			code, body = httpDo(t, http.MethodGet, url)
			return code == http.StatusInternalServerError
		})
		if !strings.Contains(string(body), "[-]docker failed") || !strings.Contains(string(body), "[+]loop ok") {
			t.Errorf("%s: the failing check is not named:\n%s", url, body)
		}
	}
}

// parseMetrics parses Prometheus' text format.
func parseMetrics(body []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(bytes.NewReader(body))
}
