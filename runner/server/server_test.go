package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/runner-dev/runner/runner"
	"github.com/runner-dev/runner/runner/runtime"
	"github.com/runner-dev/runner/runner/runtime/fake"
)

type podList []*v1.Pod

func (l podList) List() []*v1.Pod { return l }

// world is a server over a fake engine with one pod whose container "app"
// has a current and a previous instance, each with its own log.
func world(t *testing.T, checks ...Check) (*httptest.Server, *fake.Runtime) {
	t.Helper()
	f := fake.New()
	ctx := context.Background()
	if err := f.ImportImage(ctx, "img:1", strings.NewReader(""), nil); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, n := range []string{"old", "cur"} {
		id, err := f.CreateContainer(ctx, runtime.ContainerSpec{Name: n, Image: "img:1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.WriteLog(id, "log of "+n+"\n", "err of "+n+"\n"); err != nil {
			t.Fatal(err)
		}
		ids[n] = id
	}
	pod := &v1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "web-node", Namespace: "default", UID: "u1"}}
	pod.Status.Phase = v1.PodRunning
	pod.Status.PodIP = "10.218.0.5"
	pod.Status.ContainerStatuses = []v1.ContainerStatus{{
		Name: "app", ContainerID: "docker://" + ids["cur"], RestartCount: 1,
		State:                v1.ContainerState{Running: &v1.ContainerStateRunning{}},
		LastTerminationState: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ContainerID: "docker://" + ids["old"], ExitCode: 1}},
	}, {Name: "fresh", State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "test_total", Help: "a test counter"}))
	s := New(Config{
		Pods:    podList{pod},
		Events:  func() []runner.Event { return []runner.Event{{Reason: runner.ReasonStarted, Pod: "default/web-node"}} },
		Logs:    f,
		Checks:  checks,
		Metrics: reg,
		Stats: func(context.Context) (*statsapi.Summary, error) {
			return &statsapi.Summary{Node: statsapi.NodeStats{NodeName: "node"}}, nil
		},
		Node: func(context.Context) (*v1.Node, error) { return nil, ErrNotReady },
	})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, f
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var endpoints = []string{"/pods", "/healthz", "/events", "/node", "/stats/summary", "/metrics", "/metrics/cadvisor",
	"/containerLogs/default/web-node/app"}

func TestWriteMethodsRefused(t *testing.T) {
	ts, _ := world(t)
	for _, path := range endpoints {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader("{}"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: got %d, want 405", method, path, resp.StatusCode)
			}
		}
	}
	if code, _ := get(t, ts.URL+"/exec/default/web-node/app"); code != http.StatusNotFound {
		t.Errorf("/exec: got %d, want 404", code)
	}
}

func TestPodsAndEvents(t *testing.T) {
	ts, _ := world(t)
	code, body := get(t, ts.URL+"/pods")
	var list v1.PodList
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil {
		t.Fatalf("/pods: %d %v\n%s", code, err, body)
	}
	if list.Kind != "PodList" || len(list.Items) != 1 || list.Items[0].Status.PodIP != "10.218.0.5" {
		t.Errorf("/pods: %+v", list)
	}
	code, body = get(t, ts.URL+"/events")
	var evs EventList
	if err := json.Unmarshal([]byte(body), &evs); code != 200 || err != nil || len(evs.Items) != 1 || evs.Items[0].Reason != "Started" {
		t.Errorf("/events: %d %v %s", code, err, body)
	}
	if code, body := get(t, ts.URL+"/node"); code != http.StatusServiceUnavailable {
		t.Errorf("/node not ready: %d %s", code, body)
	}
	if code, body := get(t, ts.URL+"/metrics"); code != 200 || !strings.Contains(body, "test_total 0") {
		t.Errorf("/metrics: %d %s", code, body)
	}
	if code, _ := get(t, ts.URL+"/metrics/cadvisor"); code != http.StatusServiceUnavailable {
		t.Errorf("/metrics/cadvisor without cadvisor: %d", code)
	}
	if code, body := get(t, ts.URL+"/stats/summary?only_cpu_and_memory=true"); code != 200 || !strings.Contains(body, `"nodeName":"node"`) {
		t.Errorf("/stats/summary: %d %s", code, body)
	}
	if code, _ := get(t, ts.URL+"/stats/summary?bogus=1"); code != http.StatusBadRequest {
		t.Errorf("/stats/summary with an unknown parameter: %d", code)
	}
}

func TestHealthz(t *testing.T) {
	ok := Check{Name: "loop", Check: func(context.Context) error { return nil }}
	bad := Check{Name: "docker", Check: func(context.Context) error { return errors.New("connection refused") }}
	ts, _ := world(t, ok)
	if code, body := get(t, ts.URL+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("healthy: %d %q", code, body)
	}
	if code, body := get(t, ts.URL+"/healthz?verbose"); code != 200 || !strings.Contains(body, "[+]loop ok") {
		t.Errorf("healthy, verbose: %d %q", code, body)
	}
	ts, _ = world(t, ok, bad)
	code, body := get(t, ts.URL+"/healthz")
	if code != 500 || !strings.Contains(body, "[-]docker failed: connection refused") || !strings.Contains(body, "[+]loop ok") {
		t.Errorf("unhealthy: %d %q", code, body)
	}
	hang := Check{Name: "loop", Check: func(ctx context.Context) error { <-ctx.Done(); select {} }}
	s := New(Config{Checks: []Check{hang}, CheckTimeout: 10 * 1e6})
	rec := httptest.NewRecorder()
	s.HealthHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "[-]loop failed: no answer within 10ms") {
		t.Errorf("a check that hangs: %d %q", rec.Code, rec.Body.String())
	}
}

func TestContainerLogs(t *testing.T) {
	ts, _ := world(t)
	for _, c := range []struct {
		path string
		code int
		want string
	}{
		{"/containerLogs/default/web-node/app", 200, "log of cur\nerr of cur\n"},
		{"/containerLogs/default/web-node/app?previous=true", 200, "log of old\nerr of old\n"},
		{"/containerLogs/default/web-node/app?tailLines=1", 200, "err of cur\n"},
		{"/containerLogs/default/web-node/fresh", 404, "has not been created yet"},
		{"/containerLogs/default/web-node/fresh?previous=true", 404, "previous terminated container"},
		{"/containerLogs/default/nope/app", 404, "pod default/nope not found"},
		{"/containerLogs/default/web-node/app?limitBytes=5", 400, "unknown parameter"},
		{"/containerLogs/default/web-node/app?tailLines=-2", 400, "tailLines"},
		// Path traversal: never a lookup.
		{"/containerLogs/default/..%2F..%2Fetc/app", 400, "invalid pod name"},
		{"/containerLogs/default/web-node/..%2f", 400, "invalid container name"},
		{"/containerLogs/default/web-node/..", 404, "not found"}, // the mux cleans it to a path it does not serve
		{"/containerLogs/%2E%2E/web-node/app", 400, "invalid namespace"},
		{"/containerLogs/default/web-node%2Fapp/app", 400, "invalid pod name"},
	} {
		code, body := get(t, ts.URL+c.path)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: got %d %q, want %d %q", c.path, code, body, c.code, c.want)
		}
	}
	// A path that cleans to another one is redirected, never served as is.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(ts.URL + "/containerLogs/default/../../pods")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 != 3 || loc != "/pods" {
		t.Errorf("/containerLogs/default/../../pods: got %d to %q, want a redirect to /pods", resp.StatusCode, loc)
	}
}
